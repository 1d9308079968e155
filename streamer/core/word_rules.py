"""What a transcript request asks of its words once they are recognised (pure), as
AssemblyAI's request fields do, in this order: filler words left out (`disfluencies` off),
text unformatted (`format_text` off: lower case, numbers in words), punctuation removed
(`punctuate` off), custom spellings (last but one: what they write is written as given) and
profanity masked (`filter_profanity`: last, so no spelling brings a word back).

`WordRules()` changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from streamer.core.words import Word

FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "hm", "mm"})
"""Hesitations that AssemblyAI leaves out unless `disfluencies` is on. Back-channels that
answer ("mhm", "uh-huh") are words of their own and stay."""

_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_NUMBER = re.compile(r"^\d{1,3}(,\d{3})+$|^\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class Spelling:
    """`said` (words, compared whatever their case and edge punctuation) is written as
    `written`."""

    said: tuple[str, ...]
    written: str


@dataclass(frozen=True, slots=True)
class WordRules:
    disfluencies: bool = True
    """keep filler words (AssemblyAI's default is off: a request sets it)"""
    format_text: bool = True
    punctuate: bool = True
    spellings: tuple[Spelling, ...] = ()
    profane: frozenset[str] = frozenset()
    """words masked as "f***" (lower case)"""


def bare(text: str) -> str:
    """A word as rules compare it: lower case, without the punctuation at its edges."""
    return _parts(text)[1].lower()


def _parts(text: str) -> tuple[str, str, str]:
    """(punctuation before, the word, punctuation after)."""
    match = _EDGE.match(text)
    assert match is not None  # the pattern matches any text
    return match.group(1), match.group(2), match.group(3)


def apply_rules(
    words: Sequence[Word], rules: WordRules, spell_number: Callable[[str], str] | None = None
) -> tuple[Word, ...]:
    """`words` as `rules` ask; `spell_number` writes a number ("1,200", "3.5") in words in
    the transcript's language (`format_text` off), or None where that language has no
    speller (the digits then stay)."""
    found = list(words)
    if not rules.disfluencies:
        found = [w for w in found if bare(w.text) not in FILLERS]
    if not rules.format_text:
        found = [replace(w, text=_unformatted(w.text, spell_number)) for w in found]
    if not rules.punctuate:
        found = [replace(w, text=_unpunctuated(w.text)) for w in found if _unpunctuated(w.text)]
    for spelling in rules.spellings:
        found = _respelled(found, spelling)
    if rules.profane:
        found = [_masked(w) if bare(w.text) in rules.profane else w for w in found]
    return tuple(found)


def _respelled(words: list[Word], spelling: Spelling) -> list[Word]:
    """Each run of words that says `spelling.said` as the words `spelling.written` gives,
    over the same time (split evenly), keeping the punctuation at the run's edges."""
    size = len(spelling.said)
    out: list[Word] = []
    at = 0
    while at < len(words):
        run = words[at : at + size]
        if len(run) < size or tuple(bare(w.text) for w in run) != spelling.said:
            out.append(words[at])
            at += 1
            continue
        before, after = _parts(run[0].text)[0], _parts(run[-1].text)[2]
        written = spelling.written.split()
        start, end = run[0].start_ms, run[-1].end_ms
        step = (end - start) / len(written)
        for index, text in enumerate(written):
            text = (before if index == 0 else "") + text
            text += after if index == len(written) - 1 else ""
            out.append(
                replace(
                    run[0],
                    text=text,
                    start_ms=round(start + index * step),
                    end_ms=round(start + (index + 1) * step),
                    confidence=min(w.confidence for w in run),
                )
            )
        at += size
    return out


def _masked(word: Word) -> Word:
    before, core, after = _parts(word.text)
    return replace(word, text=before + core[:1] + "*" * (len(core) - 1) + after)


def _unformatted(text: str, spell_number: Callable[[str], str] | None) -> str:
    before, core, after = _parts(text)
    if spell_number is not None and _NUMBER.match(core):
        core = spell_number(core.replace(",", ""))
    return before + core.lower() + after


def _unpunctuated(text: str) -> str:
    """Without punctuation at its edges (inner apostrophes and hyphens stay: "don't")."""
    return _parts(text)[1]
