"""The v3 wire shapes: every session event survives the JSON a server sends and a client
reads back, with the fields the AssemblyAI SDK expects."""

from __future__ import annotations

import json

from streamer.api.wire import (
    Begun,
    Refused,
    Terminated,
    begin_message,
    error_message,
    read_server_message,
    stream_message,
    termination_message,
)
from streamer.core.words import Word
from streamer.streaming.events import (
    RevisedTurn,
    SessionEvent,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
)

HELLO = Word("Hello", 100, 400, 0.9, "A")
THERE = Word("there.", 450, 800, 0.8, "B")


def round_trip(event: SessionEvent) -> object:
    return read_server_message(json.loads(json.dumps(stream_message(event))))


def test_events_survive_the_wire() -> None:
    partial = TurnUpdate(0, (HELLO, THERE), 1, False, False, 0.1)
    final = TurnUpdate(0, (HELLO, THERE), 2, True, True, 0.9)
    revision = SpeakerRevision((RevisedTurn(0, (HELLO, THERE.with_speaker("A"))),))
    for event in (SpeechStarted(320), partial, final, revision):
        assert round_trip(event) == event


def test_a_turn_has_the_fields_the_sdk_reads() -> None:
    message = stream_message(TurnUpdate(3, (HELLO, THERE), 1, False, False, 0.1))
    assert message == {
        "type": "Turn",
        "turn_order": 3,
        "turn_is_formatted": False,
        "end_of_turn": False,
        "transcript": "Hello",
        "end_of_turn_confidence": 0.1,
        "words": [
            {
                "text": "Hello",
                "start": 100,
                "end": 400,
                "confidence": 0.9,
                "speaker": "A",
                "word_is_final": True,
            },
            {
                "text": "there.",
                "start": 450,
                "end": 800,
                "confidence": 0.8,
                "speaker": "B",
                "word_is_final": False,
            },
        ],
        "speaker_label": "A",
    }
    unnamed = stream_message(TurnUpdate(0, (HELLO.with_speaker(None),), 0, False, False, 0.1))
    assert "speaker_label" not in unnamed and "speaker" not in unnamed["words"][0]


def test_session_messages_read_back() -> None:
    assert read_server_message(begin_message("abc", 1700000000)) == Begun("abc", 1700000000)
    assert read_server_message(termination_message(29.6, 31.2)) == Terminated(30, 31)
    assert read_server_message(error_message("too long", 3008)) == Refused("too long", 3008)
    assert read_server_message({"type": "Unheard"}) is None


def test_a_turn_the_next_speaker_ended_reads_back_as_such() -> None:
    """Its end-of-turn confidence 1.0 is the sign a client has: a pause gives 0.9 or 0.1."""
    by_speaker = TurnUpdate(3, (HELLO,), 1, True, False, 1.0, speaker_changed=True)
    by_pause = TurnUpdate(4, (HELLO,), 1, True, False, 0.9)
    open_turn = TurnUpdate(5, (HELLO,), 0, False, False, 1.0)
    for event in (by_speaker, by_pause, open_turn):
        assert read_server_message(json.loads(json.dumps(stream_message(event)))) == event
