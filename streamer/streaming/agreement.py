"""Which words of a re-decoded open turn are stable enough to call final (LocalAgreement-2:
a word is committed once two consecutive hypotheses agree on it and on everything before it)."""

from __future__ import annotations

import re

_NORMALIZE = re.compile(r"[^\w']+")


def _key(text: str) -> str:
    return _NORMALIZE.sub("", text.lower())


def agreed_prefix_length(previous: list[str], current: list[str]) -> int:
    """Number of leading words the two hypotheses share (case and punctuation ignored)."""
    length = 0
    for before, now in zip(previous, current, strict=False):
        if _key(before) != _key(now):
            break
        length += 1
    return length


class StablePrefix:
    """Tracks the committed prefix of one open turn across partial decodes."""

    def __init__(self) -> None:
        self._previous: list[str] = []
        self.committed = 0

    @property
    def has_words(self) -> bool:
        """Whether the latest hypothesis held any word."""
        return bool(self._previous)

    def update(self, words: list[str]) -> int:
        """Feed the newest hypothesis; returns how many of its leading words are final. The
        committed count never shrinks while the turn is open."""
        agreed = agreed_prefix_length(self._previous, words)
        self.committed = min(max(self.committed, agreed), len(words))
        self._previous = words
        return self.committed
