"""A connection's audio heard a channel at a time: a live stream per channel (`/v3/ws` with
`channels`, the Twilio bridge's tracks), each with its own session, VAD and decodes, whose
events go out as v3 messages tagged with their channel and their words named after it.

A connection of one channel is one untagged stream: its messages are the plain v3 ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streamer.api.inference import StreamingInference
from streamer.api.live import LiveStream, LiveStreams
from streamer.api.wire import stream_message
from streamer.core.channels import channel_speaker
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import SessionEvent, is_result, with_words
from streamer.streaming.session import StreamSession
from streamer.streaming.turns import TurnParams

Publish = Callable[[dict[str, Any], bool], Awaitable[None]]
"""Send a message; the flag says whether it is a result (`events.is_result`)."""


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    config: StreamConfig
    tag: str | None = None
    """the `channel` its messages and words carry; None: the connection's only one, whose
    messages are the session's own"""
    name: str | None = None
    """the speaker a tagged channel's words are named (followed by its session's labels when
    `config.speaker_labels`: "1A"); None: as its session labels them"""


class LiveChannel:
    def __init__(self, plan: ChannelPlan, inference: StreamingInference, publish: Publish) -> None:
        self.plan = plan
        self._publish = publish
        self._people = frozenset(voice.name for voice in plan.config.known_voices)
        self.live = LiveStream(StreamSession(plan.config, inference.grid), inference, self.deliver)

    async def deliver(self, events: list[SessionEvent]) -> None:
        for event in events:
            if self.plan.tag is None:
                await self._publish(stream_message(event), is_result(event))
            else:
                message = stream_message(with_words(event, self._named))
                await self._publish({**message, "channel": self.plan.tag}, is_result(event))

    def _named(self, word: Word) -> Word:
        name, speaker = self.plan.name, word.speaker
        if name is not None:
            diarized = self.plan.config.speaker_labels
            speaker = channel_speaker(speaker, name, diarized, self._people)
        return replace(word, speaker=speaker, channel=self.plan.tag)


class LiveChannels:
    """The channels of one connection. Each stream is in the server's register from the
    start to `close`, so a shutdown asks each to finish."""

    def __init__(
        self,
        plans: Sequence[ChannelPlan],
        inference: StreamingInference,
        publish: Publish,
        register: LiveStreams,
    ) -> None:
        self.started = time.monotonic()
        self.channels = [LiveChannel(plan, inference, publish) for plan in plans]
        self._register = register
        for channel in self.channels:
            register.add(channel.live)

    def __iter__(self) -> Iterator[LiveChannel]:
        return iter(self.channels)

    @property
    def config(self) -> StreamConfig:
        """What the channels are set to do (they differ only in whose words they hear)."""
        return self.channels[0].live.session.config

    @property
    def audio_duration_s(self) -> float:
        return max(channel.live.session.audio_duration_s for channel in self.channels)

    async def audio(self, parts: Sequence[bytes]) -> None:
        """Each channel's part of the audio, in channel order."""
        for channel, part in zip(self.channels, parts, strict=True):
            if part:
                await channel.live.audio(part)

    def force_endpoint(self) -> None:
        for channel in self.channels:
            channel.live.force_endpoint()

    def reconfigure(self, turn: TurnParams, format_turns: bool) -> None:
        for channel in self.channels:
            channel.live.session.reconfigure(turn, format_turns)

    async def finish(self) -> None:
        """Every channel ends its open turn and delivers every result still coming."""
        await asyncio.gather(*(channel.live.finish() for channel in self.channels))

    async def stopping(self) -> None:
        """Returns once the server asks the channels to stop (it asks all at once)."""
        waits = [asyncio.ensure_future(c.live.stopping.wait()) for c in self.channels]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def close(self, code: int) -> None:
        for channel in self.channels:
            channel.live.close(code)
            self._register.remove(channel.live)
