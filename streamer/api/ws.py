"""`/v3/ws`: AssemblyAI Universal-Streaming v3 over a WebSocket.

Only moves bytes and JSON: the session (`streamer.streaming.session`) decides, the inference workers
(`streamer.api.inference`) run the models. Each connection owns its session and its tasks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from streamer.api.errors import first_problem
from streamer.api.inference import StreamingInference
from streamer.api.wire import (
    StreamParams,
    begin_message,
    error_message,
    stream_message,
    termination_message,
    turn_changes,
)
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import SessionEvent
from streamer.streaming.pieces import Action, DecodeRequest
from streamer.streaming.protocol import (
    DEFAULT_INACTIVITY_S,
    MAX_SESSION_S,
    CloseCode,
    ProtocolError,
    apply_turn_changes,
    check_chunk,
    chunk_ms,
    read_control,
)
from streamer.streaming.session import StreamSession
from streamer.streaming.turns import TurnParams

log = logging.getLogger(__name__)
router = APIRouter()

MAX_QUEUED_DECODES = 16
"""Decodes one session may have waiting. A client sending audio much faster than real time
(or a server past its capacity) gets 1013 rather than a queue that grows without bound;
at real time a session has one or two waiting."""
CLIENT_GONE = 1005
"""The close code counted for a session whose client went without one ("no status")."""


def _config(params: StreamParams) -> StreamConfig:
    return StreamConfig(
        sample_rate=params.sample_rate,
        encoding=params.encoding,
        speaker_labels=params.speaker_labels,
        max_speakers=params.max_speakers,
        format_turns=bool(params.format_turns),
        turn=apply_turn_changes(TurnParams(), params.changes()),
    )


def _session_limit(websocket: WebSocket, params: dict[str, str]) -> float | None:
    """How long the client may stream (seconds), or None when it is not authorized: an API
    key, or a temporary token from `/v3/token` (once, for the duration it was issued for)."""
    keys: tuple[str, ...] = websocket.app.state.settings.api_keys
    offered = websocket.headers.get("authorization") or params.get("token") or ""
    if not keys or offered in keys:
        return MAX_SESSION_S
    grant = websocket.app.state.tokens.redeem(offered)
    return min(MAX_SESSION_S, grant.max_session_s) if grant is not None else None


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        session: StreamSession,
        inference: StreamingInference,
        max_session_s: float,
    ) -> None:
        self.websocket = websocket
        self.max_session_s = max_session_s
        self.session = session
        self.inference = inference
        self.vad = inference.session_vad()
        self.started = time.monotonic()
        self._send_lock = asyncio.Lock()
        self._decodes: asyncio.Queue[DecodeRequest] = asyncio.Queue(MAX_QUEUED_DECODES)
        self._emitter = asyncio.create_task(self._emit_in_order())

    async def send(self, message: dict[str, object]) -> None:
        async with self._send_lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(message))

    async def send_events(self, events: list[SessionEvent]) -> None:
        for event in events:
            await self.send(stream_message(event))

    async def audio(self, data: bytes) -> None:
        self.session.add_audio(data)
        config = self.session.config
        self.inference.metrics.stream_audio_s.inc(
            chunk_ms(len(data), config.encoding, config.sample_rate) / 1000
        )
        probs = await self.vad.probabilities(self.session.vad_input())
        events, requests = self.session.on_vad(probs, self.inference.pressure)
        await self.send_events(events)
        self.schedule(requests)

    def schedule(self, requests: list[DecodeRequest]) -> None:
        for request in requests:
            if self._decodes.qsize() < MAX_QUEUED_DECODES:
                self._decodes.put_nowait(request)
            elif request.final:
                raise ProtocolError(
                    CloseCode.OVERLOADED, "audio arrives faster than it can be transcribed"
                )
            else:
                self.session.skip(request)

    async def _emit_in_order(self) -> None:
        """Results go out in request order, so a turn's final follows its partials."""
        while True:
            request = await self._decodes.get()
            try:
                await self._emit(request)
            finally:
                self._decodes.task_done()

    async def _emit(self, request: DecodeRequest) -> None:
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
        await self.send_events(self.session.on_decoded(request, *decoded))

    async def finish(self) -> None:
        """Flush the open turn, send every result still coming, then say goodbye."""
        self.schedule(self.session.force_endpoint())
        drained = asyncio.create_task(self._decodes.join())
        await asyncio.wait({drained, self._emitter}, return_when=asyncio.FIRST_COMPLETED)
        if self._emitter.done() and self._emitter.exception() is not None:
            raise RuntimeError("a final decode failed") from self._emitter.exception()
        drained.cancel()
        await self.send(
            termination_message(self.session.audio_duration_s, time.monotonic() - self.started)
        )

    def close(self, code: int) -> None:
        self._emitter.cancel()
        metrics = self.inference.metrics
        metrics.partials_skipped.inc(self.session.partials_skipped)
        metrics.sessions_closed.labels(code=str(code)).inc()


def _control(text: str, connection: Connection) -> str:
    """Act on a control message; its type."""
    control = read_control(text)
    session = connection.session
    if control.kind == "ForceEndpoint":
        connection.schedule(session.force_endpoint())
    elif control.kind == "UpdateConfiguration":
        changes = turn_changes(control.body)
        formatted = (
            session.config.format_turns if changes.format_turns is None else changes.format_turns
        )
        session.reconfigure(apply_turn_changes(session.config.turn, changes), formatted)
    return control.kind


@router.websocket("/v3/ws")
async def stream(websocket: WebSocket) -> None:
    accepted = await _accept(websocket)
    if accepted is None:
        return
    params, session_limit_s = accepted
    state = websocket.app.state
    try:
        inference: StreamingInference = state.streaming
        session = StreamSession(_config(params), inference.grid)
        connection = Connection(websocket, session, inference, session_limit_s)
        code = CLIENT_GONE
        try:
            code = await _serve(connection, params)
        finally:
            connection.close(code)
    finally:
        state.active_sessions -= 1  # counted by `_accept`


async def _refuse(websocket: WebSocket, refusal: ProtocolError) -> None:
    await websocket.accept()  # a close code (which the SDK reports) needs an open WebSocket
    await websocket.send_text(json.dumps(error_message(refusal.reason, refusal.code)))
    await websocket.close(refusal.code, refusal.reason)


async def _accept(websocket: WebSocket) -> tuple[StreamParams, float] | None:
    """Check params, capacity and key; accept and count the session, or refuse with the code
    for the cause. Every check runs before the first await, so concurrent handshakes cannot
    all pass the capacity check, and a temporary token is used up only by a session that
    opens."""
    query = dict(websocket.query_params)
    state = websocket.app.state
    try:
        params = StreamParams.model_validate(query)
    except ValidationError as error:
        await _refuse(websocket, ProtocolError(CloseCode.BAD_PARAMS, first_problem(error)))
        return None
    limit: int = state.settings.max_sessions
    if state.active_sessions >= limit:
        await _refuse(
            websocket,
            ProtocolError(CloseCode.TOO_MANY_SESSIONS, f"at most {limit} concurrent sessions"),
        )
        return None
    session_limit = _session_limit(websocket, query)
    if session_limit is None:
        await _refuse(websocket, ProtocolError(CloseCode.UNAUTHORIZED, "not authorized"))
        return None
    state.active_sessions += 1
    try:
        await websocket.accept()
    except BaseException:
        state.active_sessions -= 1
        raise
    return params, session_limit


async def _serve(connection: Connection, params: StreamParams) -> int:
    """Begin, then frames until Terminate, a close code, or the client is gone; the close
    code (1005, none received, when the client went without one)."""
    websocket = connection.websocket
    session_id = str(uuid.uuid4())
    try:
        await connection.send(
            begin_message(session_id, int(time.time() + connection.max_session_s))
        )
        return await _receive(connection, params.inactivity_timeout or DEFAULT_INACTIVITY_S)
    except ProtocolError as close:
        await connection.send(error_message(close.reason, close.code))
        await websocket.close(close.code, close.reason)
        return close.code
    except WebSocketDisconnect:
        return CLIENT_GONE
    except Exception:
        log.exception("session %s failed", session_id)
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.close(CloseCode.SERVER_ERROR, "internal error")
        return CloseCode.SERVER_ERROR


async def _receive(connection: Connection, idle_s: float) -> int:
    websocket, config = connection.websocket, connection.session.config
    while True:
        left_s = connection.max_session_s - (time.monotonic() - connection.started)
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=min(idle_s, left_s))
        except TimeoutError as error:
            # which limit was waited for, not the clock after it: asyncio may wake a timeout
            # up to its clock resolution early, so re-reading the clock can miss the limit
            if left_s <= idle_s:
                raise ProtocolError(
                    CloseCode.MAX_DURATION, "maximum session duration exceeded"
                ) from error
            raise ProtocolError(CloseCode.IDLE, "session idle for too long") from error
        if message["type"] == "websocket.disconnect":
            return CLIENT_GONE
        if time.monotonic() - connection.started > connection.max_session_s:
            raise ProtocolError(CloseCode.MAX_DURATION, "maximum session duration exceeded")
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            check_chunk(len(data), config.encoding, config.sample_rate)
            await connection.audio(data)
        elif text is not None and _control(text, connection) == "Terminate":
            await connection.finish()
            await websocket.close(CloseCode.NORMAL)
            return CloseCode.NORMAL
