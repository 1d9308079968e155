"""Plain-text, SRT and WebVTT renderings of a transcript (pure)."""

from __future__ import annotations

from streamer.core.words import Transcript, Utterance, Word, join_words

DEFAULT_CHARS_PER_CAPTION = 80


def plain_text(transcript: Transcript) -> str:
    """One line per utterance, "A: words ..."; without speakers, the text alone."""
    if not transcript.utterances:
        return transcript.text + "\n" if transcript.words else ""
    return "".join(f"{u.speaker}: {u.text}\n" for u in transcript.utterances)


def caption_groups(
    utterances: tuple[Utterance, ...], chars_per_caption: int = DEFAULT_CHARS_PER_CAPTION
) -> list[list[Word]]:
    """Split each utterance into captions of at most `chars_per_caption` characters (a single
    longer word still gets a caption of its own); a caption never spans two speakers."""
    if chars_per_caption < 1:
        raise ValueError("chars_per_caption must be at least 1")
    groups: list[list[Word]] = []
    for utterance in utterances:
        current: list[Word] = []
        for word in utterance.words:
            if current and len(join_words([*current, word])) > chars_per_caption:
                groups.append(current)
                current = []
            current.append(word)
        if current:
            groups.append(current)
    return groups


def _timestamp(ms: int, decimal: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal}{millis:03d}"


def _caption_text(words: list[Word]) -> str:
    speaker = words[0].speaker
    text = join_words(words)
    return f"{speaker}: {text}" if speaker else text


def srt(transcript: Transcript, chars_per_caption: int = DEFAULT_CHARS_PER_CAPTION) -> str:
    blocks = [
        f"{index}\n{_timestamp(g[0].start_ms, ',')} --> {_timestamp(g[-1].end_ms, ',')}\n"
        f"{_caption_text(g)}\n"
        for index, g in enumerate(_groups(transcript, chars_per_caption), start=1)
    ]
    return "\n".join(blocks)


def vtt(transcript: Transcript, chars_per_caption: int = DEFAULT_CHARS_PER_CAPTION) -> str:
    blocks = [
        f"{_timestamp(g[0].start_ms, '.')} --> {_timestamp(g[-1].end_ms, '.')}\n"
        f"{_caption_text(g)}\n"
        for g in _groups(transcript, chars_per_caption)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _groups(transcript: Transcript, chars_per_caption: int) -> list[list[Word]]:
    if transcript.utterances:
        return caption_groups(transcript.utterances, chars_per_caption)
    if not transcript.words:
        return []
    whole = Utterance("", 0, 0, 0.0, transcript.text, transcript.words)
    return caption_groups((whole,), chars_per_caption)
