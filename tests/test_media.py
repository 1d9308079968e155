"""File decoding: every common container, any rate and channel count, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamer.media import MediaError, decode_file
from tests.audio_files import FORMATS, write_audio

RATE = 16000


def chirp(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * (200 + 400 * t) * t)).astype(np.float32)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_decodes_every_format_to_16k_mono(tmp_path: Path, suffix: str) -> None:
    source = chirp()
    path = write_audio(tmp_path / f"clip{suffix}", source, rate=44100, channels=2)
    decoded = decode_file(path)
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    # lossy codecs add priming samples; the length stays within 0.1 s of 2 s
    assert abs(len(decoded) - len(source)) < 0.1 * RATE
    # the content survives: best cross-correlation with the source near 1
    n = min(len(decoded), len(source))
    lag_search = [
        np.corrcoef(decoded[lag : lag + n - 2000], source[: n - 2000])[0, 1]
        for lag in range(0, 1600, 8)
    ]
    assert max(lag_search) > 0.9


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.wav", b"", "empty file"),
        ("noise.wav", b"RIFF\x00\x00garbage" * 40, "cannot decode"),
        ("notes.txt", b"these are not the sounds you are looking for\n" * 20, "cannot decode"),
    ],
)
def test_bad_files_raise_one_line_errors(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError, match=message) as caught:
        decode_file(path)
    assert "\n" not in str(caught.value)


def test_truncated_file_decodes_what_is_there_or_fails_cleanly(tmp_path: Path) -> None:
    whole = write_audio(tmp_path / "whole.flac", chirp(3.0), rate=16000, channels=1)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        decoded = decode_file(cut)
    except MediaError:
        return
    assert 0 < len(decoded) < 3 * RATE


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        decode_file(tmp_path / "nope.wav")
