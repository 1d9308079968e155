"""Decoder loops cut to one copy; repeats people say kept."""

from __future__ import annotations

import pytest

from streamer.core.repeat_loops import loop_free


def kept(text: str) -> str:
    words = text.split()
    return " ".join(words[i] for i in loop_free(words))


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        # Whisper base on a Swedish count: one word looped to the token limit
        (
            "Tester 1, 2, 3, 7, 8, 8, 8, 8, 8, 8, 8, 8 Ota! Har du",
            "Tester 1, 2, 3, 7, 8, Ota! Har du",
        ),
        # Moonshine on the telephone call: a phrase looped, the last copy cut by the limit
        (
            "so what i don't know i don't know i don't know i don't know i don",
            "so what i don't know",
        ),
        # case and edge punctuation do not hide a loop; what follows it stays
        ("I don't know. i don't know I don't know, i don't know yes", "I don't know. yes"),
    ],
)
def test_a_loop_keeps_its_first_copy(decoded: str, expected: str) -> None:
    assert kept(decoded) == expected


@pytest.mark.parametrize(
    "said",
    [
        "between the relative time in in in a sort of",  # three copies are speech
        "no no no",
        "i don't know i don't know i don't know what",
        "a b a b",
        "",
    ],
)
def test_what_people_repeat_stays(said: str) -> None:
    assert kept(said) == said
