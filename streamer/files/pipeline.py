"""The whole-file pipeline: VAD -> ASR with word times -> diarization -> a speaker per word.

Runs the models (the shell) and hands their outputs to the pure modules (the core). It reads
its audio a stretch at a time (`AudioSource`), so a file of hours costs no more memory than
its words and speaker analysis: the VAD in chunks, Whisper a block of windows at a time, the
segmentation only on windows near speech, a batch at a time, and the windows stitched in
sections of at most an hour.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from math import ceil

import numpy as np

from streamer.core.arrays import Float32Array, FloatArray
from streamer.core.audio import MODEL_SAMPLE_RATE, samples_to_ms
from streamer.core.audio_source import AudioSource, ClippedAudio, as_source
from streamer.core.channels import channel_name, merge_channels
from streamer.core.clustering import (
    ClusteringParams,
    SpeakerCount,
)
from streamer.core.diarization import (
    DiarizationParams,
    LocalSpeakers,
    chunk_starts,
    cluster_rows,
    concatenate,
    global_timeline,
    window_range,
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
from streamer.core.word_rules import WordRules, apply_rules
from streamer.core.word_speakers import (
    SmoothingParams,
    SpeakerTimeline,
    name_speakers,
    smooth_islands,
    strongest,
    word_scores,
)
from streamer.core.words import SpeakerTurn, Transcript, Word
from streamer.files.windows import MAX_SILENCE_IN_WINDOW_S, asr_windows
from streamer.files.word_lists import number_speller
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
    asr_max_gap_s: float = MAX_SILENCE_IN_WINDOW_S
    """Speech regions this close share a Whisper window (`asr_windows`)..."""
    channel_asr_max_gap_s: float = 0.5
    """...and this close in a channel transcribed apart: such a channel is silent while the
    other party talks, and Whisper decoding across those silences misplaced and dropped
    words (the split telephone call, `load_tests/multichannel.py`, on an AVX-512 Xeon: 72 of
    73 words on their party and per-party WER 21.7 / 25.7 % joined within 1 s, 77 / 77 and
    10.9 / 25.7 % within 0.5 s; 69 / 72 and 21.7 / 37.1 % within 3 s)."""


@dataclass(frozen=True, slots=True)
class FileOptions:
    """What a request asks beyond speakers and language (AssemblyAI's v2 fields)."""

    rules: WordRules = field(default_factory=WordRules)
    hotwords: str | None = None
    """terms Whisper is told to expect (`keyterms_prompt`, `word_boost`)"""
    start_s: float = 0.0
    """transcribe from here (`audio_start_from`); word times stay the file's"""
    end_s: float | None = None
    """...to here (`audio_end_at`); None: the end"""
    min_speech_share: float = 0.0
    """`speech_threshold`: less speech than this share of the audio is `Refused`"""
    min_language_confidence: float = 0.0
    """`language_confidence_threshold`: a detected language less sure than this is `Refused`"""


class Refused(Exception):
    """The audio does not meet what the request asked of it: the job ends with this reason."""


ASR_BLOCK_S = 600.0
"""Whisper decodes the windows starting in each block of this much audio together."""
SPEECH_MARGIN_S = 1.0
"""A segmentation window is run only when it comes this close to speech the VAD heard."""
SECTION_WINDOWS = 1440
"""Windows stitched into one timeline at most (an hour at the 2.5 s hop): a section's
arrays grow with its length, so a long file's are bounded."""


@dataclass(frozen=True, slots=True)
class _Section:
    origin_s: float
    """where its windows start in the file"""
    timeline: SpeakerTimeline


@dataclass(frozen=True, slots=True)
class Diarization:
    sections: tuple[_Section, ...]
    """stretches of windows, each stitched on its own, in time order"""
    turns: tuple[SpeakerTurn, ...]
    centroids: FloatArray
    """(speakers, dim) unit centroid of each global speaker (`core.voices`)"""

    def word_scores(self, words: Sequence[Word]) -> FloatArray:
        """`core.word_speakers.word_scores` of each word on the section it starts in (a word
        its section has no one under looks to the nearest sections)."""
        speakers = len(self.centroids)
        scores = np.zeros((len(words), speakers))
        if not self.sections or not words:
            return scores
        origins = [section.origin_s for section in self.sections]
        owner = [max(0, bisect_right(origins, w.start_ms / 1000) - 1) for w in words]
        for index, section in enumerate(self.sections):
            mine = [n for n, o in enumerate(owner) if o == index]
            if mine:
                scores[mine] = word_scores([words[n] for n in mine], section.timeline)
        for n in np.flatnonzero(scores.sum(axis=1) == 0).tolist():
            nearest = sorted(range(len(origins)), key=lambda k: abs(k - owner[n]))
            for index in nearest[1:]:
                row = word_scores([words[n]], self.sections[index].timeline)[0]
                if row.sum() > 0:
                    scores[n] = row
                    break
        return scores


class FileTranscriber:
    def __init__(self, models: ModelSet, params: PipelineParams | None = None) -> None:
        self.models = models
        self.params = params or PipelineParams()
        self.speaker_finder = models.speaker_finder

    def transcribe(
        self,
        audio: Float32Array | AudioSource,
        count: SpeakerCount | None = None,
        language: str | None = None,
        speaker_labels: bool = True,
        progress: Progress | None = None,
        known_voices: Sequence[KnownVoice] = (),
        speaker_prefix: str = "",
        options: FileOptions = FileOptions(),
    ) -> Transcript:
        """16 kHz mono audio -> words with speakers and utterances; speakers whose voice
        matches one of `known_voices` carry that person's name, the others a letter after
        `speaker_prefix`. `progress` is called as the work goes (an exception it raises stops
        the work: a cancelled job). `Refused` when the audio does not meet `options`."""
        whole = as_source(audio)
        start = round(options.start_s * MODEL_SAMPLE_RATE)
        stop = (
            whole.num_samples if options.end_s is None else round(options.end_s * MODEL_SAMPLE_RATE)
        )
        source = (
            ClippedAudio(whole, start, stop) if (start, stop) != (0, whole.num_samples) else whole
        )
        report = progress or (lambda _share: None)
        duration_s = source.num_samples / MODEL_SAMPLE_RATE
        probs = self.models.vad.file_probabilities(source, lambda share: report(0.05 * share))
        regions = speech_regions(
            probs, self.models.vad.frame_samples / MODEL_SAMPLE_RATE, self.params.vad, duration_s
        )
        _check_speech(regions, duration_s, options.min_speech_share)
        words, language, confidence = self._asr(
            source,
            asr_windows(regions, max_gap_s=self.params.asr_max_gap_s),
            language,
            lambda share: report(0.05 + 0.55 * share),
            options.hotwords,
        )
        _check_language(language, confidence, options.min_language_confidence)
        turns: tuple[SpeakerTurn, ...] = ()
        if speaker_labels and words:
            diarization = self.diarize(
                source, count or SpeakerCount(), regions, lambda share: report(0.6 + 0.4 * share)
            )
            scores = diarization.word_scores(words)
            labels = strongest(scores)
            if (labels < 0).all():
                labels[:] = 0
            labels = smooth_islands(words, labels, self.params.smoothing)
            labels = keep_sentences_whole(words, scores, labels, self.params.sentences)
            words = name_speakers(words, labels, speaker_prefix)
            if known_voices:
                threshold = self.params.voices.threshold
                names = match_voices(diarization.centroids, known_voices, threshold)
                words = with_names(words, labels, names)
            turns = diarization.turns
        words = apply_rules(words, options.rules, number_speller(language))
        if start:  # times in the file, not in the stretch transcribed
            words = tuple(w.shifted(samples_to_ms(start)) for w in words)
            turns = tuple(t.shifted(start / MODEL_SAMPLE_RATE) for t in turns)
        report(1.0)
        return Transcript(
            words=words,
            utterances=utterances(words) if speaker_labels else (),
            audio_duration_s=whole.num_samples / MODEL_SAMPLE_RATE,
            language_code=language,
            speaker_turns=turns,
            language_confidence=confidence,
        )

    def transcribe_channels(
        self,
        channels: Sequence[Float32Array | AudioSource],
        count: SpeakerCount | None = None,
        language: str | None = None,
        speaker_labels: bool = False,
        progress: Progress | None = None,
        known_voices: Sequence[KnownVoice] = (),
        options: FileOptions = FileOptions(),
    ) -> Transcript:
        """Each channel of one recording transcribed apart (`core.channels`): its words carry
        their channel, and its speakers are found inside it only with `speaker_labels`
        (`count` then applies to each channel)."""
        report = progress or (lambda _share: None)
        share = 1 / max(1, len(channels))
        params = replace(self.params, asr_max_gap_s=self.params.channel_asr_max_gap_s)
        apart = FileTranscriber(self.models, params)

        def part_of(index: int) -> Progress:
            return lambda part: report((index + part) * share)

        done = []
        for index, channel in enumerate(channels):
            done.append(
                apart.transcribe(
                    channel,
                    count,
                    language,
                    speaker_labels,
                    part_of(index),
                    known_voices,
                    channel_name(index),  # its speakers: 1A, 1B, ...
                    options,
                )
            )
        return merge_channels(done, speaker_labels)

    def _asr(
        self,
        source: AudioSource,
        windows: list[tuple[float, float]],
        language: str | None,
        report: Progress,
        hotwords: str | None,
    ) -> tuple[tuple[Word, ...], str | None, float | None]:
        """Words of every decode window, a block of windows at a time; the language the first
        block found (when none was asked for) is the language of the rest, and how sure it
        was of it."""
        confidence = None
        words: list[Word] = []
        blocks: dict[int, list[tuple[float, float]]] = {}
        for window in windows:
            blocks.setdefault(int(window[0] // ASR_BLOCK_S), []).append(window)
        for done, (block, members) in enumerate(sorted(blocks.items()), start=1):
            origin_s = block * ASR_BLOCK_S
            origin = round(origin_s * MODEL_SAMPLE_RATE)
            audio = source.read(origin, ceil(members[-1][1] * MODEL_SAMPLE_RATE))
            asr = self.models.asr.transcribe_regions(
                audio,
                [(a - origin_s, b - origin_s) for a, b in members],
                language,
                origin_s,
                hotwords,
            )
            words += asr.words
            if language is None:
                language, confidence = asr.language, asr.language_probability
            report(done / len(blocks))
        return tuple(words), language, confidence

    def diarize(
        self,
        audio: Float32Array | AudioSource,
        count: SpeakerCount,
        regions_s: Sequence[tuple[float, float]] | None = None,
        progress: Progress | None = None,
    ) -> Diarization:
        """Speakers of `audio`: segmentation windows near `regions_s` of speech (all of them
        when None), clustered, stitched section by section."""
        source = as_source(audio)
        report = progress or (lambda _share: None)
        finder = self.speaker_finder
        window = finder.segmenter.window_samples
        starts = chunk_starts(
            source.num_samples, window, max(1, round(finder.step_s * MODEL_SAMPLE_RATE))
        )
        if regions_s is not None:
            starts = _near_speech(starts, window, regions_s)
        sections = _sections(starts, window)
        if not sections:
            return Diarization((), (), np.zeros((0, finder.embedder.dim)))
        local = concatenate(self._find(source, sections, report), [0] * len(sections))
        return self.cluster_local_speakers(local, count, sections)

    def _find(
        self, source: AudioSource, sections: list[list[int]], report: Progress
    ) -> list[LocalSpeakers]:
        """The local speakers of each section's windows (not kept beside their concatenation:
        the caller holds only that)."""
        parts = []
        for done, section in enumerate(sections, start=1):
            parts.append(self.speaker_finder.find(source, section))
            report(0.9 * done / len(sections))
        return parts

    def cluster_local_speakers(
        self, local: LocalSpeakers, count: SpeakerCount, sections: list[list[int]]
    ) -> Diarization:
        """The pure half: cluster local speakers into global ones and stitch the windows, each
        section of them (window starts, as `local.starts` holds them in order) on its own."""
        rows, num_speakers = cluster_rows(
            local, count, self.params.clustering, self.params.diarization.min_clustering_speech_s
        )
        found = speaker_centroids(
            local.embeddings,
            local.speech_s,
            rows,
            num_speakers,
            self.params.voices.min_row_speech_s,
        )
        stitched: list[_Section] = []
        turns: list[SpeakerTurn] = []
        first = 0
        for section in sections:
            stop = first + len(section)
            part, members = window_range(local, first, stop, origin=section[0])
            origin_s = section[0] / MODEL_SAMPLE_RATE
            timeline, found_turns = global_timeline(
                part,
                rows[members],
                num_speakers,
                self.speaker_finder.grid,
                self.params.diarization,
                offset_s=origin_s,
            )
            stitched.append(_Section(origin_s, timeline))
            turns += found_turns
            first = stop
        return Diarization(
            sections=tuple(stitched),
            turns=tuple(sorted(turns, key=lambda t: (t.start_s, t.speaker))),
            centroids=found,
        )


def _check_speech(
    regions: Sequence[tuple[float, float]], duration_s: float, threshold: float
) -> None:
    """`Refused`, in AssemblyAI's words, when less than `threshold` of the audio is speech."""
    share = sum(end - start for start, end in regions) / duration_s if duration_s else 0.0
    if share < threshold:
        raise Refused(
            f"Audio speech threshold {share:.4f} is below the requested speech threshold value"
            f" {threshold:g}"
        )


def _check_language(language: str | None, confidence: float | None, threshold: float) -> None:
    """`Refused` when the language detected is less sure than `threshold`."""
    if confidence is not None and confidence < threshold:
        raise Refused(
            f"detected language '{language}' with confidence {confidence:.4f}, below the"
            f" requested language_confidence_threshold {threshold:g}"
        )


def _near_speech(
    starts: list[int], window: int, regions_s: Sequence[tuple[float, float]]
) -> list[int]:
    """The windows that come within `SPEECH_MARGIN_S` of a speech region."""
    margin = SPEECH_MARGIN_S * MODEL_SAMPLE_RATE
    spans = [(a * MODEL_SAMPLE_RATE - margin, b * MODEL_SAMPLE_RATE + margin) for a, b in regions_s]
    ends = [b for _, b in spans]
    kept = []
    for start in starts:
        # the first region ending after the window starts is the only one that may overlap it
        k = bisect_right(ends, start)
        if k < len(spans) and spans[k][0] < start + window:
            kept.append(start)
    return kept


def _sections(starts: list[int], window: int) -> list[list[int]]:
    """Window starts split where one window does not reach the next (nothing joins them) and
    after `SECTION_WINDOWS` windows."""
    sections: list[list[int]] = []
    for start in starts:
        if sections and start < sections[-1][-1] + window and len(sections[-1]) < SECTION_WINDOWS:
            sections[-1].append(start)
        else:
            sections.append([start])
    return sections
