"""The reference point: sherpa-onnx's offline speaker diarization with the same segmentation and
embedding models (threshold and durations as in the dev set's README)."""

from __future__ import annotations

from pathlib import Path

import sherpa_onnx

from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.words import SpeakerTurn


class SherpaBaseline:
    def __init__(self, segmentation_model: Path, embedding_model: Path, threads: int) -> None:
        config = sherpa_onnx.OfflineSpeakerDiarizationConfig(
            segmentation=sherpa_onnx.OfflineSpeakerSegmentationModelConfig(
                pyannote=sherpa_onnx.OfflineSpeakerSegmentationPyannoteModelConfig(
                    model=str(segmentation_model)
                ),
                num_threads=threads,
            ),
            embedding=sherpa_onnx.SpeakerEmbeddingExtractorConfig(
                model=str(embedding_model), num_threads=threads
            ),
            clustering=sherpa_onnx.FastClusteringConfig(num_clusters=-1, threshold=0.5),
            min_duration_on=0.3,
            min_duration_off=0.5,
        )
        if not config.validate():
            raise RuntimeError("sherpa-onnx rejected the baseline diarization config")
        self._diarizer = sherpa_onnx.OfflineSpeakerDiarization(config)
        if self._diarizer.sample_rate != MODEL_SAMPLE_RATE:
            raise RuntimeError("baseline segmentation model is not 16 kHz")

    def turns(self, audio: Float32Array) -> tuple[SpeakerTurn, ...]:
        result = self._diarizer.process(audio).sort_by_start_time()
        return tuple(SpeakerTurn(speaker=s.speaker, start_s=s.start, end_s=s.end) for s in result)
