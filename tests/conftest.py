"""Shared fixtures. Model-backed fixtures load the real models once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import numpy as np
import pytest

from streamer.config import settings_from_env
from streamer.media import decode_file
from streamer.models.loader import ModelSet, load_models
from streamer.pipeline import FileTranscriber

DEV_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"


def dev_file(name: str) -> Path:
    """A file of the dev set beside the checkout; CI always has it, so there it must exist."""
    path = DEV_DIR / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"dev data not found: {path}")
        pytest.skip(f"dev data not found: {path}")
    return path


@pytest.fixture(scope="session")
def models() -> Iterator[ModelSet]:
    yield load_models(settings_from_env())


@pytest.fixture(scope="session")
def transcriber(models: ModelSet) -> FileTranscriber:
    return FileTranscriber(models)


@pytest.fixture(scope="session")
def fisher_audio() -> np.ndarray:
    return decode_file(dev_file("fisher_sample.wav"))


API_KEY = "test-key"


def run_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`streamer ARGS...` as a user runs it: a real process; its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "streamer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """A real `streamer serve` process on a free port with `env` added; yields its base URL
    once /healthz says the models are loaded. Its log goes to a file, never a full pipe."""
    port = free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli", "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(process, base, log)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_healthy(process: subprocess.Popen[bytes], base: str, log: IO[str]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"server exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("server never became healthy")


MAX_UPLOAD_BYTES = 8_000_000


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared test server: one API key, its own data dir (jobs, uploads), small uploads."""
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path_factory.mktemp("server-data")),
        "STREAMER_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    with running_server(env) as base:
        yield base
