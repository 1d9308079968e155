"""One frozen settings object, read from `STREAMER_*` environment variables and CLI flags."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir

AsrModelName = Literal["whisper-base", "whisper-tiny.en"]
Device = Literal["cpu", "cuda"]
LogFormat = Literal["text", "json"]

_ENV_PREFIX = "STREAMER_"
_REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class DeviceUnavailable(RuntimeError):
    """The configured `device` cannot run the models on this machine."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir("streamer")))
    """Writable: assembled model files, later uploads and the job database."""
    database_url: str = ""
    """`postgresql://USER:PASSWORD@HOST:PORT/NAME`: the jobs, voices and used tokens live
    there, shared by every replica that names it. Empty: a SQLite file in `data_dir`."""
    uploads: Path | None = None
    """Where uploads are kept; default `data_dir/uploads`. Replicas on one database mount
    one folder here (any replica may run the job of a file another received)."""
    models_dir: Path = _REPO_MODELS_DIR
    """Read-only: `manifest.json` and the committed ONNX exports."""
    model_cache: Path | None = None
    """Where model files assembled at set-up live; default `data_dir/models` (a container
    keeps them in its image, apart from the data volume)."""
    asr_model: AsrModelName = "whisper-base"
    """The recognizer of files; live streams use Moonshine (its cost follows the audio)."""
    device: Device = "cpu"
    threads: int = max(1, min(os.cpu_count() or 1, 4))
    """Threads of each model call of a transcript job."""
    asr_workers: int = max(1, os.cpu_count() or 1)
    """Live-stream ASR workers, each with model sessions of its own: one per core. Each takes
    about 330 MB; onnxruntime leaves the GIL while a model runs, so threads scale."""
    asr_threads: int = 1
    """Threads of each live-stream model call (ASR workers and the VAD). One per call and a
    worker per core beat fewer workers with more threads: Moonshine's decoder steps are too
    small to split (2 workers x 1 thread held 6 streams on 2 cores, 1 x 2 not 4)."""
    api_keys: tuple[str, ...] = ()
    """Accepted `Authorization` values; with `admin_keys` empty, the server is open (a
    warning is logged). Each key sees only the transcripts and voices it made."""
    admin_keys: tuple[str, ...] = ()
    """Keys accepted as `api_keys` are that also see and delete every key's transcripts and
    voices (an operator's)."""
    token_secret: str = ""
    """Signs temporary tokens: replicas that share it (and a database) accept each other's
    tokens. Empty: a random key per process (a restart ends the tokens it issued)."""
    log_level: str = "info"
    log_format: LogFormat = "text"
    """`json`: one JSON object per line, for a log collector; `text`: for a terminal."""
    tls_cert: Path | None = None
    """PEM certificate (chain): with `tls_key`, the port serves `https://` and `wss://`."""
    tls_key: Path | None = None
    max_sessions: int = 4 * max(1, os.cpu_count() or 1)
    """Concurrent streaming sessions; one more is refused with close code 3009. Four per core
    is what held the latency targets here (`load_tests/capacity.py`): a full server refuses
    a call rather than slow every call down."""
    key_max_sessions: int = 0
    """Concurrent streams one API key may hold (a Twilio call counts its tracks), its
    temporary tokens' included; one more is refused with 3009. 0: only `max_sessions`."""
    key_max_jobs: int = 0
    """Transcript jobs one API key may have queued or running; one more is refused with
    429. 0: no limit."""
    ws_ping_s: float = 20.0
    """Every WebSocket is pinged this often and dropped when the pong takes longer than
    this: a peer gone without a close (a dead link, a client that stopped reading) frees
    its slot within twice this."""
    max_stream_speed: float = 5.0
    """A stream whose audio arrives faster than this many times real time (after a 10 s
    head start) is closed with 4029; 0: no limit. Live clients send at 1x; 5x leaves room
    for catching up after a stall."""
    job_workers: int = 1
    """Transcript jobs run at once (each uses `threads` cores in its model calls)."""
    job_niceness: int = 10
    """How much lower than live streams jobs run on the CPU (Linux nice, 0..19; 0: equal)."""
    job_lease_s: float = 30.0
    """A job whose worker stops renewing its lease for this long is run again (a crash)."""
    max_upload_bytes: int = 1024**3
    """Largest file `/v2/upload` accepts, and `audio_url` downloads."""
    max_audio_hours: float = 10.0
    """Longest audio a transcript or voice may hold: refused at upload when the header says
    so, and stopped while decoding whatever it says. A job decodes its file to scratch disk
    (0.23 GB an hour) and reads it a stretch at a time: memory does not grow with it."""
    cors_origins: tuple[str, ...] = ()
    """Web origins ("https://captions.example.com") whose pages may call the API and open
    streams from another origin; pages of the server's own origin always may."""
    retention_hours: float = 0.0
    """Finished transcripts and uploads older than this are deleted (as by DELETE); 0: kept
    until deleted."""
    allow_private_urls: tuple[str, ...] = ()
    """Addresses or networks ("127.0.0.0/8", "10.2.0.5") that `audio_url`, `webhook_url` and
    `callback_url` may reach besides public ones: by default loopback, private, link-local
    and metadata addresses are refused (`streamer.api.outbound`)."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, not {self.port}")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.asr_workers < 1 or self.asr_threads < 1:
            raise ValueError("asr_workers and asr_threads must be at least 1")
        if self.key_max_sessions < 0 or self.key_max_jobs < 0:
            raise ValueError("key_max_sessions and key_max_jobs must be 0 (none) or positive")
        if self.ws_ping_s <= 0:
            raise ValueError("ws_ping_s must be positive")
        if self.max_stream_speed < 0:
            raise ValueError("max_stream_speed must be 0 (no limit) or positive")
        if self.max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if self.job_workers < 1:
            raise ValueError("job_workers must be at least 1")
        if not 0 <= self.job_niceness <= 19:
            raise ValueError("job_niceness must be 0..19")
        if self.token_secret and len(self.token_secret) < 32:
            raise ValueError("token_secret must be at least 32 characters (HS256 keys)")
        if self.max_audio_hours <= 0:
            raise ValueError("max_audio_hours must be positive")
        if self.retention_hours < 0:
            raise ValueError("retention_hours must be 0 (keep) or positive")
        if self.job_lease_s <= 0 or self.max_upload_bytes < 1:
            raise ValueError("job_lease_s and max_upload_bytes must be positive")
        if self.asr_model not in ("whisper-base", "whisper-tiny.en"):
            raise ValueError(f"unknown asr_model {self.asr_model!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {self.device!r}")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log_format must be text or json, not {self.log_format!r}")
        if self.database_url and not self.database_url.startswith(("postgresql", "sqlite")):
            raise ValueError("database_url must be postgresql://... or sqlite:///PATH")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for entry in self.allow_private_urls:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise ValueError(
                    f"allow_private_urls: not an address or network: {entry!r}"
                ) from error

    @property
    def model_cache_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"

    @property
    def jobs_db(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def database(self) -> str:
        """The database URL: `database_url`, or the SQLite file `jobs_db`."""
        return self.database_url or f"sqlite:///{self.jobs_db}"

    @property
    def uploads_dir(self) -> Path:
        return self.uploads or self.data_dir / "uploads"

    @property
    def accepted_keys(self) -> tuple[str, ...]:
        return self.api_keys + self.admin_keys

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply CLI flags (None means "not given")."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _parse(kind: object, raw: str) -> Any:
    """An environment value as the field's type (annotations are strings here)."""
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind in ("Path", "Path | None"):
        return Path(raw).expanduser()
    if kind == "tuple[str, ...]":
        return tuple(key.strip() for key in raw.split(",") if key.strip())
    return raw


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {
        f.name: _parse(f.type, env[_ENV_PREFIX + f.name.upper()])
        for f in fields(Settings)
        if _ENV_PREFIX + f.name.upper() in env
    }
    return Settings(**values)
