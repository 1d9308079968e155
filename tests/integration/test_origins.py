"""Which web origins may call the server from a browser: the shared test server allows its
own and `CAPTIONS_ORIGIN` (STREAMER_CORS_ORIGINS). Origins are only sent as headers: nothing
here connects anywhere but the loopback server."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import API_KEY, AUTH, CAPTIONS_ORIGIN, ws_url

ELSEWHERE = "http://evil.test"


def _preflight(server: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{server}/v3/token",
        headers={
            "origin": origin,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )


def test_a_configured_origin_may_call_the_api_and_no_other(server: str) -> None:
    allowed = _preflight(server, CAPTIONS_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == CAPTIONS_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = _preflight(server, ELSEWHERE)
    assert "access-control-allow-origin" not in refused.headers
    token = httpx.get(f"{server}/v3/token", headers={**AUTH, "origin": CAPTIONS_ORIGIN})
    assert token.headers["access-control-allow-origin"] == CAPTIONS_ORIGIN
    other = httpx.get(f"{server}/v3/token", headers={**AUTH, "origin": ELSEWHERE})
    assert "access-control-allow-origin" not in other.headers  # the browser hides the body


def _opens(server: str, origin: str | None) -> bool:
    headers = {"Authorization": API_KEY, **({"Origin": origin} if origin else {})}
    with connect(ws_url(server, "sample_rate=16000"), additional_headers=headers) as ws:
        first = json.loads(ws.recv(timeout=10))
        if first["type"] != "Begin":
            assert first["error_code"] == 4001 and first["error"] == "origin not allowed"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            return False
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"
        return True


def test_a_stream_opens_from_its_own_origin_a_configured_one_or_no_browser(server: str) -> None:
    """Browsers apply no CORS to WebSockets, so the server checks `Origin` itself: a page
    elsewhere cannot stream to (or read calls from) a server that needs no key."""
    own = server  # http://127.0.0.1:PORT, as a page the server serves sends it
    assert _opens(server, own) and _opens(server, CAPTIONS_ORIGIN) and _opens(server, None)
    assert not _opens(server, ELSEWHERE)
    assert not _opens(server, own.replace("127.0.0.1", "127.0.0.1.evil.test"))
    url = ws_url(server, "call_sid=CA1").replace("/v3/ws", "/twilio/subscribe")
    headers = {"Authorization": API_KEY, "Origin": ELSEWHERE}
    with connect(url, additional_headers=headers) as ws:
        assert json.loads(ws.recv(timeout=10))["error"] == "origin not allowed"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
