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
    SpeakerCount,
)
from streamer.diarization import (
    DiarizationParams,
    FrameGrid,
    LocalSpeakers,
    chunk_assignment,
    chunk_starts,
    cluster_rows,
    embedding_frames,
    frames_to_sample_spans,
    global_timeline,
    powerset_to_multilabel,
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


class LocalSpeakerFinder:
    """The model-heavy half of diarization, shared by files and streams: segmentation on 10 s
    windows and an embedding of each window's local speakers."""

    def __init__(self, models: ModelSet, step_s: float, params: DiarizationParams) -> None:
        self.models = models
        self.step_s = step_s
        self.params = params

    @property
    def grid(self) -> FrameGrid:
        return self.models.segmenter.grid

    def find(self, audio: npt.NDArray[np.float32]) -> LocalSpeakers:
        segmenter = self.models.segmenter
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
        embeddings = (
            self.models.embedder.embed(clips) if clips else np.zeros((0, self.models.embedder.dim))
        )
        return LocalSpeakers(
            activity=activity,
            starts=starts,
            owners=owners,
            embeddings=embeddings,
            speech_s=np.array([len(c) / MODEL_SAMPLE_RATE for c in clips], dtype=np.float64),
            window_ends=[len(audio)] * len(starts),
        )

    def _embedding_clips(
        self, padded: npt.NDArray[np.float32], activity: npt.NDArray[np.float64], starts: list[int]
    ) -> tuple[list[tuple[int, int]], list[npt.NDArray[np.float32]]]:
        """The audio of each (window, local speaker) with enough clean speech to embed."""
        min_samples = max(
            MIN_EMBEDDING_SAMPLES, round(self.params.min_embedding_speech_s * MODEL_SAMPLE_RATE)
        )
        owners: list[tuple[int, int]] = []
        clips: list[npt.NDArray[np.float32]] = []
        for chunk, start in enumerate(starts):
            for local, frames in enumerate(embedding_frames(activity[chunk])):
                spans = frames_to_sample_spans(frames, self.grid, start)
                clip = np.concatenate([padded[a:b] for a, b in spans]) if spans else padded[:0]
                if len(clip) >= min_samples:
                    owners.append((chunk, local))
                    clips.append(clip)
        return owners, clips


class FileTranscriber:
    def __init__(self, models: ModelSet, params: PipelineParams | None = None) -> None:
        self.models = models
        self.params = params or PipelineParams()
        self.speaker_finder = LocalSpeakerFinder(
            models, self.params.segmentation_step_s, self.params.diarization
        )

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
        probs = self.models.vad.file_probabilities(audio)
        regions = speech_regions(
            probs, self.models.vad.frame_samples / MODEL_SAMPLE_RATE, self.params.vad, duration_s
        )
        report(0.05)
        asr = self.models.asr.transcribe_regions(audio, asr_windows(regions), language)
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
        return self.cluster_local_speakers(self.speaker_finder.find(audio), count)

    def cluster_local_speakers(self, local: LocalSpeakers, count: SpeakerCount) -> Diarization:
        """The pure half: cluster local speakers into global ones and stitch the windows."""
        rows, num_speakers = cluster_rows(
            local, count, self.params.clustering, self.params.diarization.min_clustering_speech_s
        )
        timeline, turns = global_timeline(
            local,
            chunk_assignment(local, rows),
            num_speakers,
            self.speaker_finder.grid,
            self.params.diarization,
        )
        return Diarization(timeline=timeline, turns=tuple(turns))
