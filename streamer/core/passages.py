"""Sentences and paragraphs of a finished transcript, as `/sentences` and `/paragraphs` give
them (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.core.words import (
    SENTENCE_END,
    Word,
    by_channel,
    join_words,
    majority_speaker,
    mean_confidence,
)

PARAGRAPH_GAP_MS = 2000
"""A pause this long starts a new paragraph even when the speaker goes on."""
PARAGRAPH_MAX_SENTENCES = 8


@dataclass(frozen=True, slots=True)
class Passage:
    """A sentence or a paragraph: consecutive words of (mostly) one speaker."""

    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return join_words(self.words)

    @property
    def speaker(self) -> str | None:
        return majority_speaker(self.words)

    @property
    def confidence(self) -> float:
        return mean_confidence(self.words)


def sentences(words: tuple[Word, ...]) -> list[Passage]:
    """Words up to each sentence end; a change of speaker also ends a sentence. Channels
    transcribed apart are split each on its own, their sentences then put in time order."""
    found: list[Passage] = []
    for channel in by_channel(words):
        current: list[Word] = []
        for word in channel:
            if current and word.speaker != current[-1].speaker:
                found.append(Passage(tuple(current)))
                current = []
            current.append(word)
            if word.text.endswith(SENTENCE_END):
                found.append(Passage(tuple(current)))
                current = []
        if current:
            found.append(Passage(tuple(current)))
    return sorted(found, key=lambda passage: passage.words[0].start_ms)


def paragraphs(words: tuple[Word, ...]) -> list[Passage]:
    """Consecutive sentences of one speaker, broken at long pauses and every few sentences."""
    found: list[list[Passage]] = []
    for sentence in sentences(words):
        last = found[-1] if found else None
        if (
            last is None
            or sentence.speaker != last[-1].speaker
            or sentence.words[0].start_ms - last[-1].words[-1].end_ms >= PARAGRAPH_GAP_MS
            or len(last) >= PARAGRAPH_MAX_SENTENCES
        ):
            found.append([sentence])
        else:
            last.append(sentence)
    return [Passage(tuple(w for s in group for w in s.words)) for group in found]
