"""Where words and short phrases are spoken in a transcript (`/word-search`).

A term matches a run of transcript words with the same letters and digits, whatever the case
and punctuation ("Smoke," matches "smoke"; "foo bar" matches "Foo... bar?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from streamer.core.words import Word

MAX_TERM_WORDS = 5
"""A term is a word, a number or a phrase of at most this many words (as AssemblyAI)."""

_NOT_WORD = re.compile(r"[^\w']+")


@dataclass(frozen=True, slots=True)
class WordMatch:
    term: str
    indexes: tuple[int, ...]
    """index in the transcript's words of each match's first word"""
    spans_ms: tuple[tuple[int, int], ...]
    """start of each match's first word, end of its last"""


def normalized(text: str) -> tuple[str, ...]:
    """The words of `text` as compared: lower case, punctuation (but apostrophes) gone."""
    return tuple(part for part in _NOT_WORD.split(text.lower()) if part.strip("'"))


def search(words: Sequence[Word], terms: Sequence[str]) -> list[WordMatch]:
    """Each term's matches (blank terms dropped, the others in the given order, each once);
    `ValueError` for a term of no word or of more than `MAX_TERM_WORDS` words."""
    spoken = [normalized(w.text) for w in words]
    flat: list[str] = []
    first_of: list[int] = []  # the transcript word each normalized token came from
    for index, tokens in enumerate(spoken):
        flat.extend(tokens)
        first_of.extend([index] * len(tokens))
    matches: list[WordMatch] = []
    for term in dict.fromkeys(t.strip() for t in terms if t.strip()):
        wanted = normalized(term)
        if not wanted or len(wanted) > MAX_TERM_WORDS:
            raise ValueError(f"a term is 1 to {MAX_TERM_WORDS} words, not {term!r}")
        hits = [
            at
            for at in range(len(flat) - len(wanted) + 1)
            if tuple(flat[at : at + len(wanted)]) == wanted
        ]
        indexes = tuple(first_of[at] for at in hits)
        ends = tuple(first_of[at + len(wanted) - 1] for at in hits)
        matches.append(
            WordMatch(
                term=term,
                indexes=indexes,
                spans_ms=tuple(
                    (words[i].start_ms, words[j].end_ms) for i, j in zip(indexes, ends, strict=True)
                ),
            )
        )
    return matches
