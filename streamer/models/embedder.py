"""CAM++ speaker embeddings (exported to ONNX) through sherpa-onnx, which computes the fbank
features the model was trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import sherpa_onnx

from streamer.core.audio import MODEL_SAMPLE_RATE

MIN_EMBEDDING_SAMPLES = MODEL_SAMPLE_RATE // 4
"""Shorter audio gives fbank too few frames to say anything about a voice."""


class CamPlusPlusEmbedder:
    def __init__(self, model_file: Path, threads: int, provider: str):
        config = sherpa_onnx.SpeakerEmbeddingExtractorConfig(
            model=str(model_file), num_threads=threads, provider=provider
        )
        if not config.validate():
            raise RuntimeError(f"sherpa-onnx rejected the embedding model {model_file}")
        self._extractor = sherpa_onnx.SpeakerEmbeddingExtractor(config)
        self.dim = int(self._extractor.dim)

    def embed(self, clips: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
        """n clips of 16 kHz audio (each >= MIN_EMBEDDING_SAMPLES) -> (n, dim) embeddings."""
        out = np.zeros((len(clips), self.dim), dtype=np.float64)
        for index, clip in enumerate(clips):
            stream = self._extractor.create_stream()
            stream.accept_waveform(MODEL_SAMPLE_RATE, clip.astype(np.float32))
            stream.input_finished()
            out[index] = np.asarray(self._extractor.compute(stream), dtype=np.float64)
        return out
