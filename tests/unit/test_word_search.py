"""`/word-search` matching: case and punctuation aside, phrases over consecutive words."""

from __future__ import annotations

import pytest

from streamer.core.word_search import search
from streamer.core.words import Word


def words(text: str) -> list[Word]:
    return [Word(t, 1000 * i, 1000 * i + 500, 0.9) for i, t in enumerate(text.split())]


def test_words_match_whatever_their_case_and_punctuation() -> None:
    [smoke] = search(words("Smoke, rises. The smoke? smoker smoke"), ["smoke"])
    assert smoke.term == "smoke"
    assert smoke.indexes == (0, 3, 5)
    assert smoke.spans_ms == ((0, 500), (3000, 3500), (5000, 5500))


def test_a_phrase_spans_its_first_to_its_last_word() -> None:
    [match] = search(words("so foo... Bar! then foo bar foo"), ["foo bar"])
    assert match.indexes == (1, 4)
    assert match.spans_ms == ((1000, 2500), (4000, 5500))


def test_terms_keep_their_order_once_each_and_blanks_are_dropped() -> None:
    found = search(words("forty two 42 don't"), ["42", " ", "don't", "42", "absent"])
    assert [(m.term, m.indexes) for m in found] == [("42", (2,)), ("don't", (3,)), ("absent", ())]


@pytest.mark.parametrize("term", ["...", "one two three four five six"])
def test_a_term_of_no_word_or_over_five_words_is_refused(term: str) -> None:
    with pytest.raises(ValueError, match="1 to 5 words"):
        search(words("one two three four five six"), [term])
