"""`/twilio`: a Twilio Media Streams bridge (and, from `streamer.api.twilio_subscribe`,
`/twilio/subscribe` to follow its calls).

Twilio opens the WebSocket of a `<Stream url="wss://HOST/twilio">` and sends JSON text frames
(`streamer.api.twilio_messages`). Its URL takes no query string, so what a call is set to do
comes in the `<Parameter>`s of the `start` message (`?name=value` in the URL works too, for
other senders; a parameter wins over the query): `token` (an API key or a temporary token
from `/v3/token`), `callback_url` (+ `callback_auth_header_name` / `_value`),
`inbound_name` / `outbound_name`, `max_speakers`, and the end-of-turn settings of `/v3/ws`.

A call counts one session per track against `max_sessions` (a two-track call runs two live
sessions: two VADs, twice the decodes). When the stream stops, Twilio goes away or is idle
for `DEFAULT_INACTIVITY_S`, the session's time is up or the server shuts down, the open
turns still get their finals; results go to the callback and to the subscribers
(`streamer.api.twilio_call`), never back to Twilio. A broken message closes at once with
the code `/v3/ws` uses for the same fault, as does a stream whose decodes back up (1013).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import Field, ValidationError

from streamer.api.call_delivery import CallbackPoster
from streamer.api.call_subscribers import call_subscribers
from streamer.api.errors import first_problem
from streamer.api.jobs.webhooks import TIMEOUT_S
from streamer.api.live_channels import ChannelPlan
from streamer.api.logs import log_context
from streamer.api.outbound import guarded_async_client, unreachable
from streamer.api.sockets import (
    Gone,
    Reader,
    SessionGrant,
    close_quietly,
    close_sessions,
    open_sessions,
    session_grant,
)
from streamer.api.twilio_call import TwilioCall
from streamer.api.twilio_messages import MULAW_RATE, Media, Start, Stop, read_message
from streamer.api.twilio_subscribe import router as subscribe_router
from streamer.api.wire import MAX_SPEAKERS, TurnSettings
from streamer.streaming.config import StreamConfig
from streamer.streaming.protocol import (
    DEFAULT_INACTIVITY_S,
    CloseCode,
    ProtocolError,
    apply_turn_changes,
)
from streamer.streaming.turns import TurnParams

log = logging.getLogger(__name__)
router = APIRouter()
router.include_router(subscribe_router)

CLIENT_GONE = 1005
START_TIMEOUT_S = 10.0
"""Twilio sends `start` right after `connected`."""
FINISH_TIMEOUT_S = 30.0
"""Ending the open turns takes a final decode each: well under a second."""
SHUTDOWN_FLUSH_S = 5.0
"""On shutdown, how long the callback gets to take the last finals (within the server's
grace)."""
_posting: set[asyncio.Task[None]] = set()
"""Callbacks still sending after their call ended."""


class CallParams(TurnSettings):
    """What a stream is set to do: `start.customParameters` over the URL's query."""

    token: str | None = Field(default=None, max_length=4096)
    callback_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2048)
    callback_auth_header_name: str | None = Field(default=None, max_length=256)
    callback_auth_header_value: str | None = Field(default=None, max_length=4096)
    inbound_name: str = Field(default="inbound", min_length=1, max_length=64)
    outbound_name: str = Field(default="outbound", min_length=1, max_length=64)
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    """for one (mixed) track: at most this many speakers"""

    def plans(self, tracks: Sequence[str]) -> list[ChannelPlan]:
        turn = apply_turn_changes(TurnParams(), self.changes())
        names = {"inbound": self.inbound_name, "outbound": self.outbound_name}
        mixed = len(tracks) == 1
        return [
            ChannelPlan(
                tag=track,
                name=None if mixed else names[track],
                config=StreamConfig(
                    sample_rate=MULAW_RATE,
                    encoding="pcm_mulaw",
                    speaker_labels=mixed,
                    max_speakers=self.max_speakers if mixed else None,
                    format_turns=bool(self.format_turns),
                    turn=turn,
                ),
            )
            for track in tracks
        ]

    def callback_headers(self) -> dict[str, str]:
        name, value = self.callback_auth_header_name, self.callback_auth_header_value
        return {name: value} if name and value is not None else {}


@router.websocket("/twilio")
async def twilio_stream(websocket: WebSocket) -> None:
    await websocket.accept()  # Twilio says who it is only in its first messages
    reader = Reader(websocket)
    state = websocket.app.state
    try:
        start = await _read_start(reader)
        params, grant = _admit(websocket, start)  # no await from the checks to the count
    except (ProtocolError, TimeoutError, Gone) as refusal:
        reader.cancel()
        if isinstance(refusal, ProtocolError):
            await close_quietly(websocket, refusal.code, refusal.reason)
        elif isinstance(refusal, TimeoutError):
            await close_quietly(websocket, CloseCode.IDLE, "no start message")
        return
    try:
        refused = params.callback_url and await unreachable(state.outbound, params.callback_url)
        if refused:
            bad_callback = ProtocolError(CloseCode.BAD_PARAMS, f"callback_url: {refused}")
            await close_quietly(websocket, bad_callback.code, bad_callback.reason)  # cut to fit
            return
        await _run_call(reader, start, params, grant.limit_s)
    finally:
        close_sessions(state, grant, len(start.tracks))  # counted by `_admit`
        reader.cancel()


async def _read_start(reader: Reader) -> Start:
    """Messages up to the `start` (`connected` and others are passed over); media before it
    closes 4101."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        text = await reader.next_text(deadline - time.monotonic())
        assert text is not None  # there is nothing else to wait for
        message = read_message(text)
        if isinstance(message, Start):
            return message
        if isinstance(message, Media):
            raise ProtocolError(CloseCode.INVALID_MESSAGE, "media before start")
        if isinstance(message, Stop):
            raise ProtocolError(CloseCode.INVALID_MESSAGE, "stop before start")


def _admit(websocket: WebSocket, start: Start) -> tuple[CallParams, SessionGrant]:
    """The stream's params and grant, its sessions counted; or the refusal (4001 not
    authorized, checked first; 3006 bad params; 3009 too many sessions, or too many for
    its key)."""
    state = websocket.app.state
    given = {**dict(websocket.query_params), **start.custom_parameters}
    offered = str(given.get("token") or websocket.headers.get("authorization", ""))
    checked = session_grant(state, offered, use=False)
    if checked is None:
        raise ProtocolError(CloseCode.UNAUTHORIZED, "not authorized")
    try:
        params = CallParams.model_validate(given)
    except ValidationError as error:
        raise ProtocolError(CloseCode.BAD_PARAMS, first_problem(error)) from error
    return params, open_sessions(state, offered, checked, len(start.tracks))


async def _run_call(reader: Reader, start: Start, params: CallParams, limit_s: float) -> None:
    websocket = reader.websocket
    state = websocket.app.state
    log_context.set(f"call={start.call_sid} stream={start.stream_sid}")
    hub = call_subscribers(state)
    poster = None
    if params.callback_url is not None:
        poster = CallbackPoster(
            guarded_async_client(state.outbound, TIMEOUT_S),
            params.callback_url,
            params.callback_headers(),
            on_failure=state.metrics.webhook_failures.inc,
        )

    def publish(message: dict[str, Any], to_callback: bool) -> None:
        hub.publish(message)
        if to_callback and poster is not None:
            poster.post(message)

    max_speed = state.settings.max_stream_speed
    plans = params.plans(start.tracks)
    call = TwilioCall(
        start, plans, state.streaming, publish, state.live_streams, limit_s, max_speed
    )
    code = CLIENT_GONE
    try:
        code = await _serve(reader, call)
    finally:
        call.end(code)
        if poster is not None:
            sending = poster.close()
            if code == CloseCode.SERVICE_RESTART:
                await asyncio.wait({sending}, timeout=SHUTDOWN_FLUSH_S)
            _posting.add(sending)
            sending.add_done_callback(_posting.discard)


async def _serve(reader: Reader, call: TwilioCall) -> int:
    """Media until the stream ends; the close code it ended with."""
    websocket = reader.websocket
    stopping = asyncio.ensure_future(call.channels.stopping())
    try:
        code, reason = await _receive(reader, call, stopping)
    except ProtocolError as close:  # a broken message, or decodes backing up: no finish
        await close_quietly(websocket, close.code, close.reason)
        return close.code
    except Exception:
        log.exception("stream %s failed", call.ids["stream_sid"])
        await close_quietly(websocket, CloseCode.SERVER_ERROR, "internal error")
        return CloseCode.SERVER_ERROR
    finally:
        stopping.cancel()
    try:
        await asyncio.wait_for(call.finish(), FINISH_TIMEOUT_S)
    except ProtocolError as close:  # the final found the decode queue full
        code, reason = close.code, close.reason
    except Exception:
        log.exception("stream %s: the last finals failed", call.ids["stream_sid"])
        code, reason = CloseCode.SERVER_ERROR, "internal error"
    await close_quietly(websocket, code, reason)
    return code


async def _receive(
    reader: Reader, call: TwilioCall, stopping: asyncio.Future[Any]
) -> tuple[int, str]:
    """Twilio's messages until one ends the stream: the code and reason to close with once
    the open turns have their finals."""
    while True:
        left_s = call.max_session_s - call.elapsed_s
        try:
            text = await reader.next_text(min(DEFAULT_INACTIVITY_S, left_s), stopping)
        except TimeoutError:
            if left_s <= DEFAULT_INACTIVITY_S:
                return CloseCode.MAX_DURATION, "maximum session duration exceeded"
            return CloseCode.IDLE, "session idle for too long"
        except Gone:
            return CLIENT_GONE, ""
        if text is None:
            return CloseCode.SERVICE_RESTART, "server shutting down"
        message = read_message(text)
        if isinstance(message, Media):
            await call.media(message)
        elif isinstance(message, Stop):
            return CloseCode.NORMAL, ""
        elif isinstance(message, Start):
            raise ProtocolError(CloseCode.INVALID_MESSAGE, "a second start")
