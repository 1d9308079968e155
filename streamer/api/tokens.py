"""Temporary streaming tokens (`GET /v3/token`) for browser clients, which cannot send an API
key header: signed, expiring, and good for one session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "tmp_"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    max_session_s: int
    key_id: str | None = None
    """the API key that issued the token (`auth.key_id`): its sessions count against it"""


class TemporaryTokens:
    """Tokens signed with a key that lives as long as the process: a restart ends them, which
    is fine for tokens meant to be used within minutes. `clock` (seconds since the epoch)
    dates them; tests pass a fake one."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._redeemed: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, expires_in_s: int, max_session_s: int, key_id: str | None = None) -> str:
        claims = {
            "id": uuid.uuid4().hex,
            "exp": self._clock() + expires_in_s,
            "max": max_session_s,
            "key": key_id,
        }
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{PREFIX}{payload}.{self._sign(payload)}"

    def redeem(self, token: str) -> TokenGrant | None:
        """The grant of a valid, unexpired token not used before (now used), else None."""
        return self._grant(token, use=True)

    def check(self, token: str) -> TokenGrant | None:
        """What `redeem` would give, leaving the token unused."""
        return self._grant(token, use=False)

    def _grant(self, token: str, use: bool) -> TokenGrant | None:
        if not token.startswith(PREFIX) or token.count(".") != 1 or not token.isascii():
            return None
        payload, signature = token[len(PREFIX) :].split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None  # only our own (signed) payloads are ever decoded below
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        now = self._clock()
        with self._lock:
            self._redeemed = {k: exp for k, exp in self._redeemed.items() if exp > now}
            if claims["exp"] <= now or claims["id"] in self._redeemed:
                return None
            if use:
                self._redeemed[claims["id"]] = claims["exp"]
        return TokenGrant(max_session_s=int(claims["max"]), key_id=claims.get("key"))

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
