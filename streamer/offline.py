"""Pure parts of the whole-file pipeline: ASR windows from speech regions, utterances."""

from __future__ import annotations

from streamer.events import SpeakerTurn, Utterance, Word, join_words, mean_confidence

WHISPER_WINDOW_S = 30.0
MAX_SILENCE_IN_WINDOW_S = 5.0
"""Long silences inside a decode window invite Whisper to hallucinate words."""


def asr_windows(
    regions_s: list[tuple[float, float]],
    max_window_s: float = WHISPER_WINDOW_S,
    max_gap_s: float = MAX_SILENCE_IN_WINDOW_S,
) -> list[tuple[float, float]]:
    """Pack speech regions into decode windows of at most `max_window_s`.

    Neighbouring regions share a window while it fits and the pause between them is short
    (Whisper pads every call to 30 s, so fewer, fuller windows cost less); a region longer than
    a window is cut into equal pieces.
    """
    windows: list[tuple[float, float]] = []
    for start, end in regions_s:
        pieces = max(1, int(-(-(end - start) // max_window_s)))
        length = (end - start) / pieces
        for piece in range(pieces):
            begin, finish = start + piece * length, start + (piece + 1) * length
            joinable = windows and begin - windows[-1][1] <= max_gap_s
            if joinable and finish - windows[-1][0] <= max_window_s:
                windows[-1] = (windows[-1][0], finish)
            else:
                windows.append((begin, finish))
    return windows


def utterances(words: tuple[Word, ...]) -> tuple[Utterance, ...]:
    """Group consecutive words of one speaker into utterances (AssemblyAI's `utterances`)."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and groups[-1][-1].speaker == word.speaker:
            groups[-1].append(word)
        else:
            groups.append([word])
    return tuple(
        Utterance(
            speaker=group[0].speaker or "A",
            start_ms=group[0].start_ms,
            end_ms=group[-1].end_ms,
            confidence=round(mean_confidence(group), 4),
            text=join_words(group),
            words=tuple(group),
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
