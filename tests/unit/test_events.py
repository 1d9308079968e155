"""The session's typed events: what a TurnUpdate says of its words, and the transcript a client
holds once it has applied finals and revisions."""

from __future__ import annotations

from streamer.core.words import Word
from streamer.streaming.events import (
    HeldTranscript,
    RevisedTurn,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
    is_result,
    with_words,
)


def words(*spoken: tuple[str, str | None]) -> tuple[Word, ...]:
    return tuple(
        Word(text, 100 * i, 100 * i + 90, 0.9, speaker) for i, (text, speaker) in enumerate(spoken)
    )


def update(
    turn_order: int, spoken: tuple[Word, ...], final_count: int | None = None, end: bool = True
) -> TurnUpdate:
    return TurnUpdate(
        turn_order=turn_order,
        words=spoken,
        final_count=len(spoken) if final_count is None else final_count,
        end_of_turn=end,
        formatted=False,
        end_of_turn_confidence=0.9,
    )


HELLO = words(("Hello", "A"), ("there", "A"), ("friend", "B"))


def test_transcript_is_the_final_words_text() -> None:
    assert update(0, HELLO, final_count=2, end=False).transcript == "Hello there"
    assert update(0, HELLO, final_count=0, end=False).transcript == ""
    assert update(0, HELLO).transcript == "Hello there friend"
    assert update(0, ()).transcript == ""


def test_word_is_final_marks_the_first_final_count_words() -> None:
    assert update(0, HELLO, final_count=0, end=False).word_is_final == (False, False, False)
    assert update(0, HELLO, final_count=2, end=False).word_is_final == (True, True, False)
    assert update(0, HELLO).word_is_final == (True, True, True)
    assert update(0, ()).word_is_final == ()


def test_speaker_label_is_the_majority_first_heard_on_ties() -> None:
    assert update(0, HELLO).speaker_label == "A"
    assert update(0, words(("a", "B"), ("b", "A"), ("c", "A"))).speaker_label == "A"
    assert update(0, words(("a", "B"), ("b", "A"))).speaker_label == "B"
    assert update(0, words(("a", "A"), ("b", "B"))).speaker_label == "A"
    assert update(0, words(("a", None), ("b", "B"), ("c", None))).speaker_label == "B"
    assert update(0, words(("a", None), ("b", None))).speaker_label is None
    assert update(0, ()).speaker_label is None
    # all words count, final or not
    assert update(0, HELLO, final_count=0, end=False).speaker_label == "A"
    assert RevisedTurn(0, words(("a", "A"), ("b", "C"), ("c", "C"))).speaker_label == "C"


def test_held_transcript_holds_finals_in_turn_order_and_ignores_partials() -> None:
    held = HeldTranscript()
    assert held.apply(SpeechStarted(timestamp_ms=480)) == []
    assert held.apply(update(0, HELLO, final_count=1, end=False)) == []
    assert held.turns == {} and held.words == ()
    second = words(("Yes.", "B"))
    assert held.apply(update(1, second)) == [1]
    assert held.apply(update(0, HELLO)) == [0]  # a turn's final may come after a later one
    assert held.words == (*HELLO, *second)
    assert held.apply(update(2, words(("late", "A")), final_count=0, end=False)) == []
    assert held.apply(update(0, words(("partial", "A")), end=False)) == []
    assert held.words == (*HELLO, *second)


def test_held_transcript_applies_revisions() -> None:
    held = HeldTranscript()
    first, second = words(("Hello", "A"), ("there", "A")), words(("Yes", "A"))
    held.apply(update(0, first))
    held.apply(update(1, second))
    revised_first = words(("Hello", "A"), ("there", "B"))
    revised_second = words(("Yes", "B"))
    revision = SpeakerRevision((RevisedTurn(1, revised_second), RevisedTurn(0, revised_first)))
    assert held.apply(revision) == [1, 0]
    assert held.turns == {0: revised_first, 1: revised_second}
    assert held.words == (*revised_first, *revised_second)
    assert held.apply(SpeakerRevision(())) == []
    assert held.words == (*revised_first, *revised_second)


def test_with_words_changes_every_word_of_a_turn_or_revision_and_nothing_else() -> None:
    def shout(word: Word) -> Word:
        return word.with_speaker(f"{word.speaker}!")

    turn = with_words(update(3, HELLO, final_count=2, end=False), shout)
    assert isinstance(turn, TurnUpdate)
    assert [w.speaker for w in turn.words] == ["A!", "A!", "B!"]
    assert (turn.turn_order, turn.final_count, turn.end_of_turn) == (3, 2, False)
    revision = with_words(
        SpeakerRevision((RevisedTurn(1, HELLO), RevisedTurn(2, HELLO[:1]))), shout
    )
    assert isinstance(revision, SpeakerRevision)
    assert [[w.speaker for w in t.words] for t in revision.turns] == [["A!", "A!", "B!"], ["A!"]]
    assert [t.turn_order for t in revision.turns] == [1, 2]
    assert with_words(SpeechStarted(40), shout) == SpeechStarted(40)


def test_results_are_finals_and_revisions() -> None:
    assert is_result(update(0, HELLO))
    assert is_result(SpeakerRevision((RevisedTurn(0, HELLO),)))
    assert not is_result(update(0, HELLO, end=False))
    assert not is_result(SpeechStarted(0))
