"""What the streaming evaluation reads from the events a client got, and when."""

from __future__ import annotations

import pytest

from streamer.core.words import Word
from streamer.streaming.events import (
    HeldTranscript,
    RevisedTurn,
    SessionEvent,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
)
from streamer.tools.simulation import measure


def turn(words: list[Word], final: bool, confidence: float) -> TurnUpdate:
    return TurnUpdate(
        turn_order=0,
        words=tuple(words),
        final_count=len(words) if final else 0,
        end_of_turn=final,
        formatted=False,
        end_of_turn_confidence=confidence,
    )


def test_measure_reads_latencies_flips_and_unsure_finals() -> None:
    hello, there = Word("hello", 1000, 1400, 0.9, "A"), Word("there", 1500, 2000, 0.9, "A")
    revised = (hello, Word("there", 1500, 2000, 0.9, "B"))
    sent: list[tuple[float, SessionEvent]] = [
        (1.0, SpeechStarted(1000)),
        (1.6, turn([hello], final=False, confidence=0.1)),
        (3.3, turn([hello, there], final=True, confidence=0.1)),  # waited for max silence
        (4.0, SpeakerRevision((RevisedTurn(0, revised),))),
    ]
    stats = measure(sent, confidence_threshold=0.4)
    assert stats.first_partial_s == [pytest.approx(0.6)]
    assert stats.final_after_speech_s == [pytest.approx(1.3)]
    assert stats.finals_unsure == 1 and stats.words_sent == 2 and stats.label_flips == 1
    # one final, of one speaker when sent; the revision left "hello" A's and "there" B's
    assert (stats.finals, stats.finals_mixed_sent, stats.finals_mixed_held) == (1, 0, 1)
    assert sorted(stats.word_final_lag_s) == [pytest.approx(1.3), pytest.approx(1.9)]
    held = HeldTranscript()
    for _, event in sent:
        held.apply(event)
    assert [w.speaker for w in held.words] == ["A", "B"]

    sure = [*sent[:2], (2.5, turn([hello, there], True, 0.9))]
    assert measure(sure, confidence_threshold=0.4).finals_unsure == 0
