"""The layers the folders show hold: importing the pure core and the sans-I/O streaming path
loads no event loop, database, TLS, model runtime, web framework, HTTP client or media library,
not even through the libraries it uses (the modules are found from the folders, not listed by
hand). import-linter (`make lint`, contracts in pyproject.toml) checks which layer imports
which, and that our own core and streaming code imports no threads or sockets either: SciPy
itself loads `threading` and `socket`, so this run-time check cannot forbid those two."""

import pkgutil
import subprocess
import sys

import streamer.core
import streamer.streaming

PURE = [
    module.name
    for package in (streamer.core, streamer.streaming)
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
]
FORBIDDEN = [
    "asyncio",
    "ssl",
    "sqlite3",
    "onnxruntime",
    "ctranslate2",
    "faster_whisper",
    "sherpa_onnx",
    "starlette",
    "fastapi",
    "pydantic",
    "httpx",
    "websockets",
    "av",
]


def test_the_folders_hold_modules() -> None:
    assert "streamer.streaming.session" in PURE and "streamer.core.diarization" in PURE


def test_core_and_streaming_import_no_io_runtime_or_framework() -> None:
    probe = (
        "import sys, importlib\n"
        f"for name in {PURE!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing core and streaming loaded: {out}"
