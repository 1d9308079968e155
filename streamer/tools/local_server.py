"""`streamer serve` as a child process on a free loopback port, for the tests and the load
tests: the real server, as a user starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

READY_TIMEOUT_S = 180.0
"""Loading every model takes a few seconds, converting Moonshine the first time a minute."""


class ServerFailed(RuntimeError):
    """The server exited, or never said it was ready; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Started at once with `env` added to this process's environment; its output goes to
    `log` (a temporary file by default), never to a pipe that could fill. As a context
    manager it waits until `/healthz` says the models are loaded, and stops it at the end."""

    def __init__(self, env: Mapping[str, str] | None = None, log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = log or Path(tempfile.mkdtemp(prefix="streamer-serve-")) / "server.log"
        with self.log.open("ab") as out:  # the child writes to a copy of this handle
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamer.tools.cli", "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"the server exited ({self.process.returncode}):\n{self._tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise ServerFailed(f"the server was not ready after {timeout_s:.0f} s:\n{self._tail()}")

    def stop(self) -> None:
        """SIGTERM, as a deploy stops it, and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is cleaned up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def __enter__(self) -> LocalServer:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
