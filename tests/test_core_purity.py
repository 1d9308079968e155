"""The core is plain Python + numpy: importing it must not pull in I/O or model runtimes."""

import subprocess
import sys

CORE = [
    "streamer.core.audio",
    "streamer.core.words",
    "streamer.core.clustering",
    "streamer.core.diarization",
    "streamer.core.word_speakers",
    "streamer.core.utterances",
    "streamer.core.regions",
    "streamer.core.captions",
    "streamer.core.ringbuffer",
    "streamer.streaming.agreement",
    "streamer.streaming.turns",
    "streamer.streaming.session",
    "streamer.api.wire",
]
FORBIDDEN = ["asyncio", "onnxruntime", "ctranslate2", "faster_whisper", "starlette", "sherpa_onnx"]


def test_core_imports_no_runtime_or_io_framework() -> None:
    probe = (
        "import sys, importlib\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"core modules imported: {out}"
