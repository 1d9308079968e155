"""The whole-file pipeline: VAD -> ASR with word times -> diarization -> a speaker per word.

Runs the models (the shell) and hands their outputs to the pure modules (the core).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streamer.audio import MODEL_SAMPLE_RATE
from streamer.clustering import (
    ClusteringParams,
    FloatArray,
    SpeakerCount,
    agglomerative,
    assign_distinct,
    centroids,
)
from streamer.diarization import (
    UNASSIGNED,
    DiarizationParams,
    chunk_starts,
    embedding_frames,
    frames_to_sample_spans,
    powerset_to_multilabel,
    speaker_turns,
    stitch,
)
from streamer.events import SpeakerTurn, Transcript
from streamer.models.embedder import MIN_EMBEDDING_SAMPLES
from streamer.models.loader import ModelSet
from streamer.offline import asr_windows, utterances
from streamer.speakers import (
    SmoothingParams,
    SpeakerTimeline,
    name_speakers,
    smooth_islands,
    word_speakers,
)
from streamer.vad import VadParams, speech_regions

Progress = Callable[[float], None]
"""Called with the share of the work done, 0.0 .. 1.0."""

SEGMENTATION_BATCH = 8


@dataclass(frozen=True, slots=True)
class PipelineParams:
    vad: VadParams = field(default_factory=VadParams)
    clustering: ClusteringParams = field(default_factory=ClusteringParams)
    diarization: DiarizationParams = field(default_factory=DiarizationParams)
    smoothing: SmoothingParams = field(default_factory=SmoothingParams)
    segmentation_step_s: float = 2.5
    """Hop between 10 s segmentation windows: smaller sees each moment more often, costs more."""


@dataclass(frozen=True, slots=True)
class Diarization:
    timeline: SpeakerTimeline
    turns: tuple[SpeakerTurn, ...]


@dataclass(frozen=True, slots=True)
class LocalSpeakers:
    """Per-window segmentation and the embeddings of each window's local speakers."""

    activity: npt.NDArray[np.float64]
    """(windows, frames, 3) 0/1 activity of each local speaker"""
    starts: list[int]
    """start sample of each window"""
    owners: list[tuple[int, int]]
    """(window, local speaker) of each embedding row"""
    embeddings: npt.NDArray[np.float64]
    """(len(owners), dim)"""
    speech_s: npt.NDArray[np.float64]
    """(len(owners),) seconds of speech behind each embedding"""


class FileTranscriber:
    def __init__(self, models: ModelSet, params: PipelineParams | None = None) -> None:
        self._models = models
        self.params = params or PipelineParams()

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        count: SpeakerCount | None = None,
        language: str | None = None,
        speaker_labels: bool = True,
        progress: Progress | None = None,
    ) -> Transcript:
        """16 kHz mono audio -> words with speakers and utterances."""
        report = progress or (lambda _share: None)
        duration_s = len(audio) / MODEL_SAMPLE_RATE
        probs = self._models.vad.file_probabilities(audio)
        regions = speech_regions(
            probs, self._models.vad.frame_samples / MODEL_SAMPLE_RATE, self.params.vad, duration_s
        )
        report(0.05)
        asr = self._models.asr.transcribe_regions(audio, asr_windows(regions), language)
        report(0.6)
        words = asr.words
        turns: tuple[SpeakerTurn, ...] = ()
        if speaker_labels and words:
            diarization = self.diarize(audio, count or SpeakerCount())
            labels = word_speakers(words, diarization.timeline)
            if (labels < 0).all():
                labels[:] = 0
            labels = smooth_islands(words, labels, self.params.smoothing)
            words = name_speakers(words, labels)
            turns = diarization.turns
        report(1.0)
        return Transcript(
            words=words,
            utterances=utterances(words) if speaker_labels else (),
            audio_duration_s=duration_s,
            language_code=asr.language,
            speaker_turns=turns,
        )

    def diarize(self, audio: npt.NDArray[np.float32], count: SpeakerCount) -> Diarization:
        return self.cluster_local_speakers(self.local_speakers(audio), count)

    def local_speakers(self, audio: npt.NDArray[np.float32]) -> LocalSpeakers:
        """The model-heavy half of diarization: segmentation and embeddings per window."""
        segmenter = self._models.segmenter
        window = segmenter.window_samples
        step = max(1, round(self.params.segmentation_step_s * MODEL_SAMPLE_RATE))
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
        embeddings = (
            self._models.embedder.embed(clips)
            if clips
            else np.zeros((0, self._models.embedder.dim))
        )
        return LocalSpeakers(
            activity=activity,
            starts=starts,
            owners=owners,
            embeddings=embeddings,
            speech_s=np.array([len(c) / MODEL_SAMPLE_RATE for c in clips], dtype=np.float64),
        )

    def cluster_local_speakers(self, local: LocalSpeakers, count: SpeakerCount) -> Diarization:
        """The pure half: cluster local speakers into global ones and stitch the windows."""
        activity = local.activity
        chunk_speaker = np.full(activity.shape[0::2], UNASSIGNED, dtype=np.int64)
        num_speakers = 0
        if len(local.owners):
            speaker_centroids = self._speaker_centroids(local, count)
            num_speakers = len(speaker_centroids)
            for chunk in sorted({c for c, _ in local.owners}):
                rows = [i for i, (c, _) in enumerate(local.owners) if c == chunk]
                assigned = assign_distinct(local.embeddings[rows], speaker_centroids)
                for row, speaker in zip(rows, assigned.tolist(), strict=True):
                    chunk_speaker[chunk, local.owners[row][1]] = speaker
        grid = self._models.segmenter.grid
        score, binary = stitch(activity, chunk_speaker, local.starts, grid, num_speakers)
        timeline = SpeakerTimeline(
            scores=score * binary, step_s=grid.step_s, offset_s=float(grid.frame_start_s(0))
        )
        turns = speaker_turns(binary, grid, self.params.diarization)
        return Diarization(timeline=timeline, turns=tuple(turns))

    def _speaker_centroids(self, local: LocalSpeakers, count: SpeakerCount) -> FloatArray:
        """(k, dim) centroids from clustering the embeddings of enough speech (all of them when
        none has enough)."""
        reliable = local.speech_s >= self.params.diarization.min_clustering_speech_s
        if not reliable.any():
            reliable[:] = True
        embeddings = local.embeddings[reliable]
        labels = agglomerative(embeddings, local.speech_s[reliable], count, self.params.clustering)
        return centroids(embeddings, labels)

    def _embedding_clips(
        self, padded: npt.NDArray[np.float32], activity: npt.NDArray[np.float64], starts: list[int]
    ) -> tuple[list[tuple[int, int]], list[npt.NDArray[np.float32]]]:
        """The audio of each (chunk, local speaker) with enough clean speech to embed."""
        grid = self._models.segmenter.grid
        min_samples = max(
            MIN_EMBEDDING_SAMPLES,
            round(self.params.diarization.min_embedding_speech_s * MODEL_SAMPLE_RATE),
        )
        owners: list[tuple[int, int]] = []
        clips: list[npt.NDArray[np.float32]] = []
        for chunk, start in enumerate(starts):
            for local, frames in enumerate(embedding_frames(activity[chunk])):
                spans = frames_to_sample_spans(frames, grid, start)
                clip = np.concatenate([padded[a:b] for a, b in spans]) if spans else padded[:0]
                if len(clip) >= min_samples:
                    owners.append((chunk, local))
                    clips.append(clip)
        return owners, clips
