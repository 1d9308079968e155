"""The shell around one live session, for any transport (`/v3/ws`, the Twilio bridge).

`LiveStream` drives a `StreamSession` in the order its docstring states: audio through the
VAD into the session, the session's decode requests through a bounded queue to the inference
workers, and the events it returns handed to `deliver` in request order. The transport only
reads its own messages and writes events its own way.

`LiveStreams` is the server's register of open streams: a graceful shutdown asks each to end
its open turn, deliver what is still coming and say goodbye, and waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from streamer.api.inference import StreamingInference
from streamer.streaming.events import SessionEvent
from streamer.streaming.pieces import Action, DecodeRequest
from streamer.streaming.protocol import CloseCode, ProtocolError, chunk_ms
from streamer.streaming.session import StreamSession

log = logging.getLogger(__name__)

MAX_QUEUED_DECODES = 16
"""Decodes one session may have waiting. A client sending audio much faster than real time
(or a server past its capacity) gets 1013 rather than a queue that grows without bound;
at real time a session has one or two waiting."""

Deliver = Callable[[list[SessionEvent]], Awaitable[None]]


class LiveStream:
    def __init__(
        self, session: StreamSession, inference: StreamingInference, deliver: Deliver
    ) -> None:
        self.session = session
        self.inference = inference
        self.started = time.monotonic()
        self._deliver = deliver
        self._vad = inference.session_vad()
        self._decodes: asyncio.Queue[tuple[DecodeRequest, float]] = asyncio.Queue(
            MAX_QUEUED_DECODES
        )
        self._emitter = asyncio.create_task(self._emit_in_order())
        self.stopping = asyncio.Event()
        """set when the server shuts down: the transport ends the stream with `finish`"""

    async def audio(self, data: bytes) -> None:
        self.session.add_audio(data)
        config = self.session.config
        self.inference.metrics.stream_audio_s.inc(
            chunk_ms(len(data), config.encoding, config.sample_rate) / 1000
        )
        probs = await self._vad.probabilities(self.session.vad_input())
        events, requests = self.session.on_vad(probs, self.inference.pressure)
        await self._deliver(events)
        self.schedule(requests)

    def schedule(self, requests: list[DecodeRequest]) -> None:
        for request in requests:
            if self._decodes.qsize() < MAX_QUEUED_DECODES:
                self._decodes.put_nowait((request, time.monotonic()))
            elif request.final:
                raise ProtocolError(
                    CloseCode.OVERLOADED, "audio arrives faster than it can be transcribed"
                )
            else:
                self.session.skip(request)

    def force_endpoint(self) -> None:
        self.schedule(self.session.force_endpoint())

    async def _emit_in_order(self) -> None:
        """Results go out in request order, so a turn's final follows its partials."""
        while True:
            request, queued_at = await self._decodes.get()
            try:
                await self._emit(request, queued_at)
            finally:
                self._decodes.task_done()

    async def _emit(self, request: DecodeRequest, queued_at: float) -> None:
        plan = self.session.plan(request, crowded=self.inference.crowded(request))
        if plan.action is Action.SKIP:
            return
        try:
            decoded = (
                plan.reused if plan.reused is not None else await self.inference.decode(request)
            )
        except Exception:
            if request.final:
                raise
            log.exception("partial decode failed")
            self.session.skip(request)
            return
        events = self.session.on_decoded(request, *decoded)
        await self._deliver(events)
        metrics = self.inference.metrics
        if request.final:
            metrics.final_latency_s.observe(time.monotonic() - queued_at)
        elif request.opening and events:
            metrics.first_partial_latency_s.observe(time.monotonic() - queued_at)

    async def finish(self) -> None:
        """End the open turn and deliver every result still coming (a final that failed
        raises)."""
        self.force_endpoint()
        drained = asyncio.create_task(self._decodes.join())
        await asyncio.wait({drained, self._emitter}, return_when=asyncio.FIRST_COMPLETED)
        if self._emitter.done() and self._emitter.exception() is not None:
            raise RuntimeError("a final decode failed") from self._emitter.exception()
        drained.cancel()

    def close(self, code: int) -> None:
        self._emitter.cancel()
        metrics = self.inference.metrics
        metrics.partials_skipped.inc(self.session.partials_skipped)
        metrics.sessions_closed.labels(code=str(code)).inc()


class LiveStreams:
    """The open streams of one server."""

    def __init__(self) -> None:
        self._open: set[LiveStream] = set()
        self._all_closed = asyncio.Event()
        self._all_closed.set()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, stream: LiveStream) -> None:
        self._open.add(stream)
        self._all_closed.clear()

    def remove(self, stream: LiveStream) -> None:
        self._open.discard(stream)
        if not self._open:
            self._all_closed.set()

    async def drain(self, timeout_s: float) -> int:
        """Ask every open stream to finish and wait up to `timeout_s` for them to close; how
        many were still open after it."""
        for stream in self._open:
            stream.stopping.set()
        try:
            await asyncio.wait_for(self._all_closed.wait(), timeout_s)
        except TimeoutError:
            log.warning("%d live streams still open after %.0f s", len(self._open), timeout_s)
        return len(self._open)
