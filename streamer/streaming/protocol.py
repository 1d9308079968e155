"""The rules of the v3 streaming protocol that need no socket: close codes, audio chunk
limits, control messages and the end-of-turn settings a client may change (pure).

Every broken rule raises `ProtocolError` with the close code the SDK knows for it; the shell
sends the code and reason and closes the socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from streamer.streaming.turns import TurnParams


class CloseCode(IntEnum):
    """WebSocket close codes of the protocol, as the AssemblyAI SDKs know them."""

    NORMAL = 1000
    SERVER_ERROR = 1011
    SERVICE_RESTART = 1012
    """the server is shutting down: sent after the open turn's final and `Termination`"""
    OVERLOADED = 1013
    BAD_PARAMS = 3006
    CHUNK_DURATION = 3007
    MAX_DURATION = 3008
    TOO_MANY_SESSIONS = 3009
    UNAUTHORIZED = 4001
    TOO_FAST = 4029
    IDLE = 4031
    INVALID_JSON = 4100
    INVALID_MESSAGE = 4101


MAX_REASON_BYTES = 123
"""A WebSocket close reason holds at most this many bytes of UTF-8."""
MIN_CHUNK_MS = 50
MAX_CHUNK_MS = 1000
MAX_TEXT_BYTES = 16_384
MAX_SAMPLE_RATE = 48_000
MAX_CHANNELS = 2
"""Channels one stream may interleave (`channels`): each is a session of its own."""
MAX_FRAME_BYTES = 256 * 1024
"""The largest WebSocket message read at all: the longest chunk (1000 ms of 16-bit stereo
at 48 kHz, 192 000 bytes) with room to spare. A larger one closes the socket (1009) before
it is buffered, so a client cannot make the server hold megabytes."""
DEFAULT_INACTIVITY_S = 30
MAX_SESSION_S = 3 * 3600
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
CONTROL_TYPES = ("Terminate", "ForceEndpoint", "KeepAlive", "UpdateConfiguration")


class ProtocolError(Exception):
    """A client broke a rule: close the session with `code`, saying `reason`."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        super().__init__(reason)
        self.code = code
        self.reason = reason


def chunk_ms(byte_count: int, encoding: str, sample_rate: int, channels: int = 1) -> float:
    """How long `byte_count` bytes of audio play (`channels` interleaved: a frame of a
    sample each)."""
    return 1000 * byte_count / (BYTES_PER_SAMPLE[encoding] * channels) / sample_rate


def check_chunk(byte_count: int, encoding: str, sample_rate: int, channels: int = 1) -> None:
    """An audio message must hold 50-1000 ms of audio."""
    duration = chunk_ms(byte_count, encoding, sample_rate, channels)
    if not MIN_CHUNK_MS <= duration <= MAX_CHUNK_MS:
        raise ProtocolError(
            CloseCode.CHUNK_DURATION,
            f"audio chunks must be {MIN_CHUNK_MS}-{MAX_CHUNK_MS} ms (got {duration:.0f} ms)",
        )


class AudioPace:
    """How fast a client may send audio: at most `max_speed` times real time, over the
    session, after a `burst_s` head start (a backlog after a network hiccup); beyond, the
    session closes 4029. A client far ahead of real time makes its neighbours wait for
    decodes (measured: one at 19x took a neighbour's finals from 0.6 to 3-5 s). `max_speed`
    0 sets no limit. Times are the caller's clock (seconds)."""

    def __init__(self, max_speed: float, burst_s: float = 10.0) -> None:
        self.max_speed = max_speed
        self.burst_s = burst_s
        self._first: float | None = None
        self._audio_s = 0.0

    def received(self, audio_s: float, now: float) -> None:
        """Count a chunk of `audio_s` seconds arriving at `now`; `ProtocolError` 4029 when the
        audio so far is further ahead than allowed."""
        if self._first is None:
            self._first = now
        self._audio_s += audio_s
        allowed = self.max_speed * (now - self._first) + self.burst_s
        if self.max_speed and self._audio_s > allowed:
            raise ProtocolError(
                CloseCode.TOO_FAST,
                f"audio sent faster than {self.max_speed:g}x real time",
            )


@dataclass(frozen=True, slots=True)
class Control:
    """A control message: its `type` and the JSON object it came in."""

    kind: str
    body: dict[str, Any]


def json_message(text: str) -> Any:
    """A text message parsed, or `ProtocolError` (4101 over `MAX_TEXT_BYTES`; 4100 not JSON,
    or nested deeper than the parser goes)."""
    if len(text) > MAX_TEXT_BYTES or len(text.encode()) > MAX_TEXT_BYTES:
        raise ProtocolError(CloseCode.INVALID_MESSAGE, "text message too large")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(CloseCode.INVALID_JSON, f"invalid JSON: {error.msg}") from error
    except RecursionError as error:  # the parser recurses per level: "[[[[...]]]]" in 16 KB
        raise ProtocolError(CloseCode.INVALID_JSON, "invalid JSON: nested too deeply") from error


def read_control(text: str) -> Control:
    """A text message as a control message, or `ProtocolError` (4100 not JSON; 4101 too
    large, not an object or of an unknown type)."""
    body = json_message(text)
    kind = body.get("type") if isinstance(body, dict) else None
    if kind not in CONTROL_TYPES:
        raise ProtocolError(CloseCode.INVALID_MESSAGE, f"unknown message type {kind!r}")
    return Control(str(kind), body)


@dataclass(frozen=True, slots=True)
class TurnChanges:
    """End-of-turn settings a client gave (at connect or in `UpdateConfiguration`), already
    validated; None leaves the current value."""

    format_turns: bool | None = None
    end_of_turn_confidence_threshold: float | None = None
    min_turn_silence_ms: int | None = None
    """`min_turn_silence`, or its older name `min_end_of_turn_silence_when_confident`"""
    max_turn_silence_ms: int | None = None
    vad_threshold: float | None = None


def apply_turn_changes(current: TurnParams, changes: TurnChanges) -> TurnParams:
    """`current` with what the client set."""
    given: dict[str, Any] = {
        "vad_threshold": changes.vad_threshold,
        "end_of_turn_confidence_threshold": changes.end_of_turn_confidence_threshold,
        "min_turn_silence_ms": changes.min_turn_silence_ms,
        "max_turn_silence_ms": changes.max_turn_silence_ms,
    }
    return replace(current, **{k: v for k, v in given.items() if v is not None})
