"""Typed values that cross module boundaries. Times are integer milliseconds, as on the wire."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

SENTENCE_END = (".", "?", "!")
"""Marks that end a sentence in recognized text."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word. `speaker` is a label ("A", "B", ...) or None before diarization;
    `channel` ("1", "2", ...) the channel it was heard on when channels are transcribed apart."""

    text: str
    start_ms: int
    end_ms: int
    confidence: float
    speaker: str | None = None
    channel: str | None = None

    def with_speaker(self, speaker: str | None) -> Word:
        return replace(self, speaker=speaker)

    def shifted(self, offset_ms: int) -> Word:
        return replace(self, start_ms=self.start_ms + offset_ms, end_ms=self.end_ms + offset_ms)


@dataclass(frozen=True, slots=True)
class Utterance:
    """A run of consecutive words by one speaker (on one channel)."""

    speaker: str
    start_ms: int
    end_ms: int
    confidence: float
    text: str
    words: tuple[Word, ...]
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """A stretch of time in which one speaker talks (diarization output, seconds)."""

    speaker: int
    start_s: float
    end_s: float

    def shifted(self, offset_s: float) -> SpeakerTurn:
        return replace(self, start_s=self.start_s + offset_s, end_s=self.end_s + offset_s)


@dataclass(frozen=True, slots=True)
class Transcript:
    """The result of transcribing a whole file."""

    words: tuple[Word, ...]
    utterances: tuple[Utterance, ...]
    audio_duration_s: float
    language_code: str | None = None
    speaker_turns: tuple[SpeakerTurn, ...] = field(default=())
    audio_channels: int | None = None
    """channels transcribed apart (`core.channels`); None: the audio was mixed to one"""
    language_confidence: float | None = None
    """how sure the detection of `language_code` was (None: the language was given)"""

    @property
    def text(self) -> str:
        return join_words(self.words)

    @property
    def confidence(self) -> float:
        return mean_confidence(self.words)


def join_words(words: tuple[Word, ...] | list[Word]) -> str:
    return " ".join(w.text for w in words)


def by_channel(words: Sequence[Word]) -> list[tuple[Word, ...]]:
    """The words of each channel (in order of first appearance), each in its own order: the
    words of a recording transcribed a channel at a time interleave in time, and what groups
    words (utterances, sentences) groups them a channel at a time."""
    channels: dict[str | None, list[Word]] = {}
    for word in words:
        channels.setdefault(word.channel, []).append(word)
    return [tuple(group) for group in channels.values()]


def majority_speaker(words: tuple[Word, ...] | list[Word]) -> str | None:
    """The speaker of most of the words (the first heard among equals); None if none has one."""
    counts: dict[str, int] = {}
    for word in words:
        if word.speaker is not None:
            counts[word.speaker] = counts.get(word.speaker, 0) + 1
    return max(counts, key=lambda speaker: counts[speaker]) if counts else None


def mean_confidence(words: tuple[Word, ...] | list[Word]) -> float:
    return sum(w.confidence for w in words) / len(words) if words else 0.0


def spread_words(
    words: Sequence[tuple[str, float]], spans_ms: Sequence[tuple[int, int]]
) -> tuple[Word, ...]:
    """(text, confidence) pairs from a recognizer that gives no times, spread over the speech
    spans they were heard in (pauses get no words), each in proportion to its length: rough,
    but enough to place words and find their speaker."""
    if not words or not spans_ms:
        return ()
    weights = [len(text) + 1 for text, _ in words]
    total = sum(weights)
    speech = sum(end - start for start, end in spans_ms)

    def at(share: int, ending: bool) -> int:
        """The time `share / total` of the way through the speech; a word that ends where a
        span ends ends there, one that starts there starts in the next span."""
        left = speech * share // total
        for start, end in spans_ms:
            if left < end - start or (ending and left == end - start):
                return start + left
            left -= end - start
        return spans_ms[-1][1]

    timed = []
    done = 0
    for (text, confidence), weight in zip(words, weights, strict=True):
        start = at(done, ending=False)
        done += weight
        timed.append(Word(text, start, max(at(done, ending=True), start + 1), confidence))
    return tuple(timed)
