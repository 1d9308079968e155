"""`streamer serve` as a child process on a free loopback port, for the tests and the load
tests: the real server, as a user starts it."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
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


def _cert_rejected(error: BaseException) -> bool:
    """Whether `error` comes of a certificate that this side does not trust."""
    cause: BaseException | None = error
    for _ in range(10):  # the chain httpx raises is a few links long
        if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
            break
        cause = cause.__cause__ or cause.__context__
    return isinstance(cause, ssl.SSLCertVerificationError)


class LocalServer:
    """Started at once with `env` added to this process's environment (and `args` after
    `serve --port N`); its output goes to `log` (a temporary file by default), never to a
    pipe that could fill. As a context manager it waits until `/healthz` says the models are
    loaded, and stops it at the end.

    With `STREAMER_TLS_CERT` and `STREAMER_TLS_KEY` in that environment it serves TLS: `url`
    is `https://...`, `ws_url` `wss://...`, and `verify` (for httpx, websockets or `ssl`)
    trusts that certificate, a self-signed one (`streamer dev-cert`) included."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        args: Sequence[str] = (),
    ) -> None:
        child_env = {**os.environ, **(env or {})}
        cert = child_env.get("STREAMER_TLS_CERT")
        self.tls_cert = Path(cert) if cert else None
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        """Host and port: the Python SDK's streaming `api_host` for `wss://` and `https://`."""
        self.url = f"{'https' if self.tls_cert else 'http'}://{self.host}"
        self.ws_url = f"{'wss' if self.tls_cert else 'ws'}://{self.host}"
        self.verify: ssl.SSLContext | bool = True
        if self.tls_cert is not None:
            self.verify = ssl.create_default_context()
            self.verify.load_verify_locations(self.tls_cert)
        self.log = log or Path(tempfile.mkdtemp(prefix="streamer-serve-")) / "server.log"
        command = [sys.executable, "-m", "streamer.tools.cli", "serve", "--port", str(self.port)]
        with self.log.open("ab") as out:  # the child writes to a copy of this handle
            self.process = subprocess.Popen(
                [*command, *args], stdout=out, stderr=subprocess.STDOUT, env=child_env
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"the server exited ({self.process.returncode}):\n{self._tail()}"
                )
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=2, verify=self.verify)
                if response.status_code == 200:
                    return
            except httpx.TransportError as error:
                if _cert_rejected(error):  # it would be rejected every time
                    raise ServerFailed(f"{self.url}: {error}\n{self._tail()}") from error
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
