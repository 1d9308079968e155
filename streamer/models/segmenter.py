"""pyannote segmentation-3.0 (exported to ONNX) on onnxruntime: per-frame powerset scores of up
to three local speakers in 10 s windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from streamer.core.diarization import FrameGrid


class PyannoteSegmenter:
    def __init__(self, model_file: Path, session_options: ort.SessionOptions, providers: list[str]):
        self._session = ort.InferenceSession(
            str(model_file), sess_options=session_options, providers=providers
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        self.sample_rate = int(meta["sample_rate"])
        self.window_samples = int(meta["window_size"])
        self.grid = FrameGrid(
            sample_rate=self.sample_rate,
            step_samples=int(meta["receptive_field_shift"]),
            receptive_field_samples=int(meta["receptive_field_size"]),
        )
        self._input = self._session.get_inputs()[0].name

    def log_probs(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(b, window_samples) -> (b, frames, 7) powerset log-probabilities."""
        (out,) = self._session.run(None, {self._input: windows[:, None, :].astype(np.float32)})
        return np.asarray(out, dtype=np.float32)
