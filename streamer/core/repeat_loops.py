"""Decoder loops (pure): a greedy decoder that falls into a loop writes the same few words
over and over ("8, 8, 8, 8, ...", "i don't know i don't know ...") until its token limit.
People do repeat themselves ("in in in", "no no no"), but not the same words four times
running and more; so a run of four or more copies keeps its first copy, and a cut-off copy
that ends the text (where the limit stopped the decoder) goes too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MIN_COPIES = 4
"""Copies in a row that make a loop (three stay: "in in in" is speech)."""
MAX_CYCLE = 8
"""Longest run of words that a loop repeats."""
_EDGES = re.compile(r"^\W+|\W+$")


def loop_free(texts: Sequence[str]) -> list[int]:
    """Indices of the words of `texts` to keep: each loop (a cycle of up to `MAX_CYCLE`
    words repeated `MIN_COPIES` times or more, compared without case and edge punctuation)
    keeps its first copy."""
    keys = [_EDGES.sub("", text).lower() for text in texts]
    kept: list[int] = []
    at = 0
    while at < len(keys):
        cycle, copies = _longest_loop(keys, at)
        if copies < MIN_COPIES:
            kept.append(at)
            at += 1
            continue
        kept.extend(range(at, at + cycle))
        at += cycle * copies
        if _cut_off_copy(keys[at:], keys[at - cycle : at]):
            at = len(keys)
    return kept


def _longest_loop(keys: list[str], at: int) -> tuple[int, int]:
    """(cycle length, copies in a row) of the cycle starting at `at` that covers the most
    words; copies 1 when no cycle repeats."""
    best = (1, 1)
    for cycle in range(1, MAX_CYCLE + 1):
        pattern = keys[at : at + cycle]
        if len(pattern) < cycle:
            break
        copies = 1
        while keys[at + copies * cycle : at + (copies + 1) * cycle] == pattern:
            copies += 1
        if copies > 1 and cycle * copies > best[0] * best[1]:
            best = (cycle, copies)
    return best


def _cut_off_copy(tail: list[str], pattern: list[str]) -> bool:
    """`tail` (the rest of the text) is the start of one more copy of `pattern`, its last
    word perhaps cut inside: the copy the token limit stopped."""
    if not tail or len(tail) >= len(pattern):
        return False
    last = len(tail) - 1
    return tail[:last] == pattern[:last] and pattern[last].startswith(tail[last])
