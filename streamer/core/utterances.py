"""Words grouped by speaker (pure): utterances, and the speaker turns the words span."""

from __future__ import annotations

from streamer.core.words import (
    SpeakerTurn,
    Utterance,
    Word,
    by_channel,
    join_words,
    mean_confidence,
)


def utterances(words: tuple[Word, ...]) -> tuple[Utterance, ...]:
    """Group consecutive words of one speaker into utterances (AssemblyAI's `utterances`).
    Channels transcribed apart are grouped each on its own, and their utterances put in time
    order: two parties talking at once give two overlapping utterances."""
    groups: list[list[Word]] = []
    for channel in by_channel(words):
        first = len(groups)
        for word in channel:
            if len(groups) > first and groups[-1][-1].speaker == word.speaker:
                groups[-1].append(word)
            else:
                groups.append([word])
    groups.sort(key=lambda group: group[0].start_ms)  # stable: one channel's order is kept
    return tuple(
        Utterance(
            speaker=group[0].speaker or "A",
            start_ms=group[0].start_ms,
            end_ms=group[-1].end_ms,
            confidence=round(mean_confidence(group), 4),
            text=join_words(group),
            words=tuple(group),
            channel=group[0].channel,
        )
        for group in groups
    )


def turns_from_words(words: tuple[Word, ...], max_gap_ms: int = 500) -> list[SpeakerTurn]:
    """Speaker turns spanned by the words themselves (for scoring what a user sees): words of
    one speaker closer than `max_gap_ms` join one turn. Speakers are numbered by first word."""
    numbers: dict[str, int] = {}
    turns: list[SpeakerTurn] = []
    open_turn: dict[str, tuple[int, int]] = {}
    for word in words:
        speaker = word.speaker or "A"
        numbers.setdefault(speaker, len(numbers))
        start, end = open_turn.get(speaker, (word.start_ms, word.end_ms))
        if word.start_ms - end > max_gap_ms:
            turns.append(SpeakerTurn(numbers[speaker], start / 1000, end / 1000))
            start = word.start_ms
        open_turn[speaker] = (start, max(end, word.end_ms))
    for speaker, (start, end) in open_turn.items():
        turns.append(SpeakerTurn(numbers[speaker], start / 1000, end / 1000))
    return sorted(turns, key=lambda t: (t.start_s, t.speaker))
