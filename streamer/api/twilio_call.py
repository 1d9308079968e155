"""One Twilio media stream: a live session per channel, fed from Twilio's 20 ms chunks, and
its results as v3 JSON tagged with the call, for the callback and the subscribers.

Two tracks (`both_tracks`) are two channels, each with its own session and no diarization
inside it: every word is named by its channel's party. One track (mixed audio, or the
caller alone under `<Connect>`) is one channel whose session finds the speakers (A, B, ...).
Each message gets the call's `stream_sid` and `call_sid`, and the `channel` (the track) where
it comes from one. The results (`Begin`, final `Turn`s, `SpeakerRevision`s, `Termination`:
what the callback gets too) are numbered by `sequence`, from 0 without gaps; partials and
`SpeechStarted`, for subscribers only, have none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streamer.api.inference import StreamingInference
from streamer.api.live import LiveStreams
from streamer.api.live_channels import ChannelPlan, LiveChannels
from streamer.api.twilio_messages import MULAW_RATE, Media, Start
from streamer.api.wire import begin_message, termination_message
from streamer.streaming.protocol import AudioPace, CloseCode, ProtocolError

CHUNK_BYTES = MULAW_RATE // 10
"""100 ms: audio goes to the session (and the VAD) in chunks of at least this."""
MAX_CHUNK_BYTES = MULAW_RATE
"""1 s: silence filled into a gap goes in at most this at a time."""
GAP_TOLERANCE_MS = 100
MAX_GAP_MS = 60_000
"""A longer gap between Twilio's timestamps is filled with a minute of silence only (one
message never costs more); that channel's later times then run behind the call's."""
MULAW_SILENCE = b"\xff"

Publish = Callable[[dict[str, Any], bool], None]
"""Hand a message to the subscribers, and to the callback too when the flag says so."""


class TrackAudio:
    """A track's mu-law, gathered into chunks of `CHUNK_BYTES` or more. Twilio may leave out
    the chunks of a silent stretch: where a chunk's timestamp is later than the audio so far,
    the gap is filled with silence, so both channels keep the call's clock."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._received = 0

    @property
    def position_ms(self) -> int:
        return self._received * 1000 // MULAW_RATE

    def push(self, timestamp_ms: int | None, audio: bytes) -> list[bytes]:
        """Take one Twilio chunk; the chunks now ready for the session."""
        if timestamp_ms is not None and timestamp_ms - self.position_ms > GAP_TOLERANCE_MS:
            gap_ms = min(timestamp_ms - self.position_ms, MAX_GAP_MS)
            self._add(MULAW_SILENCE * (gap_ms * MULAW_RATE // 1000))
        self._add(audio)
        ready = []
        while len(self._pending) >= CHUNK_BYTES:
            size = min(len(self._pending) // CHUNK_BYTES * CHUNK_BYTES, MAX_CHUNK_BYTES)
            ready.append(bytes(self._pending[:size]))
            del self._pending[:size]
        return ready

    def rest(self) -> bytes:
        """What is left once the track ends."""
        rest = bytes(self._pending)
        self._pending.clear()
        return rest

    def _add(self, audio: bytes) -> None:
        self._pending += audio
        self._received += len(audio)


class TwilioCall:
    """The channels of one stream (each plan's `tag` is its track); `publish` sends each
    message where it goes."""

    def __init__(
        self,
        start: Start,
        plans: list[ChannelPlan],
        inference: StreamingInference,
        publish: Publish,
        register: LiveStreams,
        max_session_s: float,
        max_speed: float = 0.0,
    ) -> None:
        """`max_speed`: how many times real time a track's audio may arrive (`AudioPace`;
        Twilio sends at 1x, so only a caller posing as Twilio goes faster); 0: no limit."""
        self.ids = {"stream_sid": start.stream_sid, "call_sid": start.call_sid}
        self.max_session_s = max_session_s
        self._publish = publish
        self._sequence = 0
        begin = begin_message(start.stream_sid, int(time.time() + max_session_s))
        self.publish({**begin, "channels": {p.tag: p.name for p in plans}}, True)
        self.channels = LiveChannels(plans, inference, self._publish_async, register)
        self._tracks = {
            str(c.plan.tag): (c, TrackAudio(), AudioPace(max_speed)) for c in self.channels
        }

    def publish(self, message: dict[str, Any], to_callback: bool) -> None:
        tagged = {**message, **self.ids}
        if to_callback:  # a result: numbered, so a receiver sees a gap or a repeat
            tagged["sequence"] = self._sequence
            self._sequence += 1
        self._publish(tagged, to_callback)

    async def _publish_async(self, message: dict[str, Any], to_callback: bool) -> None:
        self.publish(message, to_callback)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.channels.started

    async def media(self, media: Media) -> None:
        track = self._tracks.get(media.track)
        if track is None:
            raise ProtocolError(
                CloseCode.INVALID_MESSAGE, f"media of track {media.track!r}, not in start"
            )
        if media.timestamp_ms is not None and media.timestamp_ms > 1000 * self.max_session_s:
            raise ProtocolError(CloseCode.MAX_DURATION, "maximum session duration exceeded")
        channel, audio, pace = track
        pace.received(len(media.audio) / MULAW_RATE, time.monotonic())
        for chunk in audio.push(media.timestamp_ms, media.audio):
            await channel.live.audio(chunk)

    async def finish(self) -> None:
        """The audio still gathered goes in, and every channel ends its open turn and
        delivers every result still coming."""
        for channel, audio, _ in self._tracks.values():
            rest = audio.rest()
            if rest:
                await channel.live.audio(rest)
        await self.channels.finish()

    def end(self, code: int) -> None:
        """Say goodbye to the receivers (with why the stream ended) and stop the channels."""
        goodbye = termination_message(self.channels.audio_duration_s, self.elapsed_s)
        self.publish({**goodbye, "close_code": code}, True)
        self.channels.close(code)
