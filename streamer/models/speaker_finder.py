"""The model-heavy half of diarization, shared by files and streams: segmentation-3.0 on
10 s windows, then a CAM++ embedding of each window's local speakers."""

from __future__ import annotations

import numpy as np

from streamer.core.arrays import Float32Array, FloatArray
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.diarization import (
    FrameGrid,
    LocalSpeakers,
    chunk_starts,
    embedding_frames,
    frames_to_sample_spans,
    powerset_to_multilabel,
)
from streamer.models.embedder import MIN_EMBEDDING_SAMPLES, CamPlusPlusEmbedder
from streamer.models.segmenter import PyannoteSegmenter

SEGMENTATION_BATCH = 8
SEGMENTATION_STEP_S = 2.5
"""Hop between 10 s segmentation windows: smaller sees each moment more often, costs more."""
MIN_EMBEDDING_SPEECH_S = 0.3
"""A local speaker with less clean speech than this in a window gets no embedding and drops
out of that window."""


class LocalSpeakerFinder:
    def __init__(
        self,
        segmenter: PyannoteSegmenter,
        embedder: CamPlusPlusEmbedder,
        step_s: float = SEGMENTATION_STEP_S,
        min_embedding_speech_s: float = MIN_EMBEDDING_SPEECH_S,
    ) -> None:
        self.segmenter = segmenter
        self.embedder = embedder
        self.step_s = step_s
        self.min_embedding_speech_s = min_embedding_speech_s

    @property
    def grid(self) -> FrameGrid:
        return self.segmenter.grid

    def find(self, audio: Float32Array) -> LocalSpeakers:
        """Local speakers of 16 kHz `audio`: activity per window, an embedding per speaker."""
        segmenter = self.segmenter
        window = segmenter.window_samples
        step = max(1, round(self.step_s * MODEL_SAMPLE_RATE))
        starts = chunk_starts(len(audio), window, step)
        padded = np.pad(audio, (0, max(0, starts[-1] + window - len(audio))))
        windows = np.stack([padded[s : s + window] for s in starts])
        log_probs = np.concatenate(
            [
                segmenter.log_probs(windows[i : i + SEGMENTATION_BATCH])
                for i in range(0, len(windows), SEGMENTATION_BATCH)
            ]
        )
        activity = powerset_to_multilabel(log_probs.astype(np.float64))
        owners, clips = self._embedding_clips(padded, activity, starts)
        embeddings = self.embedder.embed(clips) if clips else np.zeros((0, self.embedder.dim))
        return LocalSpeakers(
            activity=activity,
            starts=starts,
            owners=owners,
            embeddings=embeddings,
            speech_s=np.array([len(c) / MODEL_SAMPLE_RATE for c in clips], dtype=np.float64),
            window_ends=[len(audio)] * len(starts),
        )

    def _embedding_clips(
        self, padded: Float32Array, activity: FloatArray, starts: list[int]
    ) -> tuple[list[tuple[int, int]], list[Float32Array]]:
        """The audio of each (window, local speaker) with enough clean speech to embed."""
        min_samples = max(
            MIN_EMBEDDING_SAMPLES, round(self.min_embedding_speech_s * MODEL_SAMPLE_RATE)
        )
        owners: list[tuple[int, int]] = []
        clips: list[Float32Array] = []
        for chunk, start in enumerate(starts):
            for local, frames in enumerate(embedding_frames(activity[chunk])):
                spans = frames_to_sample_spans(frames, self.grid, start)
                clip = np.concatenate([padded[a:b] for a, b in spans]) if spans else padded[:0]
                if len(clip) >= min_samples:
                    owners.append((chunk, local))
                    clips.append(clip)
        return owners, clips
