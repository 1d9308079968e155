"""Clients that hold the server's resources without using them, on the real server (all on
loopback): connections that never finish a request are closed at the head deadline, and a
stream that stops reading is dropped; the server answers others meanwhile."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from streamer.api.http_protocol import HEAD_TIMEOUT_S
from streamer.api.sockets import CLIENT_STALLED, send_within
from streamer.tools.local_server import LocalServer, free_port
from tests.integration.conftest import API_KEY, AUTH, send_paced, telephone_pcm, ws_url


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        return sock.recv(1024) == b""
    except (TimeoutError, ConnectionResetError):
        return False


def test_connections_that_never_finish_a_request_are_closed(server: str) -> None:
    host, port = urlsplit(server).hostname, urlsplit(server).port
    assert host is not None and port is not None
    silent = [socket.create_connection((host, port)) for _ in range(100)]
    dripping = socket.create_connection((host, port))
    opened = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000:
            if time.monotonic() - opened > HEAD_TIMEOUT_S + 1:
                break
            try:
                dripping.send(bytes([byte]))
            except OSError:  # closed by the server: what this test wants
                break
            time.sleep(0.05)
        assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200
        deadline = opened + HEAD_TIMEOUT_S + 5
        assert all(_closed_by_server(sock, deadline) for sock in silent)
        assert _closed_by_server(dripping, deadline)
        assert time.monotonic() - opened < HEAD_TIMEOUT_S + 5
    finally:
        for sock in [*silent, dripping]:
            sock.close()


def _active_sessions(base: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("streamer_stream_sessions_active "):
            return float(line.split()[1])
    raise AssertionError("no streamer_stream_sessions_active in /metrics")


def _stalled_client(
    port: int, path: str, headers: dict[str, str] | None = None
) -> ClientConnection:
    """A WebSocket client that reads nothing: a tiny receive buffer (set before connecting,
    so the window is small), and a client library that stops reading the socket once one
    message waits unread (it answers no ping then either)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    url = f"ws://127.0.0.1:{port}{path}"
    return connect(url, sock=sock, additional_headers=headers or {}, max_queue=1)


def _unread_websocket(port: int, path: str) -> socket.socket:
    """A WebSocket opened by hand on a socket with a tiny receive buffer that is then never
    read: nothing on the client side takes the server's messages (a client library reads on
    in a thread of its own)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing past the head is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _reset_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server ends the connection (reading through what it had sent)."""
    sock.settimeout(within_s)
    try:
        while sock.recv(2**20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_a_send_the_client_does_not_take_in_time_drops_the_connection() -> None:
    """`send_within` under uvicorn as the server runs it (its sans-I/O WebSocket protocol,
    keepalive pings off so that only the deadline acts): messages of 1 MB to a client that
    reads nothing fill the buffers, the next send waits, and at the deadline the connection
    is dropped and the sender told the client is gone."""
    outcome: list[str] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await send_within(websocket, "x" * 1024**2, deadline_s=1.0)
        except WebSocketDisconnect as gone:
            outcome.append(f"gone {gone.code}")

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    port = free_port()
    config = uvicorn.Config(
        app, port=port, ws="websockets-sansio", ws_ping_interval=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with _unread_websocket(port, "/ws") as client:
            deadline = time.monotonic() + 10
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.1)
            assert outcome == [f"gone {CLIENT_STALLED}"]
            assert _reset_by_server(client, within_s=10)  # gone on the client's side too
    finally:
        server.should_exit = True
        thread.join(10)


def _stall(server: LocalServer, audio: bytes) -> tuple[float, int]:
    """Stream `audio` (up to 8 times) from a client that reads nothing, until the server
    drops it; (seconds it streamed, the server's RSS once its slot is free)."""
    started = time.monotonic()
    path = "/v3/ws?sample_rate=16000&format_turns=true"
    with _stalled_client(server.port, path, AUTH) as ws:
        try:
            for _ in range(8):  # up to 4 minutes of the call, at 4x
                send_paced(ws, audio)
        except (ConnectionClosed, OSError):
            dropped_after = time.monotonic() - started
        else:
            raise AssertionError("the server never dropped a client that stopped reading")
    deadline = time.monotonic() + 10
    while _active_sessions(server.url) != 0:
        assert time.monotonic() < deadline, "the dropped session still holds its slot"
        time.sleep(0.2)
    return dropped_after, psutil.Process(server.process.pid).memory_info().rss


PING_S = 5.0


@pytest.mark.models
def test_a_stream_that_stops_reading_is_dropped_and_its_slot_freed(tmp_path: Path) -> None:
    """A stream whose client sends audio but reads nothing back is dropped within a minute
    and its slot freed; a second such client costs the server no more memory (the first
    one's growth is the models' buffers for a long turn, kept for the next), and others go
    on. On loopback the messages (about 100 KB in 40 s) never fill the buffers, so no send
    waits: the keepalive (a ping every `STREAMER_WS_PING_S`, as long for the pong; 5 s
    here, 20 s by default, when this test took 109 s) drops the client first;
    `test_a_send_the_client_does_not_take_in_time_drops_the_connection` covers a send that
    waits."""
    server = LocalServer(
        {
            "STREAMER_API_KEYS": API_KEY,
            "STREAMER_DATA_DIR": str(tmp_path / "data"),
            "STREAMER_WS_PING_S": str(PING_S),
        },
        log=tmp_path / "server.log",
    )
    with server:
        audio = telephone_pcm()
        rss_idle = psutil.Process(server.process.pid).memory_info().rss
        first_s, rss_first = _stall(server, audio)
        second_s, rss_second = _stall(server, audio)
        assert first_s < 4 * PING_S and second_s < 4 * PING_S, (first_s, second_s)
        assert rss_second - rss_first < 50 * 1024**2, (rss_idle, rss_first, rss_second)
        with connect(ws_url(server.url, "sample_rate=16000"), additional_headers=AUTH) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "Begin"  # others go on
    print(
        f"stalled readers dropped after {first_s:.1f} and {second_s:.1f} s of streaming; RSS"
        f" {rss_idle / 1e6:.0f} idle, {rss_first / 1e6:.0f} and {rss_second / 1e6:.0f} MB after"
    )
