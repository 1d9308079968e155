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
from dataclasses import replace

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from streamer.api.errors import first_problem
from streamer.api.live_channels import ChannelPlan, LiveChannels
from streamer.api.logs import log_context
from streamer.api.sockets import (
    Gone,
    Reader,
    SessionGrant,
    close_sessions,
    open_sessions,
    origin_allowed,
    send_within,
    session_grant,
)
from streamer.api.voice_store import UnknownVoices
from streamer.api.wire import (
    StreamParams,
    begin_message,
    error_message,
    termination_message,
    turn_changes,
)
from streamer.core.channels import channel_name
from streamer.core.voices import KnownVoice
from streamer.streaming.config import StreamConfig, whisper_paced
from streamer.streaming.interleaved import ChannelSplitter
from streamer.streaming.protocol import (
    DEFAULT_INACTIVITY_S,
    AudioPace,
    CloseCode,
    ProtocolError,
    apply_turn_changes,
    check_chunk,
    chunk_ms,
    read_control,
)
from streamer.streaming.turns import TurnParams

log = logging.getLogger(__name__)
router = APIRouter()

CLIENT_GONE = 1005
"""The close code counted for a session whose client went without one ("no status")."""


def _plans(params: StreamParams, voices: tuple[KnownVoice, ...]) -> list[ChannelPlan]:
    """A stream of one channel is one session. With `channels`, each channel is a session
    of its own whose words are named by the channel ("1", "2"); the speakers inside a
    channel are told apart ("1A", "1B") only when `speaker_labels=true` is given."""
    config = StreamConfig(
        sample_rate=params.sample_rate,
        encoding=params.encoding,
        speaker_labels=params.speaker_labels,
        max_speakers=params.max_speakers,
        format_turns=bool(params.format_turns),
        turn=apply_turn_changes(TurnParams(), params.changes()),
        known_voices=voices,
        language=params.language,
        languages=params.languages,
        multilingual=params.multilingual,
    )
    if params.multilingual:
        config = whisper_paced(config)
    if params.channels == 1:
        return [ChannelPlan(config)]
    diarized = params.speaker_labels and "speaker_labels" in params.model_fields_set
    channel = replace(config, speaker_labels=diarized)
    names = [channel_name(index) for index in range(params.channels)]
    return [ChannelPlan(channel, tag=name, name=name) for name in names]


class Connection:
    """One `/v3/ws` client: a live stream per channel of its audio, whose events it sends
    as v3 JSON."""

    def __init__(
        self,
        websocket: WebSocket,
        params: StreamParams,
        voices: tuple[KnownVoice, ...],
        max_session_s: float,
    ) -> None:
        self.websocket = websocket
        self.max_session_s = max_session_s
        self._send_lock = asyncio.Lock()
        state = websocket.app.state
        self.channels = LiveChannels(
            _plans(params, voices), state.streaming, self.publish, state.live_streams
        )
        self.splitter = ChannelSplitter(params.channels, params.encoding)
        self.reader = Reader(websocket)
        self.stopping = asyncio.ensure_future(self.channels.stopping())
        """done when the server shuts down: the stream then ends with `finish`"""

    async def send(self, message: dict[str, object]) -> None:
        async with self._send_lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await send_within(self.websocket, json.dumps(message))

    async def publish(self, message: dict[str, object], _result: bool) -> None:
        await self.send(message)

    async def finish(self) -> None:
        """Flush the open turns, send every result still coming, then say goodbye."""
        await self.channels.finish()
        elapsed_s = time.monotonic() - self.channels.started
        await self.send(termination_message(self.channels.audio_duration_s, elapsed_s))

    def close(self, code: int) -> None:
        self.reader.cancel()
        self.stopping.cancel()
        self.channels.close(code)


def _control(text: str, connection: Connection) -> str:
    """Act on a control message; its type."""
    control = read_control(text)
    if control.kind == "ForceEndpoint":
        connection.channels.force_endpoint()
    elif control.kind == "UpdateConfiguration":
        changes = turn_changes(control.body)
        config = connection.channels.config
        formatted = config.format_turns if changes.format_turns is None else changes.format_turns
        connection.channels.reconfigure(apply_turn_changes(config.turn, changes), formatted)
    return control.kind


@router.websocket("/v3/ws")
async def stream(websocket: WebSocket) -> None:
    accepted = await _accept(websocket)
    if accepted is None:
        return
    params, voices, grant = accepted
    try:
        connection = Connection(websocket, params, voices, grant.limit_s)
        code = CLIENT_GONE
        try:
            code = await _serve(connection, params)
        finally:
            connection.close(code)
            audio_s = connection.channels.audio_duration_s
            log.info("closed %d after %.1f s of audio", code, audio_s)
    finally:
        close_sessions(websocket.app.state, grant, params.channels)  # counted by `_accept`


async def _refuse(websocket: WebSocket, refusal: ProtocolError) -> None:
    await websocket.accept()  # a close code (which the SDK reports) needs an open WebSocket
    await websocket.send_text(json.dumps(error_message(refusal.reason, refusal.code)))
    await websocket.close(refusal.code, refusal.reason)


async def _accept(
    websocket: WebSocket,
) -> tuple[StreamParams, tuple[KnownVoice, ...], SessionGrant] | None:
    """Admit the session and accept it, or refuse it with the code for the cause."""
    try:
        admitted = _admit(websocket)
    except ProtocolError as refusal:
        await _refuse(websocket, refusal)
        return None
    try:
        await websocket.accept()
    except BaseException:
        close_sessions(websocket.app.state, admitted[2], admitted[0].channels)
        raise
    return admitted


def _admit(websocket: WebSocket) -> tuple[StreamParams, tuple[KnownVoice, ...], SessionGrant]:
    """Check the origin and the key, then params and capacity, and count the session; or
    `ProtocolError`. A client without a key learns nothing of params or capacity (4001
    first). No await from the checks to the count, so concurrent handshakes cannot all pass
    the capacity check, and a temporary token is used up only by a session that opens."""
    query = dict(websocket.query_params)
    state = websocket.app.state
    offered = websocket.headers.get("authorization") or query.get("token") or ""
    if not origin_allowed(websocket, state.settings.cors_origins):
        raise ProtocolError(CloseCode.UNAUTHORIZED, "origin not allowed")
    checked = session_grant(state, offered, use=False)
    if checked is None:
        raise ProtocolError(CloseCode.UNAUTHORIZED, "not authorized")
    try:
        params = StreamParams.model_validate(query)
    except ValidationError as error:
        raise ProtocolError(CloseCode.BAD_PARAMS, first_problem(error)) from error
    try:
        scope = state.roles.scope(checked.key_id)
        voices = tuple(voice.known() for voice in state.voices.get_many(params.voice_ids(), scope))
    except UnknownVoices as error:
        raise ProtocolError(CloseCode.BAD_PARAMS, f"invalid known_voices: {error}") from error
    # a session per channel
    return params, voices, open_sessions(state, offered, checked, params.channels)


async def _serve(connection: Connection, params: StreamParams) -> int:
    """Begin, then frames until Terminate, a close code, or the client is gone; the close
    code (1005, none received, when the client went without one)."""
    websocket = connection.websocket
    session_id = str(uuid.uuid4())
    log_context.set(f"session={session_id}")
    log.info("opened: %s", params.model_dump(exclude_none=True, exclude={"token"}))
    try:
        await connection.send(
            begin_message(session_id, int(time.time() + connection.max_session_s))
        )
        return await _receive(connection, params)
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


async def _receive(connection: Connection, params: StreamParams) -> int:
    websocket, channels = connection.websocket, connection.channels
    idle_s = params.inactivity_timeout or DEFAULT_INACTIVITY_S
    audio_format = (params.encoding, params.sample_rate, params.channels)
    pace = AudioPace(websocket.app.state.settings.max_stream_speed)
    while True:
        left_s = connection.max_session_s - (time.monotonic() - channels.started)
        try:
            message = await connection.reader.next(min(idle_s, left_s), connection.stopping)
        except Gone:
            return CLIENT_GONE
        except TimeoutError as error:
            # which limit was waited for, not the clock after it: asyncio may wake a timeout
            # up to its clock resolution early, so re-reading the clock can miss the limit
            if left_s <= idle_s:
                raise ProtocolError(
                    CloseCode.MAX_DURATION, "maximum session duration exceeded"
                ) from error
            raise ProtocolError(CloseCode.IDLE, "session idle for too long") from error
        if message is None:  # the server is shutting down: the open turn still gets its final
            await connection.finish()
            await websocket.close(CloseCode.SERVICE_RESTART, "server shutting down")
            return CloseCode.SERVICE_RESTART
        if time.monotonic() - channels.started > connection.max_session_s:
            raise ProtocolError(CloseCode.MAX_DURATION, "maximum session duration exceeded")
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            check_chunk(len(data), *audio_format)
            pace.received(chunk_ms(len(data), *audio_format) / 1000, time.monotonic())
            await channels.audio(connection.splitter.split(data))
        elif text is not None and _control(text, connection) == "Terminate":
            await connection.finish()
            await websocket.close(CloseCode.NORMAL)
            return CloseCode.NORMAL
