"""The whole-file pipeline: VAD -> ASR with word times -> diarization -> a speaker per word.

Runs the models (the shell) and hands their outputs to the pure modules (the core).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streamer.core.arrays import FloatArray
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.clustering import (
    ClusteringParams,
    SpeakerCount,
)
from streamer.core.diarization import (
    DiarizationParams,
    LocalSpeakers,
    cluster_rows,
    global_timeline,
)
from streamer.core.regions import VadParams, speech_regions
from streamer.core.sentence_speakers import SentenceParams, keep_sentences_whole
from streamer.core.utterances import utterances
from streamer.core.voices import (
    KnownVoice,
    VoiceParams,
    match_voices,
    speaker_centroids,
    with_names,
)
from streamer.core.word_speakers import (
    SmoothingParams,
    SpeakerTimeline,
    name_speakers,
    smooth_islands,
    strongest,
    word_scores,
)
from streamer.core.words import SpeakerTurn, Transcript
from streamer.files.windows import asr_windows
from streamer.models.loader import ModelSet

Progress = Callable[[float], None]
"""Called with the share of the work done, 0.0 .. 1.0."""


@dataclass(frozen=True, slots=True)
class PipelineParams:
    vad: VadParams = field(default_factory=VadParams)
    clustering: ClusteringParams = field(default_factory=ClusteringParams)
    diarization: DiarizationParams = field(default_factory=DiarizationParams)
    smoothing: SmoothingParams = field(default_factory=SmoothingParams)
    voices: VoiceParams = field(default_factory=VoiceParams)
    sentences: SentenceParams = field(default_factory=SentenceParams)


@dataclass(frozen=True, slots=True)
class Diarization:
    timeline: SpeakerTimeline
    turns: tuple[SpeakerTurn, ...]
    centroids: FloatArray
    """(speakers, dim) unit centroid of each global speaker (`core.voices`)"""


class FileTranscriber:
    def __init__(self, models: ModelSet, params: PipelineParams | None = None) -> None:
        self.models = models
        self.params = params or PipelineParams()
        self.speaker_finder = models.speaker_finder

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        count: SpeakerCount | None = None,
        language: str | None = None,
        speaker_labels: bool = True,
        progress: Progress | None = None,
        known_voices: Sequence[KnownVoice] = (),
    ) -> Transcript:
        """16 kHz mono audio -> words with speakers and utterances; speakers whose voice
        matches one of `known_voices` carry that person's name."""
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
            scores = word_scores(words, diarization.timeline)
            labels = strongest(scores)
            if (labels < 0).all():
                labels[:] = 0
            labels = smooth_islands(words, labels, self.params.smoothing)
            labels = keep_sentences_whole(words, scores, labels, self.params.sentences)
            words = name_speakers(words, labels)
            if known_voices:
                threshold = self.params.voices.threshold
                names = match_voices(diarization.centroids, known_voices, threshold)
                words = with_names(words, labels, names)
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
            rows,
            num_speakers,
            self.speaker_finder.grid,
            self.params.diarization,
        )
        found = speaker_centroids(
            local.embeddings,
            local.speech_s,
            rows,
            num_speakers,
            self.params.voices.min_row_speech_s,
        )
        return Diarization(timeline=timeline, turns=tuple(turns), centroids=found)
