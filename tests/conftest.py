"""Shared fixtures. Model-backed fixtures load the real models once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A real `streamer serve` process with one API key; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "STREAMER_API_KEYS": API_KEY},
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
