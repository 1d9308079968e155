"""API keys on the HTTP routes, checked before anything reads the request: a request without
a valid key gets 401 whatever its body holds (a route's own validation would answer first)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from streamer.api.errors import error_body

PROTECTED_PREFIXES = ("/v2/", "/v3/token")
"""Routes that need a key; /v3/ws checks its own (header or `?token=`) when it opens."""
UNAUTHORIZED = "Authentication error, API token missing/invalid"


def is_api_key(offered: str | None, keys: Sequence[str]) -> bool:
    """Whether `offered` is one of `keys`, in time that does not depend on how much of a key
    it gets right (every key is compared, each in constant time)."""
    given = (offered or "").encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


def key_id(key: str) -> str:
    """What names an API key where it is counted or stored (per-key limits, its jobs, the
    tokens it issued): a digest, so no record holds the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KeyRoles:
    """Whose transcripts and voices a caller sees: on a server with keys, a key sees its own
    and an admin key (`STREAMER_ADMIN_KEYS`) everyone's."""

    def __init__(self, keys: Sequence[str], admin_keys: Sequence[str]) -> None:
        self.keyed = bool(keys or admin_keys)
        self._admins = frozenset(key_id(key) for key in admin_keys)

    def scope(self, caller: str | None) -> str | None:
        """The key id whose records `caller` (a key id, None without keys) may see; None:
        every record."""
        return None if caller is None or caller in self._admins else caller


def caller_key(request: Request) -> str | None:
    """The key id of an HTTP caller (None on a server without keys)."""
    key = request.headers.get("authorization")
    return key_id(key) if request.app.state.roles.keyed and key else None


def caller_scope(request: Request) -> str | None:
    """Whose records an HTTP caller sees (`KeyRoles.scope`)."""
    roles: KeyRoles = request.app.state.roles
    return roles.scope(caller_key(request))


class RequireApiKey:
    """ASGI middleware: with `keys` set, `Authorization` must be one of them."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.keys
            and str(scope["path"]).startswith(PROTECTED_PREFIXES)
            and not is_api_key(Headers(scope=scope).get("authorization"), self.keys)
        ):
            await JSONResponse(error_body(UNAUTHORIZED), status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
