"""The model-heavy half of diarization, shared by files and streams: segmentation-3.0 on
10 s windows, then a CAM++ embedding of each window's local speakers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from streamer.core.arrays import Float32Array, FloatArray
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.audio_source import AudioSource, as_source, read_padded
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

    def find(
        self, audio: Float32Array | AudioSource, starts: list[int] | None = None
    ) -> LocalSpeakers:
        """Local speakers of 16 kHz `audio`: activity per window, an embedding per speaker;
        the windows at `starts` (samples), or windows covering all of it. Read a batch of
        windows at a time, so a long file is never held whole."""
        source = as_source(audio)
        window = self.segmenter.window_samples
        if starts is None:
            step = max(1, round(self.step_s * MODEL_SAMPLE_RATE))
            starts = chunk_starts(source.num_samples, window, step)
        activities: list[FloatArray] = []
        owners: list[tuple[int, int]] = []
        embeddings: list[FloatArray] = []
        speech_s: list[float] = []
        for first in range(0, len(starts), SEGMENTATION_BATCH):
            batch = starts[first : first + SEGMENTATION_BATCH]
            windows = np.stack([read_padded(source, s, s + window) for s in batch])
            activity = powerset_to_multilabel(self.segmenter.log_probs(windows).astype(np.float64))
            clips: list[Float32Array] = []
            for chunk, start in enumerate(batch, start=first):
                for local, clip in self._embedding_clips(source, activity[chunk - first], start):
                    owners.append((chunk, local))
                    clips.append(clip)
                    speech_s.append(len(clip) / MODEL_SAMPLE_RATE)
            activities.append(activity)
            if clips:
                embeddings.append(self.embedder.embed(clips))
        return LocalSpeakers(
            activity=np.concatenate(activities),
            starts=list(starts),
            owners=owners,
            embeddings=(
                np.concatenate(embeddings) if embeddings else np.zeros((0, self.embedder.dim))
            ),
            speech_s=np.array(speech_s, dtype=np.float64),
            window_ends=[source.num_samples] * len(starts),
        )

    def _embedding_clips(
        self, source: AudioSource, activity: FloatArray, start: int
    ) -> Iterator[tuple[int, Float32Array]]:
        """The audio of each local speaker of the window at `start` with enough clean speech
        to embed."""
        min_samples = max(
            MIN_EMBEDDING_SAMPLES, round(self.min_embedding_speech_s * MODEL_SAMPLE_RATE)
        )
        for local, frames in enumerate(embedding_frames(activity)):
            spans = frames_to_sample_spans(frames, self.grid, start)
            if not spans:
                continue
            clip = np.concatenate([read_padded(source, a, b) for a, b in spans])
            if len(clip) >= min_samples:
                yield local, clip
