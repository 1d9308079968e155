"""Speaker attribution figures (`streamer.core.attribution`) on hand-built words and reference
turns, each figure worked out by hand in the test."""

from __future__ import annotations

import pytest

from streamer.core.attribution import (
    CHANGE_TOLERANCE_S,
    Attribution,
    ReferenceTurn,
    Unscored,
    attribution,
    best_mapping,
    pooled,
    reference_speaker,
    sentences,
    stretches,
)
from streamer.core.words import Word

WHOLE = [(0.0, 30.0)]
"""The scored region of most cases: 30 s, half a minute."""


def word(text: str, start_s: float, end_s: float, speaker: str | None) -> Word:
    return Word(text, round(start_s * 1000), round(end_s * 1000), 0.9, speaker)


def turn(speaker: str, start_s: float, end_s: float) -> ReferenceTurn:
    return ReferenceTurn(speaker, start_s, end_s)


def test_a_clean_conversation_with_one_word_on_the_wrong_side() -> None:
    """A talks 0-4 s, B 4.5-8 s; the found "you?" ends A's sentence as B's speaker."""
    reference = [turn("A", 0, 4), turn("B", 4.5, 8)]
    words = [
        word("Hello", 0.2, 1.0, "X"),
        word("there.", 1.0, 1.5, "X"),
        word("How", 2.0, 2.5, "X"),
        word("are", 2.5, 3.0, "X"),
        word("you?", 3.0, 3.5, "Y"),
        word("Fine,", 5.0, 6.0, "Y"),
        word("thanks.", 6.0, 7.0, "Y"),
    ]
    scores = attribution(words, reference, WHOLE)
    # X -> A (4 words), Y -> B (2): 6 of 7 right
    assert (scores.words, scores.words_scored, scores.words_right) == (7, 7, 6)
    assert scores.word_accuracy == pytest.approx(6 / 7)
    # no reference turn is under 1 s
    assert (scores.short_scored, scores.short_accuracy) == (0, None)
    # 3 sentences, 6 edges, all with the reference agreeing; only "you?" leaves its sentence
    assert (scores.edges_checked, scores.edges_bled) == (6, 1)
    # X spans 2.3 s, Y 0.5 + 2.0 s: both mapped, neither under 2 s
    assert (scores.found_speakers, scores.phantom_speakers) == (2, 0)
    # the one found change (at 3.0 s) is 1 s before the reference's (4.0-4.5 s)
    assert (scores.found_changes, scores.phantom_changes) == (1, 1)
    assert (scores.found_turns, scores.reference_turns) == (2, 2)
    assert scores.found_turns_per_min == pytest.approx(4.0)  # 2 turns in half a minute
    assert scores.reference_turns_per_min == pytest.approx(4.0)


def test_a_words_reference_speaker_is_the_one_over_most_of_it() -> None:
    """A 0-5 s, B 4-6 s: 4-5 s is overlap."""
    timeline = stretches([turn("A", 0, 5), turn("B", 4, 6)])
    assert reference_speaker(1.0, 2.0, timeline) == "A"
    assert reference_speaker(4.2, 4.8, timeline) is Unscored.SHARED  # all of it in overlap
    assert reference_speaker(4.8, 5.6, timeline) == "B"  # 0.2 of 0.8 s in overlap; B 0.8, A 0.2
    assert reference_speaker(4.5, 5.3, timeline) is Unscored.SHARED  # 0.5 of 0.8 s in overlap
    assert reference_speaker(6.5, 7.0, timeline) is Unscored.OUTSIDE
    assert reference_speaker(5.9, 6.5, timeline) == "B"  # 0.1 s of B is enough
    # two speakers covering a word equally, without overlap
    assert reference_speaker(0.5, 1.5, stretches([turn("A", 0, 1), turn("B", 1, 2)])) is (
        Unscored.SHARED
    )
    # a word without duration is scored at its instant
    assert reference_speaker(1.0, 1.0, timeline) == "A"


def test_unscored_words_are_counted_but_not_scored() -> None:
    reference = [turn("A", 0, 5), turn("B", 4, 6)]
    words = [
        word("one", 1.0, 2.0, "X"),  # A
        word("two", 4.2, 4.8, "X"),  # overlap
        word("three", 4.8, 5.6, "Y"),  # B
        word("four", 7.0, 7.5, "Y"),  # no reference speech
        word("five", 12.0, 12.5, "Y"),  # outside the scored region
    ]
    scores = attribution(words, reference, [(0.0, 10.0)])
    assert scores.words == 4
    assert (scores.words_scored, scores.words_right) == (2, 2)
    assert (scores.words_shared, scores.words_outside) == (1, 1)


def test_the_mapping_is_one_to_one_and_the_best_overall() -> None:
    # greedy would give X -> A (5) and leave Y with nothing: 5; the best is 4 + 4
    counts = {("X", "A"): 5, ("X", "B"): 4, ("Y", "A"): 4}
    assert best_mapping(counts) == {"X": "B", "Y": "A"}
    # a third found speaker has no reference speaker left; one with no word of its match none
    assert best_mapping({("X", "A"): 3, ("Z", "A"): 1}) == {"X": "A"}
    assert best_mapping({}) == {}


def test_a_found_speaker_left_without_a_reference_speaker_is_a_phantom() -> None:
    """A 0-10 s, B 10-20 s; X and Z both speak in A's turn, Y in B's."""
    reference = [turn("A", 0, 10), turn("B", 10, 20)]
    words = [word(f"a{i}", i, i + 0.8, "X") for i in range(5)]  # 0-4.8 s
    words += [word("z0", 6.0, 7.5, "Z"), word("z1", 7.5, 9.0, "Z")]  # 3 s, but A is taken
    words += [word(f"b{i}", 11 + i, 11.8 + i, "Y") for i in range(4)]
    scores = attribution(words, reference, WHOLE)
    assert (scores.words_scored, scores.words_right) == (11, 9)
    assert (scores.found_speakers, scores.phantom_speakers, scores.unmapped_speakers) == (3, 1, 1)
    # no reference speaker is left for Z, and A and B both speak over 2 s
    assert (scores.phantoms_in_overlap, scores.phantoms_of_short_speakers) == (0, 0)
    # X -> Z at 4.8-6.0 s: A still talks (no change); Z -> Y at 9.0-11.0 s: A -> B at 10 s
    assert (scores.found_changes, scores.phantom_changes) == (2, 1)
    assert (scores.found_turns, scores.reference_turns) == (3, 2)


def test_a_speaker_under_2_s_in_all_is_a_phantom_even_when_mapped() -> None:
    reference = [turn("A", 0, 10), turn("B", 10, 20)]
    words = [word(f"a{i}", i, i + 0.8, "X") for i in range(5)]
    words += [word("b0", 11.0, 12.0, "Y"), word("b1", 11.5, 12.9, "Y")]  # 1.9 s, overlaps once
    scores = attribution(words, reference, WHOLE)
    assert scores.words_right == 7
    assert (scores.found_speakers, scores.phantom_speakers, scores.unmapped_speakers) == (2, 1, 0)
    assert scores.phantoms_of_short_speakers == 0  # B speaks 10 s: Y is a split-off voice


def test_phantoms_that_are_real_people_are_counted_apart() -> None:
    """A talks 0-10 s; B only over A, 2-6 s; C says "Oh yeah." alone, 12.0-12.8 s. X is A's;
    Y speaks in B's overlap (its words shared, so unmapped), and Z is C (under 2 s)."""
    reference = [turn("A", 0, 10), turn("B", 2, 6), turn("C", 12, 12.8)]
    words = [word(f"a{i}", i, i + 0.8, "X") for i in (0, 1, 7, 8, 9)]
    words += [word(f"b{i}", 2.5 + i, 3.3 + i, "Y") for i in range(3)]  # in the overlap
    words += [word("Oh", 12.0, 12.3, "Z"), word("yeah.", 12.3, 12.8, "Z")]
    scores = attribution(words, reference, WHOLE)
    assert (scores.words_scored, scores.words_shared) == (7, 3)
    assert (scores.found_speakers, scores.phantom_speakers, scores.unmapped_speakers) == (3, 2, 1)
    assert (scores.phantoms_in_overlap, scores.phantoms_of_short_speakers) == (1, 1)


def test_short_utterances_are_the_words_of_reference_turns_under_1_s() -> None:
    """A 0-3 s, B says "Yeah." 3.2-3.8 s, A again 4-7 s."""
    reference = [turn("A", 0, 3), turn("B", 3.2, 3.8), turn("A", 4, 7)]
    before = [word(f"a{i}", 0.5 * i, 0.5 * i + 0.4, "X") for i in range(6)]  # 0-2.9 s
    after = [word(f"c{i}", 4 + 0.5 * i, 4.4 + 0.5 * i, "X") for i in range(6)]  # 4-6.9 s
    missed = attribution([*before, word("Yeah.", 3.3, 3.7, "X"), *after], reference, WHOLE)
    # X -> A: the reply is the one wrong word, and the only short one
    assert (missed.words_scored, missed.words_right) == (13, 12)
    assert (missed.short_scored, missed.short_right) == (1, 0)
    assert missed.short_accuracy == 0.0
    assert (missed.found_changes, missed.found_turns, missed.reference_turns) == (0, 1, 3)
    found = attribution([*before, word("Yeah.", 3.3, 3.7, "Y"), *after], reference, WHOLE)
    assert (found.words_right, found.short_right) == (13, 1)
    # both changes lie at the reference's (3.0-3.2 s and 3.8-4.0 s)
    assert (found.found_changes, found.phantom_changes) == (2, 0)
    assert found.found_turns == 3
    # Y is right, but holds 0.4 s: a phantom by the 2 s rule
    assert found.phantom_speakers == 1


def test_bleed_is_an_edge_word_leaving_its_sentence_where_the_reference_does_not() -> None:
    """A 0-2 s, B 2.2-5 s; "New" of B's sentence keeps A's label ("New A: Jersey")."""
    reference = [turn("A", 0, 2), turn("B", 2.2, 5)]
    words = [
        word("I'm", 0.2, 0.5, "X"),
        word("from", 0.5, 0.9, "X"),
        word("Texas.", 0.9, 1.8, "X"),
        word("New", 2.3, 2.6, "X"),
        word("Jersey", 2.6, 3.0, "Y"),
        word("here.", 3.0, 3.4, "Y"),
    ]
    scores = attribution(words, reference, WHOLE)
    # all 4 edges checked; "New" leaves "Jersey here."; "here." is one of the rest's labels
    assert (scores.edges_checked, scores.edges_bled) == (4, 1)
    assert scores.boundary_bleed == pytest.approx(0.25)


def test_an_edge_whose_reference_speaker_changes_too_is_not_checked() -> None:
    """A says "Okay" (0-1 s), then B "so we go." in the same found sentence."""
    reference = [turn("A", 0, 1), turn("B", 1, 5)]
    words = [
        word("Okay", 0.2, 0.8, "X"),
        word("so", 1.2, 1.5, "Y"),
        word("we", 1.5, 1.8, "Y"),
        word("go.", 1.8, 2.2, "Y"),
    ]
    scores = attribution(words, reference, WHOLE)
    # "Okay" is A's, the rest B's: not checked; "go." agrees with the rest in both
    assert (scores.edges_checked, scores.edges_bled) == (1, 0)
    # a two-word sentence split in two: each edge leaves the other
    two = attribution(
        [word("Oh", 1.5, 1.8, "X"), word("hello.", 1.8, 2.4, "Y")], [turn("B", 1, 3)], WHOLE
    )
    assert (two.edges_checked, two.edges_bled) == (2, 2)


def test_sentences_end_at_sentence_end_marks() -> None:
    texts = ["Hi.", "How", "are", "you?", "Fine!", "ok"]
    words = [word(t, i, i + 0.5, "X") for i, t in enumerate(texts)]
    assert sentences(words) == [[0], [1, 2, 3], [4], [5]]


def test_a_change_is_real_within_the_tolerance_of_the_reference_change() -> None:
    reference = [turn("A", 0, 5), turn("B", 5, 10)]
    for at, phantom in ((5.4, 0), (5.0 + CHANGE_TOLERANCE_S, 0), (5.6, 1), (4.4, 1)):
        words = [word("one", at - 1, at, "X"), word("two", at, at + 1, "Y")]
        scores = attribution(words, reference, WHOLE)
        assert (scores.found_changes, scores.phantom_changes) == (1, phantom), at
    # a change anywhere in a pause between the two speakers is real
    reference = [turn("A", 0, 5), turn("B", 8, 10)]
    words = [word("one", 4.0, 5.0, "X"), word("two", 8.0, 9.0, "Y")]
    assert attribution(words, reference, WHOLE).phantom_changes == 0


def test_a_pause_of_one_speaker_is_no_reference_change() -> None:
    reference = [turn("A", 0, 2), turn("A", 3, 5)]
    words = [word("one", 1.0, 2.0, "X"), word("two", 3.0, 4.0, "Y")]
    scores = attribution(words, reference, WHOLE)
    assert (scores.phantom_changes, scores.reference_turns) == (1, 1)


def test_reference_turns_follow_who_started_last() -> None:
    def turns(*reference: ReferenceTurn) -> int:
        return attribution([], reference, WHOLE).reference_turns

    assert turns(turn("A", 0, 10), turn("B", 4, 5)) == 3  # a back-channel: A, B, A
    assert turns(turn("A", 0, 5), turn("B", 4.5, 10)) == 2  # overlap at the change: A, B
    assert turns(turn("A", 0, 2), turn("B", 3, 4), turn("A", 5, 6)) == 3
    assert turns() == 0


def test_the_scored_regions_cut_the_reference_and_set_the_minutes() -> None:
    reference = [turn("A", 0, 10), turn("B", 10, 20), turn("A", 20, 30)]
    words = [word("one", 5.0, 6.0, "X"), word("two", 14.0, 15.0, "Y"), word("three", 25, 26, "X")]
    scores = attribution(words, reference, [(0.0, 12.0)])
    assert (scores.words, scores.words_right, scores.reference_turns) == (1, 1, 2)
    assert scores.minutes == pytest.approx(0.2)
    assert scores.reference_turns_per_min == pytest.approx(10.0)


def test_words_without_a_speaker_are_one_found_speaker() -> None:
    scores = attribution(
        [word("one", 1.0, 2.0, None), word("two", 2.0, 3.5, None)], [turn("A", 0, 5)], WHOLE
    )
    assert (scores.words_right, scores.found_speakers, scores.phantom_speakers) == (2, 1, 0)


def test_pooled_figures_are_over_all_words_not_averaged_over_files() -> None:
    one = Attribution(words=10, words_scored=10, words_right=9, minutes=0.5, found_turns=3)
    two = Attribution(words=2, words_scored=2, words_right=0, minutes=1.5, found_turns=1)
    both = pooled([one, two])
    assert (both.words_scored, both.words_right) == (12, 9)
    assert both.word_accuracy == pytest.approx(9 / 12)  # not (0.9 + 0) / 2
    assert both.found_turns_per_min == pytest.approx(2.0)
    assert pooled([]) == Attribution()
    assert Attribution().rates() == {
        "word_accuracy": None,
        "short_accuracy": None,
        "boundary_bleed": None,
        "phantom_turn_share": None,
        "found_turns_per_min": None,
        "reference_turns_per_min": None,
    }
