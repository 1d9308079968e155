"""`/v3/ws`: AssemblyAI Universal-Streaming v3 over a WebSocket.

Only moves bytes and JSON: the session (`streamer.session`) decides, the inference workers
(`streamer.inference`) run the models. Each connection owns its session and its tasks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from streamer.errors import first_problem
from streamer.inference import StreamingInference
from streamer.models.vad import VadState
from streamer.session import DecodeRequest, Message, StreamConfig, StreamSession
from streamer.turns import TurnParams
from streamer.wire import (
    StreamParams,
    TurnSettings,
    begin_message,
    error_message,
    termination_message,
)

log = logging.getLogger(__name__)
router = APIRouter()

# Close codes the SDK knows (WIRE.md).
CLOSE_NORMAL = 1000
CLOSE_SERVER_ERROR = 1011
CLOSE_OVERLOADED = 1013
CLOSE_BAD_PARAMS = 3006
CLOSE_CHUNK_DURATION = 3007
CLOSE_MAX_DURATION = 3008
CLOSE_TOO_MANY_SESSIONS = 3009
CLOSE_UNAUTHORIZED = 4001
CLOSE_IDLE = 4031
CLOSE_INVALID_JSON = 4100
CLOSE_INVALID_MESSAGE = 4101

MIN_CHUNK_MS = 50
MAX_CHUNK_MS = 1000
MAX_TEXT_BYTES = 16_384
DEFAULT_INACTIVITY_S = 30
MAX_SESSION_S = 3 * 3600
MAX_QUEUED_DECODES = 16
"""Decodes one session may have waiting. A client sending audio much faster than real time
(or a server past its capacity) gets 1013 rather than a queue that grows without bound;
at real time a session has one or two waiting."""
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _config(params: StreamParams) -> StreamConfig:
    return StreamConfig(
        sample_rate=params.sample_rate,
        encoding=params.encoding,
        speaker_labels=params.speaker_labels,
        max_speakers=params.max_speakers,
        format_turns=bool(params.format_turns),
        turn=_turn_params(TurnParams(), params),
    )


def _turn_params(current: TurnParams, settings: TurnSettings) -> TurnParams:
    """`current` with what the client set (at connect or in `UpdateConfiguration`)."""
    min_silence = settings.min_turn_silence
    if min_silence is None:
        min_silence = settings.min_end_of_turn_silence_when_confident
    changes: dict[str, Any] = {
        "vad_threshold": settings.vad_threshold,
        "end_of_turn_confidence_threshold": settings.end_of_turn_confidence_threshold,
        "min_turn_silence_ms": min_silence,
        "max_turn_silence_ms": settings.max_turn_silence,
    }
    return replace(current, **{k: v for k, v in changes.items() if v is not None})


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
        self.vad_state = VadState()
        self.started = time.monotonic()
        self._send_lock = asyncio.Lock()
        self._decodes: asyncio.Queue[DecodeRequest] = asyncio.Queue(MAX_QUEUED_DECODES)
        self._emitter = asyncio.create_task(self._emit_in_order())

    async def send(self, message: Message) -> None:
        async with self._send_lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(message))

    async def audio(self, data: bytes) -> None:
        self.session.add_audio(data)
        probs = await self.inference.vad(self.session.vad_input(), self.vad_state)
        messages, requests = self.session.on_vad(probs)
        for message in messages:
            await self.send(message)
        self.schedule(requests)

    def schedule(self, requests: list[DecodeRequest]) -> None:
        for request in requests:
            if self._decodes.qsize() < MAX_QUEUED_DECODES:
                self._decodes.put_nowait(request)
            elif request.final:
                raise _Close(CLOSE_OVERLOADED, "audio arrives faster than it can be transcribed")
            else:
                self.session.partial_dropped(request)

    async def _emit_in_order(self) -> None:
        """Results go out in request order, so a turn's final follows its partials."""
        while True:
            request = await self._decodes.get()
            try:
                await self._emit(request)
            finally:
                self._decodes.task_done()

    async def _emit(self, request: DecodeRequest) -> None:
        crowded = self.inference.crowded(request)
        if crowded or (not request.final and not self.session.still_useful(request)):
            # it would delay decodes that matter more, or its turn ended meanwhile
            self.session.partial_dropped(request)
            return
        try:
            known = self.session.reusable(request)
            words, local = await self.inference.decode(request, known)
        except Exception:
            if request.final:
                raise
            log.exception("partial decode failed")
            self.session.partial_dropped(request)
            return
        for message in self.session.on_decoded(request, words, local):
            await self.send(message)

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

    def close(self) -> None:
        self._emitter.cancel()


def _chunk_ms(data: bytes, config: StreamConfig) -> float:
    return 1000 * len(data) / BYTES_PER_SAMPLE[config.encoding] / config.sample_rate


def _control(text: str, connection: Connection) -> str:
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise _Close(CLOSE_INVALID_MESSAGE, "text message too large")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Close(CLOSE_INVALID_JSON, f"invalid JSON: {error.msg}") from error
    kind = body.get("type") if isinstance(body, dict) else None
    if kind not in ("Terminate", "ForceEndpoint", "KeepAlive", "UpdateConfiguration"):
        raise _Close(CLOSE_INVALID_MESSAGE, f"unknown message type {kind!r}")
    if kind == "ForceEndpoint":
        connection.schedule(connection.session.force_endpoint())
    elif kind == "UpdateConfiguration":
        try:
            update = TurnSettings.model_validate(body)
        except ValidationError as error:
            raise _Close(CLOSE_INVALID_MESSAGE, _reason(error, "UpdateConfiguration: ")) from error
        config = connection.session.config
        connection.session.reconfigure(
            _turn_params(config.turn, update),
            config.format_turns if update.format_turns is None else update.format_turns,
        )
    return str(kind)


def _reason(error: ValidationError, context: str = "") -> str:
    """`first_problem`, short enough for a WebSocket close reason (at most 123 bytes)."""
    return f"{context}{first_problem(error)}"[:120]


@router.websocket("/v3/ws")
async def stream(websocket: WebSocket) -> None:
    accepted = await _accept(websocket)
    if accepted is None:
        return
    params, session_limit_s = accepted
    state = websocket.app.state
    try:
        inference: StreamingInference = state.streaming
        session = StreamSession(_config(params), inference.speakers.grid)
        connection = Connection(websocket, session, inference, session_limit_s)
        try:
            await _serve(connection, params)
        finally:
            connection.close()
    finally:
        state.active_sessions -= 1  # counted by `_accept`


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()  # a close code (which the SDK reports) needs an open WebSocket
    await websocket.send_text(json.dumps(error_message(reason, code)))
    await websocket.close(code, reason)


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
        await _refuse(websocket, CLOSE_BAD_PARAMS, _reason(error))
        return None
    limit: int = state.settings.max_sessions
    if state.active_sessions >= limit:
        await _refuse(websocket, CLOSE_TOO_MANY_SESSIONS, f"at most {limit} concurrent sessions")
        return None
    session_limit = _session_limit(websocket, query)
    if session_limit is None:
        await _refuse(websocket, CLOSE_UNAUTHORIZED, "not authorized")
        return None
    state.active_sessions += 1
    try:
        await websocket.accept()
    except BaseException:
        state.active_sessions -= 1
        raise
    return params, session_limit


async def _serve(connection: Connection, params: StreamParams) -> None:
    """Begin, then frames until Terminate, a close code, or the client is gone."""
    websocket = connection.websocket
    session_id = str(uuid.uuid4())
    try:
        await connection.send(
            begin_message(session_id, int(time.time() + connection.max_session_s))
        )
        await _receive(connection, params.inactivity_timeout or DEFAULT_INACTIVITY_S)
    except _Close as close:
        await connection.send(error_message(close.reason, close.code))
        await websocket.close(close.code, close.reason)
    except WebSocketDisconnect:
        return
    except Exception:
        log.exception("session %s failed", session_id)
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.close(CLOSE_SERVER_ERROR, "internal error")


async def _receive(connection: Connection, idle_s: float) -> None:
    websocket, config = connection.websocket, connection.session.config
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=idle_s)
        except TimeoutError as error:
            raise _Close(CLOSE_IDLE, "session idle for too long") from error
        if message["type"] == "websocket.disconnect":
            return
        if time.monotonic() - connection.started > connection.max_session_s:
            raise _Close(CLOSE_MAX_DURATION, "maximum session duration exceeded")
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            duration = _chunk_ms(data, config)
            if not MIN_CHUNK_MS <= duration <= MAX_CHUNK_MS:
                raise _Close(
                    CLOSE_CHUNK_DURATION,
                    f"audio chunks must be {MIN_CHUNK_MS}-{MAX_CHUNK_MS} ms "
                    f"(got {duration:.0f} ms)",
                )
            await connection.audio(data)
        elif text is not None and _control(text, connection) == "Terminate":
            await connection.finish()
            await websocket.close(CLOSE_NORMAL)
            return
