"""What the WebSocket routes (`/v3/ws`, `/twilio`, `/twilio/subscribe`) share: reading with a
deadline and a stop signal, closing when the peer may have gone, and the key check."""

from __future__ import annotations

import asyncio
import logging
from asyncio import FIRST_COMPLETED
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket
from starlette.datastructures import State
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect, WebSocketState

from streamer.api.auth import is_api_key, key_id
from streamer.streaming.protocol import MAX_SESSION_S, CloseCode, ProtocolError

log = logging.getLogger(__name__)


class Gone(Exception):
    """The peer closed the WebSocket, or its connection broke."""


class Reader:
    """The peer's next message, however long a model call or the server's shutdown takes:
    a receive still pending is kept for the next call."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._receiving: asyncio.Future[Message] | None = None

    async def next(
        self, timeout_s: float, until: asyncio.Future[Any] | None = None
    ) -> Message | None:
        """The next message, or None once `until` is done first; TimeoutError after
        `timeout_s`; `Gone` when the peer went away."""
        if self._receiving is None:
            self._receiving = asyncio.ensure_future(self.websocket.receive())
        waiting: set[asyncio.Future[Any]] = {self._receiving} | ({until} if until else set())
        done, _ = await asyncio.wait(
            waiting, timeout=max(timeout_s, 0.0), return_when=FIRST_COMPLETED
        )
        if self._receiving in done:
            message, self._receiving = self._receiving.result(), None
            if message["type"] == "websocket.disconnect":
                raise Gone
            return message
        if until is not None and until in done:
            return None
        raise TimeoutError

    async def next_text(
        self, timeout_s: float, until: asyncio.Future[Any] | None = None
    ) -> str | None:
        """The next text frame, as `next`; 4101 for a binary one."""
        message = await self.next(timeout_s, until)
        if message is None:
            return None
        if message.get("text") is None:
            raise ProtocolError(CloseCode.INVALID_MESSAGE, "Twilio sends JSON text frames")
        return str(message["text"])

    def cancel(self) -> None:
        if self._receiving is not None:
            self._receiving.cancel()


SEND_DEADLINE_S = 10.0
"""How long one message may wait to be sent. Past it the client has read nothing for that
long while its socket's buffers are full (a live client reads every message at once; a
stalled network resends for less): its connection is dropped."""


async def send_within(websocket: WebSocket, text: str, deadline_s: float = SEND_DEADLINE_S) -> None:
    """Send a text message, or drop the connection when the client will not take it within
    `deadline_s` and raise `WebSocketDisconnect` (as for a client gone). Without the
    deadline a client that stops reading holds its session, and its slot, for ever: uvicorn's
    send waits until the socket's buffer drains, and its close and keepalive go through the
    same full buffer."""
    try:
        async with asyncio.timeout(deadline_s):
            await websocket.send_text(text)
    except TimeoutError:
        log.warning("the client read nothing for %.0f s with messages waiting: dropped", deadline_s)
        _abort_transport(websocket)
        raise WebSocketDisconnect(CLIENT_STALLED, "client stopped reading") from None


CLIENT_STALLED = 1006
"""the code a dropped connection reports (no close frame: "abnormal closure")"""


def _abort_transport(websocket: WebSocket) -> None:
    """Close the TCP connection now, unsent data and all. ASGI gives the app no way to do
    this; uvicorn's protocol object (whose bound `send` the app was given) holds the
    transport. With another server the session still ends; only the socket waits for it."""
    protocol = getattr(getattr(websocket, "_send", None), "__self__", None)
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.abort()  # connection_lost: uvicorn's pending sends raise, receive says gone


async def close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    """Close with `code`, unless the WebSocket is closed already or the peer has gone."""
    if websocket.application_state != WebSocketState.CONNECTED:
        return
    try:
        await websocket.close(code, reason)
    except Exception:  # the peer went first: nothing left to tell it
        log.debug("close %d after the peer had gone", code)


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Whether a WebSocket may open from where it comes: no `Origin` (not a browser), the
    server's own origin, or one of `allowed` (`STREAMER_CORS_ORIGINS`). Browsers apply no
    CORS to WebSockets: without this, any page a user visits could stream to a server on
    their machine that needs no key."""
    origin = websocket.headers.get("origin")
    if origin is None or origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@dataclass(frozen=True, slots=True)
class SessionGrant:
    limit_s: float
    """how long the stream or subscriber may run"""
    key_id: str | None
    """the API key it runs under (`auth.key_id`; a token's issuer), None without keys"""


def session_grant(state: State, offered: str, use: bool = True) -> SessionGrant | None:
    """What `offered` (an API key, or a temporary token not used before: with `use`, it is
    used now) lets a stream or subscriber do; None when it is neither, as for `/v3/ws`."""
    keys: tuple[str, ...] = state.settings.accepted_keys
    if not keys:
        return SessionGrant(MAX_SESSION_S, None)
    if is_api_key(offered, keys):
        return SessionGrant(MAX_SESSION_S, key_id(offered))
    grant = state.tokens.redeem(offered) if use else state.tokens.check(offered)
    if grant is None:
        return None
    return SessionGrant(min(MAX_SESSION_S, grant.max_session_s), grant.key_id)


class KeySessions:
    """Open sessions per API key, held to `limit` each (`STREAMER_KEY_MAX_SESSIONS`; 0: only
    the server's own limit). Touched on the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def take(self, key: str | None, sessions: int = 1) -> bool:
        """Count `sessions` more for `key`, or False (nothing counted) past its limit."""
        if key is None or not self.limit:
            return True
        if self._open[key] + sessions > self.limit:
            return False
        self._open[key] += sessions
        return True

    def give_back(self, key: str | None, sessions: int = 1) -> None:
        if key is not None and self.limit:
            self._open[key] -= sessions
            if self._open[key] <= 0:
                del self._open[key]


def open_sessions(
    state: State, offered: str, checked: SessionGrant, sessions: int = 1
) -> SessionGrant:
    """Count `sessions` more for `offered`, which the route checked (`checked`: what
    `session_grant` gave with `use=False`): 3009 past the server's limit or its key's; else
    its token is used now and the sessions counted. Call it with no await since those
    checks; undo it with `close_sessions`."""
    limit: int = state.settings.max_sessions
    if state.active_sessions + sessions > limit:
        asked = f" ({sessions} asked)" if sessions > 1 else ""
        raise ProtocolError(
            CloseCode.TOO_MANY_SESSIONS, f"at most {limit} concurrent sessions{asked}"
        )
    key_sessions: KeySessions = state.key_sessions
    if not key_sessions.take(checked.key_id, sessions):
        raise ProtocolError(
            CloseCode.TOO_MANY_SESSIONS,
            f"at most {key_sessions.limit} concurrent sessions per API key",
        )
    grant = session_grant(state, offered)
    assert grant is not None, "checked above, with no await between"
    state.active_sessions += sessions
    return grant


def close_sessions(state: State, grant: SessionGrant, sessions: int = 1) -> None:
    """The sessions `open_sessions` counted are over."""
    state.active_sessions -= sessions
    state.key_sessions.give_back(grant.key_id, sessions)
