"""`/twilio/subscribe?call_sid=...` (or `stream_sid=`, or both): follow the Twilio bridge's
calls live over a WebSocket, authorized as `/v3/ws` is (`Authorization` or `?token=`: an API
key or a temporary token).

It sends the messages the bridge makes (`streamer.api.twilio_call`) as JSON text frames:
the stream's `Begin` first (also to a subscriber that joins mid-call: earlier turns are not
replayed), then `SpeechStarted`, partial and final `Turn`s and `SpeakerRevision`s, and the
`Termination`, after which it closes 1000. One that joins before the call waits for it up to
`SUBSCRIBE_WAIT_S` (then 4031). One that stops reading is dropped (1008) once
`MAX_PENDING` messages wait for it (`streamer.api.call_subscribers`).
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from streamer.api.call_subscribers import Subscription, call_subscribers
from streamer.api.sockets import (
    Gone,
    Reader,
    close_quietly,
    origin_allowed,
    send_within,
    session_grant,
)
from streamer.api.wire import error_message
from streamer.streaming.protocol import CloseCode

router = APIRouter()

POLICY_VIOLATION = 1008
"""A subscriber that stopped reading is dropped with this."""
SUBSCRIBE_WAIT_S = 300.0
"""How long a subscriber may wait for its call to start."""


@router.websocket("/twilio/subscribe")
async def subscribe(websocket: WebSocket) -> None:
    query, state = websocket.query_params, websocket.app.state
    call_sid, stream_sid = query.get("call_sid") or None, query.get("stream_sid") or None
    await websocket.accept()
    if not origin_allowed(websocket, state.settings.cors_origins):
        await _refuse(websocket, CloseCode.UNAUTHORIZED, "origin not allowed")
        return
    if call_sid is None and stream_sid is None:
        await _refuse(websocket, CloseCode.BAD_PARAMS, "call_sid or stream_sid required")
        return
    offered = websocket.headers.get("authorization") or query.get("token", "")
    grant = session_grant(state, offered)
    if grant is None:
        await _refuse(websocket, CloseCode.UNAUTHORIZED, "not authorized")
        return
    hub = call_subscribers(state)
    subscription = hub.subscribe(call_sid, stream_sid)
    if subscription is None:
        await _refuse(websocket, CloseCode.TOO_MANY_SESSIONS, "too many subscribers")
        return
    reader = Reader(websocket)
    try:
        code, reason = await _follow(reader, subscription, grant.limit_s)
        await close_quietly(websocket, code, reason)
    except (Gone, WebSocketDisconnect):  # went, or stopped reading and was dropped
        pass
    finally:
        hub.unsubscribe(subscription)
        reader.cancel()


async def _refuse(websocket: WebSocket, code: CloseCode, reason: str) -> None:
    await websocket.send_text(json.dumps(error_message(reason, code)))
    await close_quietly(websocket, code, reason)


async def _follow(reader: Reader, subscription: Subscription, limit_s: float) -> tuple[int, str]:
    """Send what the subscription gets until its streams end; the code to close with.
    What the subscriber sends is not read, only its going away."""
    websocket, started = reader.websocket, time.monotonic()
    while True:
        waited_s = time.monotonic() - started
        if waited_s >= limit_s:
            return CloseCode.MAX_DURATION, "maximum session duration exceeded"
        if not subscription.begun and waited_s >= SUBSCRIBE_WAIT_S:
            return CloseCode.IDLE, "no such call started"
        wait_s = limit_s if subscription.begun else min(limit_s, SUBSCRIBE_WAIT_S)
        ready = asyncio.ensure_future(subscription.ready.wait())
        try:
            if await reader.next(wait_s - waited_s, ready) is not None:
                continue
        except TimeoutError:
            continue
        finally:
            ready.cancel()
        for message in subscription.take():
            await send_within(websocket, json.dumps(message))
        if subscription.overflowed:
            return POLICY_VIOLATION, "too slow: messages were waiting"
        if subscription.ended:
            return CloseCode.NORMAL, ""
