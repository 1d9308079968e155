"""Connections that never finish a request are closed at the head deadline, on the real
server (all on loopback); the server answers others meanwhile."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx

from streamer.api.http_protocol import HEAD_TIMEOUT_S


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
