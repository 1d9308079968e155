"""Sentences and paragraphs of a transcript (`/sentences`, `/paragraphs`): the exact rules."""

from __future__ import annotations

import pytest

from streamer.core.passages import (
    PARAGRAPH_GAP_MS,
    PARAGRAPH_MAX_SENTENCES,
    Passage,
    paragraphs,
    sentences,
)
from streamer.core.words import Word


def spoken(
    text: str, speaker: str | None = "A", start_ms: int = 0, step_ms: int = 300
) -> list[Word]:
    """The words of `text`, one every `step_ms` from `start_ms`, each 250 ms long."""
    return [
        Word(token, start_ms + i * step_ms, start_ms + i * step_ms + 250, 0.5 + i / 100, speaker)
        for i, token in enumerate(text.split())
    ]


def texts(passages: list[Passage]) -> list[str]:
    return [p.text for p in passages]


def flattened(passages: list[Passage]) -> tuple[Word, ...]:
    return tuple(w for p in passages for w in p.words)


def test_sentences_end_at_full_stop_question_and_exclamation_marks() -> None:
    words = tuple(spoken("Hi. How are you? Fine! Thanks. Bye"))
    found = sentences(words)
    assert texts(found) == ["Hi.", "How are you?", "Fine!", "Thanks.", "Bye"]
    assert flattened(found) == words


def test_only_the_last_character_of_a_word_ends_a_sentence() -> None:
    words = tuple(spoken("It costs 3.50 or e.g. 4?! Yes... ok"))
    assert texts(sentences(words)) == ["It costs 3.50 or e.g.", "4?!", "Yes...", "ok"]


def test_a_trailing_sentence_without_an_end_mark_is_kept() -> None:
    words = tuple(spoken("So. and then we"))
    found = sentences(words)
    assert texts(found) == ["So.", "and then we"]
    assert found[-1].words == words[1:]


def test_a_change_of_speaker_ends_a_sentence() -> None:
    a = spoken("So I was", "A")
    b = spoken("right. Yes", "B", start_ms=1000)
    c = spoken("thinking.", "A", start_ms=2000)
    words = tuple(a + b + c)
    found = sentences(words)
    assert texts(found) == ["So I was", "right.", "Yes", "thinking."]
    assert [s.speaker for s in found] == ["A", "B", "B", "A"]
    assert flattened(found) == words


def test_sentences_without_speakers_split_at_end_marks_only() -> None:
    words = tuple(spoken("One two. Three four? five", speaker=None))
    found = sentences(words)
    assert texts(found) == ["One two.", "Three four?", "five"]
    assert [s.speaker for s in found] == [None, None, None]
    # a word without a speaker next to one with a speaker is a change of speaker
    mixed = (*spoken("no label", None), *spoken("labelled", "A", start_ms=600))
    assert texts(sentences(mixed)) == ["no label", "labelled"]


def test_no_words_no_passages() -> None:
    assert sentences(()) == [] and paragraphs(()) == []


def test_passage_text_confidence_and_majority_speaker() -> None:
    a1, a2 = spoken("yes yes", "A")
    b1, b2, b3 = spoken("no no no", "B")
    passage = Passage((a1, b1, a2, b2, b3))
    assert passage.text == "yes no yes no no"
    assert passage.speaker == "B"  # 3 of 5 words
    assert passage.confidence == pytest.approx((0.50 + 0.50 + 0.51 + 0.51 + 0.52) / 5)
    unlabelled = spoken("x y z", None)
    assert Passage((*unlabelled, a1)).speaker == "A"  # words without a speaker do not count
    assert Passage(tuple(unlabelled)).speaker is None
    assert Passage((a1, b1)).speaker == "A"  # a tie goes to the speaker heard first
    assert Passage((b1, a1)).speaker == "B"
    assert Passage(()).confidence == 0.0 and Passage(()).speaker is None


def test_one_speakers_consecutive_sentences_form_one_paragraph() -> None:
    words = tuple(spoken("Hi. How are you? Fine."))
    found = paragraphs(words)
    assert texts(found) == ["Hi. How are you? Fine."]
    assert found[0].words == words and found[0].speaker == "A"


def test_a_change_of_speaker_starts_a_paragraph() -> None:
    words = tuple(
        spoken("Hi. How are you?", "A")
        + spoken("Fine. And you?", "B", start_ms=1500)
        + spoken("Good. Me too", "A", start_ms=3000)
    )
    found = paragraphs(words)
    assert texts(found) == ["Hi. How are you?", "Fine. And you?", "Good. Me too"]
    assert [p.speaker for p in found] == ["A", "B", "A"]
    assert flattened(found) == words


def test_a_pause_of_paragraph_gap_between_sentences_starts_a_paragraph() -> None:
    assert PARAGRAPH_GAP_MS == 2000
    first = spoken("Done.")  # ends at 250 ms
    just_under = spoken("Next.", start_ms=250 + PARAGRAPH_GAP_MS - 1)
    assert texts(paragraphs(tuple(first + just_under))) == ["Done. Next."]
    exactly = spoken("Next.", start_ms=250 + PARAGRAPH_GAP_MS)
    assert texts(paragraphs(tuple(first + exactly))) == ["Done.", "Next."]
    # the gap is from the end of the last word to the start of the next, whatever the speaker
    unlabelled = spoken("Done.", None) + spoken("Next.", None, start_ms=250 + PARAGRAPH_GAP_MS)
    assert texts(paragraphs(tuple(unlabelled))) == ["Done.", "Next."]


def test_a_pause_inside_a_sentence_does_not_break_the_paragraph() -> None:
    """Paragraphs break only between sentences: a long pause mid-sentence is kept in it."""
    words = tuple(spoken("We paused", start_ms=0) + spoken("here. Then.", start_ms=10_000))
    assert texts(paragraphs(words)) == ["We paused here. Then."]


def test_a_paragraph_holds_at_most_paragraph_max_sentences() -> None:
    assert PARAGRAPH_MAX_SENTENCES == 8
    one = tuple(spoken(" ".join(f"S{i}." for i in range(8))))
    assert texts(paragraphs(one)) == ["S0. S1. S2. S3. S4. S5. S6. S7."]
    words = tuple(spoken(" ".join(f"S{i}." for i in range(17)) + " and"))
    found = paragraphs(words)
    assert [len(sentences(p.words)) for p in found] == [8, 8, 2]
    assert texts(found) == [
        "S0. S1. S2. S3. S4. S5. S6. S7.",
        "S8. S9. S10. S11. S12. S13. S14. S15.",
        "S16. and",
    ]
    assert flattened(found) == words


def test_words_are_never_lost_or_reordered() -> None:
    words = tuple(
        spoken("Well. I think so? Maybe", "A")
        + spoken("no! Not at all", "B", start_ms=2000)
        + spoken("ok", None, start_ms=3500)
        + spoken("Right. Then. Again.", "A", start_ms=9000)
        + spoken(" ".join(["Yes."] * 10), "A", start_ms=12_000)  # 2150 ms after "Again."
    )
    for split in (sentences, paragraphs):
        found = split(words)
        assert flattened(found) == words, split.__name__
        assert all(p.words for p in found), split.__name__
    assert texts(paragraphs(words)) == [
        "Well. I think so? Maybe",
        "no! Not at all",
        "ok",
        "Right. Then. Again.",
        "Yes. Yes. Yes. Yes. Yes. Yes. Yes. Yes.",
        "Yes. Yes.",
    ]
