"""What the request's word rules (`core.word_rules`) take from packages: the profanity list
(`better-profanity`'s word list, read as a file) and numbers written in words (`num2words`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from num2words import num2words

from streamer.models.manifest import package_file

PROFANITY_LIST = ("better_profanity", "profanity_wordlist.txt")


@cache
def profane_words() -> frozenset[str]:
    """The list's single words, lower case (its few phrases are left out: words are masked
    one by one)."""
    lines = package_file(*PROFANITY_LIST).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and " " not in w.strip())


def number_speller(language: str | None) -> Callable[[str], str] | None:
    """Writes a number ("1200", "3.5") in words of `language` (Whisper's code; None:
    English); None when `num2words` has no speller for it."""
    lang = language or "en"
    try:
        num2words(1, lang=lang)
    except NotImplementedError:
        return None

    def spell(number: str) -> str:
        return str(num2words(float(number) if "." in number else int(number), lang=lang))

    return spell
