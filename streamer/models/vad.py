"""Silero VAD on onnxruntime: speech probability per 32 ms frame, with recurrent state kept per
caller so one loaded model serves many streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from streamer.core.audio import MODEL_SAMPLE_RATE, VAD_FRAME_SAMPLES
from streamer.core.audio_source import AudioSource, as_source, read_padded

FILE_CHUNK_S = 600.0
"""Audio `file_probabilities` reads at a time: a long file is never held whole."""
_CONTEXT_SAMPLES = 64
"""Silero v5+ expects the last 64 samples of the previous frame before each frame."""


@dataclass(slots=True)
class VadState:
    """Recurrent state of one audio stream."""

    rnn: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((2, 1, 128), dtype=np.float32)
    )
    context: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)
    )


class SileroVad:
    frame_samples = VAD_FRAME_SAMPLES

    def __init__(self, model_file: Path, session_options: ort.SessionOptions, providers: list[str]):
        self._session = ort.InferenceSession(
            str(model_file), sess_options=session_options, providers=providers
        )
        self._sample_rate = np.array(MODEL_SAMPLE_RATE, dtype=np.int64)

    def probabilities(
        self, samples: npt.NDArray[np.float32], state: VadState
    ) -> npt.NDArray[np.float32]:
        """(n,) 16 kHz samples, n a multiple of 512 -> (n // 512,) speech probabilities."""
        if len(samples) % VAD_FRAME_SAMPLES:
            raise ValueError("VAD input must be whole 512-sample frames")
        frames = samples.reshape(-1, VAD_FRAME_SAMPLES)
        out = np.empty(len(frames), dtype=np.float32)
        for index, frame in enumerate(frames):
            window = np.concatenate((state.context, frame))[None, :]
            prob, state.rnn = self._session.run(
                None, {"input": window, "state": state.rnn, "sr": self._sample_rate}
            )
            state.context = frame[-_CONTEXT_SAMPLES:]
            out[index] = prob.item()
        return out

    def file_probabilities(
        self,
        audio: npt.NDArray[np.float32] | AudioSource,
        progress: Callable[[float], None] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Whole-file probabilities; the tail is zero-padded to a whole frame. Read
        `FILE_CHUNK_S` at a time with the state carried over (the same as reading it whole),
        telling `progress` the share done after each."""
        source = as_source(audio)
        total = source.num_samples + (-source.num_samples % VAD_FRAME_SAMPLES)
        chunk = round(FILE_CHUNK_S * MODEL_SAMPLE_RATE) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
        state = VadState()
        probs = []
        for start in range(0, total, chunk):
            samples = read_padded(source, start, min(start + chunk, total))
            probs.append(self.probabilities(samples.astype(np.float32), state))
            if progress is not None:
                progress(min(start + chunk, total) / total)
        return np.concatenate(probs) if probs else np.zeros(0, dtype=np.float32)
