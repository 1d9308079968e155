from streamer.captions import caption_groups, plain_text, srt, vtt
from streamer.events import Transcript, Word
from streamer.offline import utterances

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
