"""The v3 protocol's rules without a socket: every broken rule is a `ProtocolError` with the
close code the SDK knows for it."""

from __future__ import annotations

import json

import pytest

from streamer.streaming.protocol import (
    MAX_REASON_BYTES,
    AudioPace,
    CloseCode,
    ProtocolError,
    TurnChanges,
    apply_turn_changes,
    check_chunk,
    chunk_ms,
    read_control,
)
from streamer.streaming.turns import TurnParams


@pytest.mark.parametrize(
    ("byte_count", "encoding", "rate", "ms"),
    [
        (3200, "pcm_s16le", 16000, 100),
        (800, "pcm_mulaw", 8000, 100),
        (1600, "pcm_s16le", 8000, 100),
    ],
)
def test_chunk_duration_follows_encoding_and_rate(
    byte_count: int, encoding: str, rate: int, ms: float
) -> None:
    assert chunk_ms(byte_count, encoding, rate) == ms
    check_chunk(byte_count, encoding, rate)  # 100 ms: fine


def test_interleaved_channels_are_timed_by_their_frames() -> None:
    """Stereo 16-bit: 4 bytes a frame, so 6400 bytes at 16 kHz are 100 ms, and 3200 only 50."""
    assert chunk_ms(6400, "pcm_s16le", 16000, channels=2) == 100
    assert chunk_ms(1600, "pcm_mulaw", 8000, channels=2) == 100
    check_chunk(3200, "pcm_s16le", 16000, channels=2)
    with pytest.raises(ProtocolError) as error:
        check_chunk(3196, "pcm_s16le", 16000, channels=2)
    assert error.value.code == CloseCode.CHUNK_DURATION


@pytest.mark.parametrize("byte_count", [1598, 32002, 0])
def test_chunks_outside_50_to_1000_ms_close_3007(byte_count: int) -> None:
    with pytest.raises(ProtocolError) as error:
        check_chunk(byte_count, "pcm_s16le", 16000)
    assert error.value.code == CloseCode.CHUNK_DURATION == 3007
    assert "50-1000 ms" in error.value.reason
    check_chunk(1600, "pcm_s16le", 16000)  # exactly 50 ms and exactly 1000 ms pass
    check_chunk(32000, "pcm_s16le", 16000)


@pytest.mark.parametrize("kind", ["Terminate", "ForceEndpoint", "KeepAlive", "UpdateConfiguration"])
def test_control_messages_are_read(kind: str) -> None:
    control = read_control(json.dumps({"type": kind, "max_turn_silence": 500}))
    assert control.kind == kind and control.body["max_turn_silence"] == 500


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", CloseCode.INVALID_JSON),
        ("[" * 8000 + "]" * 8000, CloseCode.INVALID_JSON),  # 16 KB, nested past the parser
        ('{"a": ' * 2000 + "1" + "}" * 2000, CloseCode.INVALID_JSON),
        ("[1, 2]", CloseCode.INVALID_MESSAGE),
        ('{"type": "Dance"}', CloseCode.INVALID_MESSAGE),
        ('{"no": "type"}', CloseCode.INVALID_MESSAGE),
        (json.dumps({"type": "KeepAlive", "pad": "x" * 20_000}), CloseCode.INVALID_MESSAGE),
    ],
)
def test_bad_control_messages_close_with_their_code(text: str, code: CloseCode) -> None:
    with pytest.raises(ProtocolError) as error:
        read_control(text)
    assert error.value.code == code


def test_a_close_reason_fits_a_close_frame() -> None:
    error = ProtocolError(CloseCode.INVALID_MESSAGE, "é" * 200)  # 400 bytes of UTF-8
    assert len(error.reason.encode()) <= MAX_REASON_BYTES
    assert error.reason == "é" * (MAX_REASON_BYTES // 2)  # no character cut in half


def test_turn_changes_replace_only_what_was_given() -> None:
    current = TurnParams(min_turn_silence_ms=400, max_turn_silence_ms=1280, vad_threshold=0.5)
    changed = apply_turn_changes(current, TurnChanges(max_turn_silence_ms=900))
    assert changed == TurnParams(min_turn_silence_ms=400, max_turn_silence_ms=900)
    assert apply_turn_changes(current, TurnChanges()) == current
    every = TurnChanges(
        end_of_turn_confidence_threshold=0.7,
        min_turn_silence_ms=200,
        max_turn_silence_ms=800,
        vad_threshold=0.3,
    )
    assert apply_turn_changes(current, every) == TurnParams(
        vad_threshold=0.3,
        end_of_turn_confidence_threshold=0.7,
        min_turn_silence_ms=200,
        max_turn_silence_ms=800,
    )


def test_audio_may_run_ahead_of_real_time_by_the_burst_then_at_the_speed_limit() -> None:
    pace = AudioPace(max_speed=5.0, burst_s=10.0)
    for _ in range(10):  # a 10 s backlog at once: the head start
        pace.received(1.0, now=100.0)
    for step in range(1, 41):  # then 5x real time for 4 s: 5 audio seconds a second
        pace.received(0.5, now=100.0 + step * 0.1 + 1e-9)
    with pytest.raises(ProtocolError) as too_fast:
        pace.received(1.0, now=104.0)  # 31 s of audio after 4 s: 20 + 10 allowed
    assert too_fast.value.code == CloseCode.TOO_FAST == 4029
    assert "5x real time" in too_fast.value.reason


def test_a_real_time_client_is_never_refused_and_zero_sets_no_limit() -> None:
    pace, unlimited = AudioPace(max_speed=5.0), AudioPace(max_speed=0.0)
    for step in range(36_000):  # an hour at real time, in 100 ms chunks
        pace.received(0.1, now=step * 0.1)
        unlimited.received(10.0, now=0.0)  # 100 hours at once
