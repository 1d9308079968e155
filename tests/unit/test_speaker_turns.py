"""Client turns end where the speaker changes: a session turn that holds two speakers goes
out as two turns, and its revisions as revisions of those turns."""

from __future__ import annotations

from streamer.core.words import Word
from streamer.streaming.events import RevisedTurn, SpeakerRevision, TurnUpdate
from streamer.streaming.speaker_turns import SPEAKER_CHANGE_CONFIDENCE, SpeakerTurns, speaker_change


def said(spec: str) -> tuple[Word, ...]:
    """ "A:so A:then B:yes B:right" -> words with those speakers, 300 ms apart."""
    pairs = [item.split(":") for item in spec.split()]
    return tuple(
        Word(text, 300 * i, 300 * i + 250, 0.9, who) for i, (who, text) in enumerate(pairs)
    )


def update(order: int, words: tuple[Word, ...], final: bool = False) -> TurnUpdate:
    return TurnUpdate(order, words, len(words) if final else 0, final, False, 0.1)


def test_a_change_needs_two_words_of_the_new_speaker() -> None:
    words = said("A:so A:then B:yes A:and A:more")
    assert speaker_change(words, 0, len(words), 2) is None  # a one-word back-channel
    words = said("A:so A:then B:yes B:right A:ok")
    assert speaker_change(words, 0, len(words), 2) == 2
    assert speaker_change(words, 0, 3, 2) is None  # "yes" alone is not settled as a change


def test_a_session_turn_of_two_speakers_goes_out_as_two_turns() -> None:
    turns = SpeakerTurns()
    first = said("A:so A:then B:yes B:right B:now")
    events = turns.partial(update(0, first), settled=4)
    assert [(e.turn_order, e.end_of_turn, [w.text for w in e.words]) for e in events] == [
        (0, True, ["so", "then"]),
        (1, False, ["yes", "right", "now"]),
    ]
    assert events[0].end_of_turn_confidence == SPEAKER_CHANGE_CONFIDENCE
    finals = turns.final(update(0, first, final=True))
    assert [(e.turn_order, [w.text for w in e.words]) for e in finals] == [
        (1, ["yes", "right", "now"])
    ]
    assert finals[0].end_of_turn_confidence == 0.1  # as the session turn ended
    # the next session turn gets the next client order
    [after] = turns.final(update(1, said("A:ok"), final=True))
    assert after.turn_order == 2


def test_a_final_splits_at_every_change_it_holds() -> None:
    turns = SpeakerTurns()
    words = said("A:one A:two B:three B:four A:five A:six")
    finals = turns.final(update(0, words, final=True))
    assert [(e.turn_order, [w.speaker for w in e.words]) for e in finals] == [
        (0, ["A", "A"]),
        (1, ["B", "B"]),
        (2, ["A", "A"]),
    ]


def test_revisions_follow_the_split_and_name_only_changed_turns() -> None:
    turns = SpeakerTurns()
    words = said("A:one A:two B:three B:four")
    turns.final(update(0, words, final=True))
    relabelled = said("A:one A:two C:three C:four")
    revision = turns.revision(SpeakerRevision((RevisedTurn(0, relabelled),)))
    assert revision == SpeakerRevision((RevisedTurn(1, relabelled[2:]),))
    assert turns.revision(SpeakerRevision((RevisedTurn(0, relabelled),))) is None  # as sent
    assert turns.revision(SpeakerRevision((RevisedTurn(7, relabelled),))) is None  # unknown


def test_without_speakers_turns_pass_through() -> None:
    turns = SpeakerTurns()
    words = tuple(Word(t, 0, 1, 0.9) for t in ["no", "labels", "here"])
    [event] = turns.final(update(0, words, final=True))
    assert event.turn_order == 0 and event.words == words
