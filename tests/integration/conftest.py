"""Fixtures of the integration tests: the real models (loaded once per test session), real
server processes, and the recordings the tests carry."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import assemblyai as aai
import httpx
import numpy as np
import pytest
import soxr
from websockets.sync.client import ClientConnection

from streamer.api.database import Database
from streamer.api.schema import open_database
from streamer.config import settings_from_env
from streamer.core.audio import float_to_pcm_s16le
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.models.loader import ModelSet, load_models
from streamer.models.manifest import package_file, sha256_of
from streamer.tools.channel_split import split_by_speaker
from streamer.tools.evaluation import read_rttm_turns
from streamer.tools.local_server import LocalServer
from tests.integration.postgres import PostgresServer, postgres_bin, postgres_server

LOOPBACK = "127.0.0.0/8,::1"
# Every receiver these tests run (audio_url servers, webhooks, call callbacks) listens on
# loopback, which a server refuses to reach by default: the servers they start (which inherit
# this environment) allow it. A test of that refusal sets it back to "" for its server.
os.environ.setdefault("STREAMER_ALLOW_PRIVATE_URLS", LOOPBACK)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
"""AMI excerpts (CC BY 4.0) with their speaker references; see data/NOTICE.md."""

TELEPHONE_PACKAGE = "pyannote.audio"
TELEPHONE_FILES = {
    ".wav": "c319b4abca767b124e41432d364fd7df006cb26bb79d09326c487d606a134e6e",
    ".rttm": "d78fe62c69d8e6dcbb42c26adfce83faccb374c5a1e6d987fe37f85f1c173c87",
    ".stm": "f861f3004927e1c4429199f9695bfd252def75d7d5e4bdf735d3d85fd4a667f7",
}
"""The two-speaker telephone call (30 s, 16 kHz) and its speaker turns and transcript, as
the pinned `pyannote.audio` package ships them (installed without its dependencies by the
set-up; never imported). The repository does not redistribute them (data/NOTICE.md)."""


def data_file(name: str) -> Path:
    """A recording (or reference) the tests carry in `tests/data`."""
    path = DATA_DIR / name
    assert path.is_file(), f"test data missing: {path}"
    return path


def telephone_file(suffix: str = ".wav") -> Path:
    """The telephone call's audio (`.wav`), speaker turns (`.rttm`) or transcript (`.stm`),
    checked against the sha256 the tests were written for."""
    path = package_file(TELEPHONE_PACKAGE, f"sample/sample{suffix}")
    assert path.is_file(), f"{path} missing: run `make setup`"
    assert sha256_of(path) == TELEPHONE_FILES[suffix], f"{path} is not the expected file"
    return path


def telephone_segments() -> list[dict[str, object]]:
    """The call's reference transcript: {speaker, start, end, text} per segment, in order."""
    segments = []
    for line in telephone_file(".stm").read_text().splitlines():
        _, _, speaker, start, end, *words = line.split()
        segments.append(
            {"speaker": speaker, "start": float(start), "end": float(end), "text": " ".join(words)}
        )
    return sorted(segments, key=lambda s: float(s["start"]))  # type: ignore[arg-type]


TELEPHONE_PARTIES = ("speaker90", "speaker91")
"""The call's two parties as its RTTM names them, in the order of the split call's channels."""


def split_telephone_call(into: Path) -> Path:
    """The telephone call as a stereo WAV, a party a channel (`tools.channel_split`): what
    a bridge recording each leg apart would give."""
    turns = read_rttm_turns(telephone_file(".rttm"))
    stereo = split_by_speaker(decode_file(telephone_file()), turns, TELEPHONE_PARTIES)
    samples = [np.frombuffer(float_to_pcm_s16le(channel), dtype="<i2") for channel in stereo]
    with wave.open(str(into), "wb") as out:
        out.setnchannels(len(stereo))
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.stack(samples, axis=1).tobytes())  # interleaved: a frame per sample
    return into


def pcm16(path: Path) -> bytes:
    """A recording as 16 kHz mono pcm_s16le, what a client streams."""
    return float_to_pcm_s16le(decode_file(path))


def telephone_float(
    start_s: float = 0.0, end_s: float | None = None, rate: int = 16000
) -> np.ndarray:
    """The telephone call from `start_s` to `end_s` (the end: None) as float32 mono at `rate`."""
    end = None if end_s is None else int(end_s * 16000)
    audio = decode_file(telephone_file())[int(start_s * 16000) : end]
    if rate == 16000:
        return audio
    return np.asarray(soxr.resample(audio, 16000, rate, quality="HQ"), dtype=np.float32)


def telephone_pcm(start_s: float = 0.0, end_s: float | None = None, rate: int = 16000) -> bytes:
    """The telephone call (all of it unless cut) as pcm_s16le at `rate`, what a client streams."""
    return float_to_pcm_s16le(telephone_float(start_s, end_s, rate))


# ---- live streams over /v3/ws -----------------------------------------------------------------

STREAM_SPEEDUP = 4.0
"""the tests stream audio at four times real time"""
STREAM_CHUNK_BYTES = 3200
"""100 ms of 16 kHz pcm_s16le; every chunk the tests send is 100 ms of audio"""


def ws_url(server: str, query: str) -> str:
    """The `/v3/ws` URL of the server at base URL `server`, with `query` (no `?`)."""
    return server.replace("http://", "ws://") + "/v3/ws?" + query


def paced(audio: bytes, size: int = STREAM_CHUNK_BYTES) -> Iterator[bytes]:
    """`audio` in chunks of `size` bytes, each worth 100 ms (so give the size of 100 ms at the
    stream's rate and encoding), one every 100 ms / STREAM_SPEEDUP: what a live client sends."""
    for start in range(0, len(audio), size):
        yield audio[start : start + size]
        time.sleep(0.1 / STREAM_SPEEDUP)


def send_paced(ws: ClientConnection, audio: bytes, size: int = STREAM_CHUNK_BYTES) -> None:
    """Send `audio` over `ws` as `paced` gives it."""
    for chunk in paced(audio, size):
        ws.send(chunk)


@pytest.fixture(scope="session")
def models() -> Iterator[ModelSet]:
    yield load_models(settings_from_env().with_overrides(asr_workers=1))  # the tests run one


@pytest.fixture(scope="session")
def transcriber(models: ModelSet) -> FileTranscriber:
    return FileTranscriber(models)


@pytest.fixture(scope="session")
def telephone_audio() -> np.ndarray:
    return decode_file(telephone_file())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (Debian's `postgresql`; `.ci/run` installs it)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each engine the stores run on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """`database_url` opened and migrated, as a server opens it."""
    opened = open_database(database_url)
    yield opened
    opened.close()


class FakeClock:
    """Seconds since the epoch that pass only when a test says so."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


API_KEY = "test-key"
AUTH = {"authorization": API_KEY}


def run_cli(
    *args: str | Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`streamer ARGS...` as a user runs it: a real process, with `env` added to this one's
    environment; its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "streamer.tools.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """A real `streamer serve` process on a free port with `env` added; yields its base URL
    once /healthz says the models are loaded."""
    with LocalServer(env) as server:
        yield server.url


class _Nowhere(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def nowhere() -> Iterator[str]:
    """A local HTTP server that answers 404 to everything: a job whose audio_url points here
    ends in error at once, a webhook sent here fails, and no request leaves the machine."""
    httpd = HTTPServer(("127.0.0.1", 0), _Nowhere)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def queue_jobs(base: str, audio: Path, count: int, **request: object) -> list[str]:
    """Upload `audio` once and queue `count` transcript jobs of it; their ids."""
    upload_url = httpx.post(
        f"{base}/v2/upload", content=audio.read_bytes(), headers=AUTH, timeout=60
    ).json()["upload_url"]
    return [
        httpx.post(
            f"{base}/v2/transcript",
            headers=AUTH,
            json={"audio_url": upload_url, **request},
            timeout=30,
        ).json()["id"]
        for _ in range(count)
    ]


MAX_UPLOAD_BYTES = 8_000_000
CAPTIONS_ORIGIN = "http://captions.test:8080"
"""The one other origin the shared server lets call it (only ever sent as a header)."""


@pytest.fixture(scope="module")
def sdk(server: str) -> Iterator[None]:
    """The `assemblyai` Python SDK pointed at the shared test server."""
    aai.settings.base_url = server
    aai.settings.api_key = API_KEY
    aai.settings.polling_interval = 0.5
    yield


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared test server: one API key, its own data dir (jobs, uploads), small uploads."""
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path_factory.mktemp("server-data")),
        "STREAMER_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "STREAMER_CORS_ORIGINS": CAPTIONS_ORIGIN,
    }
    with running_server(env) as base:
        yield base
