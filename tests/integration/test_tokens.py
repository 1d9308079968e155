"""Temporary streaming tokens: signed, expiring, single-use; on their own (on a fake clock) and
over the real server's WebSocket."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streamer.api.auth import is_api_key
from streamer.api.schema import open_database
from streamer.api.token_store import SqlUsedTokens
from streamer.api.tokens import PREFIX, TemporaryTokens, TokenGrant
from tests.integration.conftest import API_KEY, FakeClock


def _tokens(
    tmp_path: Path, clock: FakeClock | None = None, secret: str | None = None
) -> TemporaryTokens:
    """Tokens on a real used-token table in `tmp_path` (another folder: another database)."""
    used = SqlUsedTokens(open_database(f"sqlite:///{tmp_path / 'jobs.sqlite3'}"))
    return TemporaryTokens(used, secret, clock or FakeClock())


def _parts(token: str) -> list[str]:
    return token[len(PREFIX) :].split(".")


def _claims(token: str) -> dict[str, Any]:
    payload = _parts(token)[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def _with_claims(token: str, **changes: object) -> str:
    """`token` with its payload re-encoded with `changes`, keeping the old signature."""
    header, _, signature = _parts(token)
    claims = {**_claims(token), **changes}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{PREFIX}{header}.{payload}.{signature}"


def _flip(text: str, index: int) -> str:
    swapped = "A" if text[index] != "A" else "B"
    return text[:index] + swapped + text[index + 1 :]


def test_a_token_gives_its_session_length_once(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path)
    token = tokens.issue(expires_in_s=60, max_session_s=600, key_id="k1")
    other = tokens.issue(expires_in_s=60, max_session_s=120)
    assert token.startswith(PREFIX) and token != other
    assert tokens.redeem(token) == TokenGrant(max_session_s=600, key_id="k1")
    assert tokens.redeem(token) is None  # used
    assert tokens.redeem(other) == TokenGrant(max_session_s=120)  # others unaffected
    assert tokens.redeem(other) is None


def test_an_api_key_matches_only_exactly() -> None:
    keys = ("key-one", "key-two")
    assert is_api_key("key-one", keys) and is_api_key("key-two", keys)
    for wrong in ("key-on", "key-one ", "KEY-ONE", "", None, "key-onekey-two"):
        assert not is_api_key(wrong, keys)
    assert not is_api_key("key-one", ())


def test_checking_a_token_leaves_it_unused(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path)
    token = tokens.issue(expires_in_s=60, max_session_s=600)
    assert tokens.check(token) == tokens.check(token) == TokenGrant(max_session_s=600)
    assert tokens.redeem(token) == TokenGrant(max_session_s=600)
    assert tokens.check(token) is None and tokens.check("tmp_x.y.z") is None


def test_replicas_sharing_the_secret_and_database_accept_a_token_once(tmp_path: Path) -> None:
    """What two replicas hold: their own TemporaryTokens, one secret, one database."""
    shared = "the replicas' shared secret, 32+ chars"
    first, second = (_tokens(tmp_path, secret=shared) for _ in range(2))
    token = first.issue(expires_in_s=60, max_session_s=600)
    assert second.check(token) is not None
    assert second.redeem(token) is not None
    assert first.redeem(token) is None and second.redeem(token) is None
    stranger = _tokens(tmp_path / "other", secret="another deployment's secret, 32+ chars")
    assert stranger.redeem(first.issue(expires_in_s=60, max_session_s=600)) is None


def test_concurrent_redeems_of_one_token_let_one_in(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path)
    token = tokens.issue(expires_in_s=60, max_session_s=600)
    grants: list[TokenGrant | None] = []
    start = threading.Barrier(8)

    def redeem() -> None:
        start.wait()
        grants.append(tokens.redeem(token))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert grants.count(None) == 7 and TokenGrant(max_session_s=600) in grants


def test_a_token_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    tokens = _tokens(tmp_path, clock)
    early, late, used = (tokens.issue(expires_in_s=60, max_session_s=600) for _ in range(3))
    assert tokens.redeem(used) is not None
    clock.advance(59.5)
    assert tokens.redeem(early) is not None  # just in time
    clock.advance(0.5)  # 60 s: expired
    assert tokens.redeem(late) is None
    clock.advance(3600)
    assert tokens.redeem(late) is None and tokens.redeem(used) is None


def test_tampered_tokens_are_refused(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path)
    token = tokens.issue(expires_in_s=60, max_session_s=60)
    header, payload, signature = _parts(token)
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    forged = [
        _with_claims(token, max=10_800),  # a longer session
        _with_claims(token, exp=_claims(token)["exp"] + 3600),  # a later expiry
        _with_claims(token, jti="0" * 32),  # another id
        _with_claims(token, key="someone else"),
        f"{PREFIX}{none_header}.{payload}.",  # "alg": "none"
        f"{PREFIX}{header}.{_flip(payload, 3)}.{signature}",
        f"{PREFIX}{header}.{payload}.{_flip(signature, 0)}",
        f"{PREFIX}{header}.{payload}.{signature[:-2]}",
        f"{PREFIX}{header}.{payload}.",
        f"{PREFIX}{header}.{payload}",
        f"{PREFIX}{header}.{payload}.{signature}.{signature}",
        f"{header}.{payload}.{signature}",  # no prefix
        _tokens(tmp_path / "other").issue(expires_in_s=60, max_session_s=60),  # another key
    ]
    for bad in forged:
        assert tokens.redeem(bad) is None, bad
    assert tokens.redeem(token) == TokenGrant(max_session_s=60)  # refusals did not use it


@pytest.mark.parametrize(
    "garbage",
    ["", "tmp_", "tmp_.", "tmp_..", "x", "tmp_abc", "tmp_é.x.y", "tmp_\x00.\x00", "Bearer x", "."],
)
def test_garbage_is_refused(tmp_path: Path, garbage: str) -> None:
    assert _tokens(tmp_path).redeem(garbage) is None


def _first_message_and_close_code(url: str) -> tuple[dict[str, object], int | None]:
    with connect(url) as ws:
        message = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    return message, closed.value.rcvd.code if closed.value.rcvd is not None else None


@pytest.mark.models
def test_a_tampered_token_is_closed_with_4001(server: str) -> None:
    token = httpx.get(
        f"{server}/v3/token",
        params={"expires_in_seconds": 60, "max_session_duration_seconds": 60},
        headers={"authorization": API_KEY},
    ).json()["token"]
    base = server.replace("http://", "ws://") + "/v3/ws?sample_rate=16000&token="
    header, payload, signature = _parts(token)
    for bad in (
        _with_claims(token, max=10_800),
        f"{PREFIX}{header}.{payload}.{_flip(signature, 0)}",
        "tmp_garbage",
    ):
        message, code = _first_message_and_close_code(base + quote(bad))
        assert message["error_code"] == 4001 and code == 4001
    with connect(base + quote(token)) as ws:  # the real one still works: refusals cost nothing
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"
