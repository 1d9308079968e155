"""Temporary streaming tokens (`GET /v3/token`) for browser clients, which cannot send an API
key header: JWTs (PyJWT, HS256) that expire and open one session.

They are signed with `STREAMER_TOKEN_SECRET` when it is set, so every replica sharing the
secret accepts a token any of them issued; without it, with a key that lives as long as the
process (one server: a restart ends the tokens it gave). A used token is recorded in the
shared database (`token_store`), so it opens one session on one replica."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from streamer.api.token_store import UsedTokens

PREFIX = "tmp_"
AUDIENCE = "streamer:/v3/ws"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    max_session_s: int
    key_id: str | None = None
    """the API key that issued the token (`auth.key_id`): its sessions count against it"""


class TemporaryTokens:
    """`clock` (seconds since the epoch) dates and expires them; tests pass a fake one."""

    def __init__(
        self,
        used: UsedTokens,
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._used = used
        self._secret = secret or secrets.token_hex(32)
        self._clock = clock

    def issue(self, expires_in_s: int, max_session_s: int, key_id: str | None = None) -> str:
        claims = {
            "jti": uuid.uuid4().hex,
            "aud": AUDIENCE,
            "exp": self._clock() + expires_in_s,
            "max": max_session_s,
            "key": key_id,
        }
        return PREFIX + jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def redeem(self, token: str) -> TokenGrant | None:
        """The grant of a valid, unexpired token not used before (now used), else None."""
        return self._grant(token, use=True)

    def check(self, token: str) -> TokenGrant | None:
        """What `redeem` would give, leaving the token unused."""
        return self._grant(token, use=False)

    def _grant(self, token: str, use: bool) -> TokenGrant | None:
        if not token.startswith(PREFIX):
            return None
        try:
            claims = jwt.decode(
                token[len(PREFIX) :],
                self._secret,
                algorithms=[ALGORITHM],  # never "none", never another key's kind
                audience=AUDIENCE,
                options={"verify_exp": False, "require": ["jti", "aud", "exp", "max"]},
            )  # the expiry is checked on our clock below
            token_id, expires, max_s = str(claims["jti"]), float(claims["exp"]), claims["max"]
        except (jwt.PyJWTError, TypeError, ValueError):
            return None
        now = self._clock()
        if expires <= now or not isinstance(max_s, int):
            return None
        if use and not self._used.use(token_id, expires, now):
            return None
        if not use and self._used.used(token_id):
            return None
        key = claims.get("key")
        return TokenGrant(max_session_s=max_s, key_id=key if isinstance(key, str) else None)
