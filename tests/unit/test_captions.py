"""Plain text, SRT and WebVTT captions of a transcript: exact output."""

from __future__ import annotations

import pytest

from streamer.core.captions import caption_groups, plain_text, srt, vtt
from streamer.core.utterances import utterances
from streamer.core.words import Transcript, Word

WORDS = (
    Word("Hello", 0, 400, 0.9, "A"),
    Word("there.", 450, 800, 0.9, "A"),
    Word("Hi", 3_661_000, 3_661_250, 0.9, "B"),
)
TRANSCRIPT = Transcript(words=WORDS, utterances=utterances(WORDS), audio_duration_s=3662.0)


def test_srt() -> None:
    assert srt(TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:00,800\nA: Hello there.\n\n"
        "2\n01:01:01,000 --> 01:01:01,250\nB: Hi\n"
    )


def test_vtt() -> None:
    assert vtt(TRANSCRIPT) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:00.800\nA: Hello there.\n\n"
        "01:01:01.000 --> 01:01:01.250\nB: Hi\n"
    )


def test_chars_per_caption_splits_but_never_mid_word() -> None:
    groups = caption_groups(TRANSCRIPT.utterances, chars_per_caption=6)
    assert [[w.text for w in g] for g in groups] == [["Hello"], ["there."], ["Hi"]]


def test_plain_text() -> None:
    assert plain_text(TRANSCRIPT) == "A: Hello there.\nB: Hi\n"
    empty = Transcript(words=(), utterances=(), audio_duration_s=1.0)
    assert plain_text(empty) == "" and srt(empty) == "" and vtt(empty) == "WEBVTT\n\n"


def test_a_caption_never_spans_two_speakers() -> None:
    """Adjacent words of two speakers that would fit one caption still get two."""
    words = (
        Word("Yes.", 0, 300, 0.9, "A"),
        Word("No.", 300, 600, 0.9, "B"),
        Word("Maybe", 600, 900, 0.9, "A"),
        Word("so.", 900, 1200, 0.9, "A"),
    )
    transcript = Transcript(words=words, utterances=utterances(words), audio_duration_s=2.0)
    groups = caption_groups(transcript.utterances, chars_per_caption=80)
    assert [[(w.text, w.speaker) for w in g] for g in groups] == [
        [("Yes.", "A")],
        [("No.", "B")],
        [("Maybe", "A"), ("so.", "A")],
    ]
    assert srt(transcript) == (
        "1\n00:00:00,000 --> 00:00:00,300\nA: Yes.\n\n"
        "2\n00:00:00,300 --> 00:00:00,600\nB: No.\n\n"
        "3\n00:00:00,600 --> 00:00:01,200\nA: Maybe so.\n"
    )


def timed(text: str, speaker: str | None = "A") -> tuple[Word, ...]:
    return tuple(
        Word(token, 1000 * i, 1000 * i + 500, 0.9, speaker) for i, token in enumerate(text.split())
    )


def test_captions_fill_up_to_chars_per_caption_exactly() -> None:
    """The limit counts the words and the spaces between them, not the "A: " prefix."""
    words = timed("one two three four")
    groups = caption_groups(utterances(words), chars_per_caption=7)  # "one two" is 7
    assert [[w.text for w in g] for g in groups] == [["one", "two"], ["three"], ["four"]]
    groups = caption_groups(utterances(words), chars_per_caption=6)
    assert [[w.text for w in g] for g in groups] == [["one"], ["two"], ["three"], ["four"]]
    groups = caption_groups(utterances(words), chars_per_caption=18)  # the whole text
    assert [[w.text for w in g] for g in groups] == [["one", "two", "three", "four"]]


def test_a_word_longer_than_chars_per_caption_gets_its_own_caption() -> None:
    words = timed("a extraordinarily b c")
    groups = caption_groups(utterances(words), chars_per_caption=5)
    assert [[w.text for w in g] for g in groups] == [["a"], ["extraordinarily"], ["b", "c"]]
    transcript = Transcript(words=words, utterances=utterances(words), audio_duration_s=4.0)
    assert srt(transcript, chars_per_caption=5) == (
        "1\n00:00:00,000 --> 00:00:00,500\nA: a\n\n"
        "2\n00:00:01,000 --> 00:00:01,500\nA: extraordinarily\n\n"
        "3\n00:00:02,000 --> 00:00:03,500\nA: b c\n"
    )
    # a long first word of an utterance too; one character a caption puts every word alone
    first = caption_groups(utterances(timed("extraordinarily a b")), chars_per_caption=5)
    assert [[w.text for w in g] for g in first] == [["extraordinarily"], ["a", "b"]]
    alone = caption_groups(utterances(words), chars_per_caption=1)
    assert [[w.text for w in g] for g in alone] == [["a"], ["extraordinarily"], ["b"], ["c"]]


def test_chars_per_caption_below_one_is_refused() -> None:
    for bad in (0, -1):
        with pytest.raises(ValueError) as caught:
            caption_groups(TRANSCRIPT.utterances, chars_per_caption=bad)
        assert str(caught.value) == "chars_per_caption must be at least 1"


def test_captions_of_a_transcript_without_speakers() -> None:
    """As `/srt` and `/vtt` build it when the job ran without speaker labels: no utterances,
    the words carry no speaker; captions split by length alone and have no prefix."""
    words = timed("one two three four", speaker=None)
    transcript = Transcript(words=words, utterances=(), audio_duration_s=4.0)
    assert srt(transcript, chars_per_caption=7) == (
        "1\n00:00:00,000 --> 00:00:01,500\none two\n\n"
        "2\n00:00:02,000 --> 00:00:02,500\nthree\n\n"
        "3\n00:00:03,000 --> 00:00:03,500\nfour\n"
    )
    assert vtt(transcript) == "WEBVTT\n\n00:00:00.000 --> 00:00:03.500\none two three four\n"
    assert plain_text(transcript) == "one two three four\n"
