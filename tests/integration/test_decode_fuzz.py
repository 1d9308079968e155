"""Upload decoding against hostile files: hypothesis mutates real files of every container
the tests write (WAV, FLAC, MP3, Ogg/Opus, M4A/AAC, WebM; 1 s of the telephone call each) by
flipping, cutting and inserting bytes, and makes wholly random ones. Each goes through what
an upload and its job do (`probe_audio`, then `decode_file` with a duration limit): the only
exception allowed is `MediaError` (a 400 / a job error with a reason), each case ends within
its deadline, and the process's memory does not grow across the run."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import psutil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.files.media import MediaError, decode_file, probe_audio
from tests.integration.audio_files import FORMATS, write_audio
from tests.integration.conftest import telephone_float

CASES = 1500
MAX_DURATION_S = 60.0
FOLDER = Path(tempfile.mkdtemp(prefix="streamer-fuzz-"))
SEEDS = [
    write_audio(FOLDER / f"seed{suffix}", telephone_float(3.0, 4.0), rate=16000, channels=1)
    for suffix in FORMATS
]
RAN = {"cases": 0, "decoded": 0, "refused": 0}


@st.composite
def hostile_files(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # one case in ten: noise
        return draw(st.binary(min_size=1, max_size=4096))
    data = bytearray(draw(st.sampled_from(SEEDS)).read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero-run"]))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
            if not data:
                data = bytearray(b"\0")
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at : at + 64] = bytes(64)
    return bytes(data)


@settings(
    max_examples=CASES,
    deadline=timedelta(seconds=5),  # a hang fails the case
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(hostile_files())
def _decode_hostile(data: bytes) -> None:
    path = FOLDER / "case"
    path.write_bytes(data)
    RAN["cases"] += 1
    try:
        probe_audio(path, MAX_DURATION_S)
        audio = decode_file(path, MAX_DURATION_S)
        assert audio.ndim == 1 and len(audio) <= MAX_DURATION_S * 16000
        RAN["decoded"] += 1
    except MediaError as error:
        assert error.reason and str(FOLDER) not in error.reason  # says why, not where
        RAN["refused"] += 1


def test_hostile_files_are_refused_or_decoded_never_crash() -> None:
    process = psutil.Process()
    _decode_hostile()  # a warm-up pass: FFmpeg's and numpy's first allocations
    before = process.memory_info().rss
    _decode_hostile()
    grown = process.memory_info().rss - before
    assert grown < 64 * 1024**2, f"RSS grew {grown / 1e6:.0f} MB over {CASES} cases"
    print(f"decode fuzz: {RAN}, RSS +{grown / 1e6:.1f} MB over the second {CASES}")
