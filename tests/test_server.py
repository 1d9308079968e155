"""`streamer serve` as a real process on a free port: health once the models are loaded."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.models


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited: {process.stdout.read() if process.stdout else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("server never became healthy")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_healthz_ok_once_models_are_loaded(server: str) -> None:
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_route_is_404_and_server_goes_on(server: str) -> None:
    assert httpx.get(f"{server}/nope").status_code == 404
    assert httpx.get(f"{server}/healthz").status_code == 200
