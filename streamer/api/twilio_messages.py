"""What Twilio Media Streams send a `<Stream>` WebSocket, read into typed values.

Twilio's messages are JSON text frames with an `event`: `connected` {protocol, version};
`start` {streamSid, start: {accountSid, callSid, streamSid, tracks, mediaFormat,
customParameters}}; `media` {streamSid, media: {track, chunk, timestamp, payload}} (base64
mu-law at 8 kHz, 20 ms a message; chunk and timestamp as strings); `mark` {mark: {name}}
(the echo of a mark a bidirectional stream sent); `dtmf`; `stop` {stop: {accountSid,
callSid}}. Every message but `connected` also has a `sequenceNumber`. A broken one raises
`ProtocolError` with the close code `/v3/ws` uses for the same fault.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streamer.api.errors import first_problem
from streamer.streaming.protocol import CloseCode, ProtocolError, json_message

Track = Literal["inbound", "outbound"]
M = TypeVar("M", bound=BaseModel)
TRACKS: tuple[Track, ...] = ("inbound", "outbound")
MULAW_RATE = 8000


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MediaFormat(_Model):
    """The only format Twilio streams: mu-law, 8 kHz, mono."""

    encoding: Literal["audio/x-mulaw"] = "audio/x-mulaw"
    sample_rate: Literal[8000] = Field(default=8000, alias="sampleRate")
    channels: Literal[1] = 1


class Start(_Model):
    """The stream's metadata: which call, which tracks will follow, and the
    `<Parameter>`s of its `<Stream>`."""

    stream_sid: str = Field(alias="streamSid", min_length=1, max_length=64)
    call_sid: str = Field(alias="callSid", min_length=1, max_length=64)
    account_sid: str = Field(default="", alias="accountSid", max_length=64)
    tracks: list[Track] = Field(
        default_factory=lambda: list(TRACKS[:1]), min_length=1, max_length=2
    )
    media_format: MediaFormat = Field(default_factory=MediaFormat, alias="mediaFormat")
    custom_parameters: dict[str, str] = Field(default_factory=dict, alias="customParameters")

    @field_validator("tracks")
    @classmethod
    def _distinct(cls, tracks: list[Track]) -> list[Track]:
        if len(set(tracks)) != len(tracks):
            raise ValueError("a track is named twice")
        return tracks


class _MediaBody(_Model):
    track: str = "inbound"
    timestamp: int | None = Field(default=None, ge=0)
    payload: str


@dataclass(frozen=True, slots=True)
class Media:
    track: str
    timestamp_ms: int | None
    """milliseconds from the start of the stream, as Twilio stamps the chunk"""
    audio: bytes


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Other:
    """`connected`, `mark`, `dtmf` or an event this bridge does not know: nothing to do."""

    event: str


TwilioMessage = Start | Media | Stop | Other


def read_message(text: str) -> TwilioMessage:
    """One text frame from Twilio; `ProtocolError` 4100 when it is not JSON, 4101 when it is
    too large or not a Twilio message, 3006 when a `start` is invalid."""
    body = json_message(text)
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, str):
        raise ProtocolError(CloseCode.INVALID_MESSAGE, "not a Twilio message (no event)")
    if event == "start":
        return _read(Start, body.get("start"), "start", CloseCode.BAD_PARAMS)
    if event == "media":
        return _media(_read(_MediaBody, body.get("media"), "media", CloseCode.INVALID_MESSAGE))
    if event == "stop":
        return Stop()
    return Other(event)


def _read(model: type[M], body: Any, event: str, code: CloseCode) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise ProtocolError(code, f"{event}: {first_problem(error)}") from error


def _media(body: _MediaBody) -> Media:
    try:
        audio = base64.b64decode(body.payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProtocolError(CloseCode.INVALID_MESSAGE, "media: payload is not base64") from error
    return Media(body.track, body.timestamp, audio)
