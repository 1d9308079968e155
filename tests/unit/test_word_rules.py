"""The request's word rules (`core.word_rules`): AssemblyAI's disfluencies, format_text,
punctuate, custom_spelling and filter_profanity, on words with times and speakers."""

from __future__ import annotations

from streamer.core.word_rules import Spelling, WordRules, apply_rules
from streamer.core.words import Word


def said(*texts: str) -> tuple[Word, ...]:
    return tuple(Word(t, 1000 * i, 1000 * i + 800, 0.9, "A") for i, t in enumerate(texts))


def texts(words: tuple[Word, ...]) -> list[str]:
    return [w.text for w in words]


def test_no_rules_change_nothing() -> None:
    words = said("Um,", "I", "paid", "$1,200.")
    assert apply_rules(words, WordRules()) == words


def test_fillers_are_left_out_unless_disfluencies_and_answers_stay() -> None:
    words = said("Um,", "so", "uh", "Mhm.", "Hmm...", "yes.")
    assert texts(apply_rules(words, WordRules(disfluencies=False))) == ["so", "Mhm.", "yes."]


def test_unformatted_text_is_lower_case_with_numbers_in_words() -> None:
    words = said("Chicago", "1,200", "3.5", "$20.", "R2D2")
    spoken = {"1200": "one thousand two hundred", "3.5": "three point five", "20": "twenty"}
    found = apply_rules(words, WordRules(format_text=False), spoken.__getitem__)
    assert texts(found) == [
        "chicago",
        "one thousand two hundred",
        "three point five",
        "$twenty.",
        "r2d2",
    ]
    # a language without a speller keeps its digits
    assert texts(apply_rules(said("1,200"), WordRules(format_text=False))) == ["1,200"]


def test_unpunctuated_words_keep_inner_marks_and_lone_marks_go() -> None:
    found = apply_rules(said("Well,", "don't", "-", "re-run", "it?"), WordRules(punctuate=False))
    assert texts(found) == ["Well", "don't", "re-run", "it"]


def test_a_custom_spelling_writes_words_or_phrases_whatever_their_case() -> None:
    rules = WordRules(
        spellings=(
            Spelling(("di", "carlo"), "DiCarlo"),
            Spelling(("gonna",), "going to"),
        )
    )
    found = apply_rules(said("Mr.", "Di", "Carlo,", "you're", "Gonna", "win."), rules)
    assert texts(found) == ["Mr.", "DiCarlo,", "you're", "going", "to", "win."]
    dicarlo = found[1]
    assert (dicarlo.start_ms, dicarlo.end_ms, dicarlo.speaker) == (1000, 2800, "A")
    going, to = found[3], found[4]  # one word's time, split between the two written
    assert (going.start_ms, going.end_ms, to.start_ms, to.end_ms) == (4000, 4400, 4400, 4800)


def test_profanity_is_masked_after_the_first_letter_and_spellings_cannot_unmask_it() -> None:
    rules = WordRules(profane=frozenset({"damn", "hell"}), spellings=(Spelling(("heck",), "hell"),))
    found = apply_rules(said("Damn,", "what", "the", "heck?"), rules)
    assert texts(found) == ["D***,", "what", "the", "h***?"]


def test_rules_run_in_order_fillers_format_punctuation_spelling_profanity() -> None:
    rules = WordRules(
        disfluencies=False,
        format_text=False,
        punctuate=False,
        spellings=(Spelling(("chicago",), "Chi-Town"),),
    )
    found = apply_rules(said("Uh,", "Chicago.", "Two."), rules, lambda n: n)
    assert texts(found) == ["Chi-Town", "two"]
