"""File decoding: every common container, any rate and channel count, and clear errors."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import psutil
import pytest

from streamer.files.media import (
    MediaError,
    MediaLimit,
    MediaTooLong,
    decode_channels_to_files,
    decode_file,
    decode_to_file,
    probe_audio,
)
from tests.integration.audio_files import FORMATS, write_audio

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
    if suffix == ".m4a":
        # AAC's padding to whole 1024-sample frames (at 44.1 kHz) is not trimmed at the end
        assert len(source) < len(decoded) <= len(source) + 1024 * RATE // 44100 + 1
    else:
        # the encoder delay (mp3, opus) is trimmed: exactly 2 s
        assert len(decoded) == len(source)
    # the content survives, in place: no lag, correlation with the source near 1
    n = len(source)
    assert np.corrcoef(decoded[:n], source)[0, 1] > 0.999


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_lossless_16k_mono_decodes_to_the_exact_samples(tmp_path: Path, suffix: str) -> None:
    """No resampling, no downmix: what comes back is the source rounded to 16 bits."""
    source = chirp()
    decoded = decode_file(write_audio(tmp_path / f"clip{suffix}", source, RATE, channels=1))
    np.testing.assert_array_equal(decoded, np.round(source * 32768) / 32768)


def header_only_wav(tmp_path: Path) -> Path:
    whole = write_audio(tmp_path / "whole.wav", chirp(1.0), rate=RATE, channels=1)
    header = whole.stat().st_size - 2 * RATE  # pcm_s16le: 2 bytes a sample
    path = tmp_path / "header.wav"
    path.write_bytes(whole.read_bytes()[:header])
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.wav", b"", "{path}: the file is empty"),
        (
            "noise.wav",
            b"RIFF\x00\x00garbage" * 40,
            "cannot decode noise.wav: Invalid data found when processing input",
        ),
        (
            "notes.txt",
            b"these are not the sounds you are looking for\n" * 20,
            "cannot decode notes.txt: it has no audio stream",
        ),
        ("header.wav", None, "cannot decode header.wav: its audio stream holds no samples"),
    ],
)
def test_bad_files_raise_one_line_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = header_only_wav(tmp_path) if content is None else tmp_path / name
    if content is not None:
        path.write_bytes(content)
    expected = message.format(path=path)
    for check in (decode_file, probe_audio):
        with pytest.raises(MediaError) as caught:
            check(path)
        assert str(caught.value) == expected, check.__name__


# What FFmpeg (PyAV 18.1, FFmpeg 8.1) does with the first half of a 3 s, 16 kHz mono file.
# Durations are what survives: whole packets (wav, mp3, webm) or whole Ogg pages (libopus
# writes a page a second, so the partial second page is dropped).
CUT_IN_HALF_DECODES = {
    ".wav": (1.49, 1.50),
    ".mp3": (1.40, 1.50),
    ".webm": (1.50, 1.55),
    ".ogg": (0.95, 1.00),
    ".flac": (0.93, 0.94),  # whole FLAC frames only: the decoder refuses the partial last one
}
RESAMPLER_TAIL = 16
"""Opus decodes at 48 kHz: the resampler's flush makes the last 16 kHz samples of a cut file
differ from the same samples of the whole file (it sees no audio after them)."""


def cut_in_half(tmp_path: Path, suffix: str) -> tuple[Path, Path]:
    whole = write_audio(tmp_path / f"whole{suffix}", chirp(3.0), rate=RATE, channels=1)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return whole, cut


@pytest.mark.parametrize("suffix", sorted(CUT_IN_HALF_DECODES))
def test_file_cut_in_half_decodes_what_is_there(tmp_path: Path, suffix: str) -> None:
    whole, cut = cut_in_half(tmp_path, suffix)
    decoded = decode_file(cut)
    shortest, longest = CUT_IN_HALF_DECODES[suffix]
    assert shortest * RATE <= len(decoded) <= longest * RATE
    # the decoded part is the start of the whole file's audio, sample for sample
    full = decode_file(whole)
    keep = len(decoded) - (RESAMPLER_TAIL if suffix in (".ogg", ".webm") else 0)
    np.testing.assert_array_equal(decoded[:keep], full[:keep])
    assert np.corrcoef(decoded, chirp(3.0)[: len(decoded)])[0, 1] > 0.999
    probe_audio(cut)  # an upload of it is accepted


def test_wav_cut_in_half_keeps_every_whole_sample(tmp_path: Path) -> None:
    whole, cut = cut_in_half(tmp_path, ".wav")
    header = whole.stat().st_size - 2 * 3 * RATE
    decoded = decode_file(cut)
    assert len(decoded) == (cut.stat().st_size - header) // 2
    np.testing.assert_array_equal(decoded, np.round(chirp(3.0) * 32768)[: len(decoded)] / 32768)


def test_m4a_cut_in_half_cannot_be_opened(tmp_path: Path) -> None:
    """FFmpeg's mp4 muxer writes the index (moov) after the audio: half a file has none."""
    _, cut = cut_in_half(tmp_path, ".m4a")
    expected = "cannot decode cut.m4a: Invalid data found when processing input"
    for check in (decode_file, probe_audio):
        with pytest.raises(MediaError) as caught:
            check(cut)
        assert str(caught.value) == expected, check.__name__


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    for check in (decode_file, probe_audio):
        with pytest.raises(MediaError) as caught:
            check(path)
        assert str(caught.value) == f"{path}: no such file", check.__name__


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_audio_longer_than_allowed_is_refused_before_it_is_all_decoded(
    tmp_path: Path, suffix: str
) -> None:
    path = write_audio(tmp_path / f"clip{suffix}", chirp(4.0), rate=16000, channels=1)
    for check in (probe_audio, decode_file):  # the header, then what is decoded
        with pytest.raises(MediaTooLong, match="longer than the 2 s this server accepts"):
            check(path, 2.0)
    assert len(decode_file(path, 5.0)) >= 4 * RATE
    probe_audio(path, 5.0)


def test_decoding_into_a_file_gives_the_same_samples_read_back_a_stretch_at_a_time(
    tmp_path: Path,
) -> None:
    path = write_audio(tmp_path / "clip.flac", chirp(3.0), rate=44100, channels=2)
    whole = decode_file(path)
    decoded = decode_to_file(path, tmp_path / "clip.f32")
    assert decoded.num_samples == len(whole)
    assert decoded.read(0, len(whole)).tolist() == whole.tolist()
    assert decoded.read(1000, 1010).tolist() == whole[1000:1010].tolist()
    assert decoded.read(len(whole) - 5, len(whole) + 100).tolist() == whole[-5:].tolist()
    assert decoded.read(len(whole) + 1, len(whole) + 9).size == 0
    with pytest.raises(MediaTooLong):
        decode_to_file(path, tmp_path / "long.f32", 1.0)


def wav_header(rate: int, channels: int, data: bytes) -> bytes:
    """A PCM WAV of 16-bit samples claiming `rate` Hz and `channels` channels."""
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = b"WAVEfmt " + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("rate", "channels", "reason"),
    [
        (1, 1, "its sample rate of 1 Hz is outside the 2000-768000 Hz this server decodes"),
        (100, 1, "its sample rate of 100 Hz is outside the 2000-768000 Hz this server decodes"),
        (16000, 200, "it has more than 64 channels"),
    ],
)
def test_a_sample_rate_or_channel_count_bomb_is_refused_before_it_is_resampled(
    tmp_path: Path, rate: int, channels: int, reason: str
) -> None:
    """1 MB claiming 1 Hz would resample to 8 million seconds: before this check, decoding it
    took 11 s and 2.2 GB of memory to end as 'too long'."""
    path = tmp_path / "bomb.wav"
    path.write_bytes(wav_header(rate, channels, b"\x00\x10" * 2**19))
    memory = psutil.Process()
    before = memory.memory_info().rss
    for check in (probe_audio, decode_file):
        with pytest.raises(MediaError) as caught:
            check(path, 36000.0)
        assert caught.value.reason == reason
    assert memory.memory_info().rss - before < 50 * 2**20


def _wav(path: Path, frames: np.ndarray, rate: int = 16000) -> Path:
    """(samples, channels) int16 as a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())
    return path


def test_channels_decode_apart_each_into_its_own_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    left = (rng.standard_normal(8000) * 3000).astype(np.int16)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # a party on the left only
    decoded = decode_channels_to_files(_wav(tmp_path / "a.wav", stereo, 8000), tmp_path, 8)
    assert [d.path.name for d in decoded] == ["channel-1.f32", "channel-2.f32"]
    assert all(d.num_samples == 16000 for d in decoded)  # resampled to 16 kHz
    assert np.abs(decoded[0].read(0, 16000)).max() > 0.05
    assert np.abs(decoded[1].read(0, 16000)).max() == 0.0


def test_nine_channels_decode_apart_or_are_refused_past_the_limit(tmp_path: Path) -> None:
    # planar frames of more than 8 channels crashed the process (PyAV reads 8 planes)
    path = _wav(tmp_path / "nine.wav", np.ones((16000, 9)) * np.arange(9) * 1000)
    decoded = decode_channels_to_files(path, tmp_path, 9)
    assert [round(float(d.read(0, 100).mean()) * 32768) for d in decoded] == [
        k * 1000 for k in range(9)
    ]
    with pytest.raises(MediaLimit, match="it has 9 channels, more than the 8"):
        decode_channels_to_files(path, tmp_path, 8)
