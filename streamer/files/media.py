"""Decode any common audio/video container to 16 kHz float32 (PyAV / FFmpeg): mixed down to
mono, or each channel apart (`decode_channels_to_files`: calls recorded a party a channel)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from streamer.core.audio import MODEL_SAMPLE_RATE


class MediaError(ValueError):
    """The input is not decodable audio. `reason` says why in one line and names no path, so
    a server may show it to a client; the message adds which file, for a local user."""

    def __init__(self, reason: str, where: str | None = None) -> None:
        super().__init__(reason if where is None else f"{where}: {reason}")
        self.reason = reason


class MediaLimit(MediaError):
    """The audio decodes, but goes beyond what the caller accepts."""


class MediaTooLong(MediaLimit):
    """The audio runs longer than the caller accepts."""

    def __init__(self, max_duration_s: float) -> None:
        hours = max_duration_s / 3600
        limit = f"{hours:g} hours" if hours >= 1 else f"{max_duration_s:g} s"
        super().__init__(f"the audio is longer than the {limit} this server accepts")


def decode_file(path: Path | str, max_duration_s: float | None = None) -> npt.NDArray[np.float32]:
    """All audio of the first audio stream, downmixed and resampled to 16 kHz mono;
    `MediaTooLong` as soon as more than `max_duration_s` has been decoded, whatever the
    header says (a small file of hours of silence is stopped before it costs memory)."""
    pieces = [piece[0] for piece in _pieces(path, max_duration_s, mono=True)]
    return np.concatenate(pieces).astype(np.float32, copy=False)


def probe_audio(path: Path | str, max_duration_s: float | None = None) -> None:
    """Raise `MediaError` unless the file's first audio frame decodes, at a sample rate and
    channel count this server decodes (cheap: an upload is checked before any job is queued
    for it), `MediaTooLong` when its header says it runs longer than `max_duration_s`
    (decoding checks again, on what it decodes)."""
    path = _existing(path)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaError("it has no audio stream")
            first = next(container.decode(container.streams.audio[0]), None)
            if first is None:
                raise MediaError("its audio stream holds no samples")
            _check_frame(first)
            declared_s = (container.duration or 0) / av.time_base
            if max_duration_s is not None and declared_s > max_duration_s:
                raise MediaTooLong(max_duration_s)
    except MediaLimit:
        raise
    except _DECODE_ERRORS as error:
        raise MediaError(_reason(error), f"cannot decode {path.name}") from error


_DECODE_ERRORS = (av.error.FFmpegError, MediaError, ValueError, IndexError, EOFError)


def _existing(path: Path | str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MediaError("no such file", str(path))
    if path.stat().st_size == 0:
        raise MediaError("the file is empty", str(path))
    return path


def _reason(error: Exception) -> str:
    """One line, without the errno and the path FFmpeg's errors carry."""
    if isinstance(error, MediaError):
        return error.reason
    text = error.strerror if isinstance(error, av.error.FFmpegError) else str(error)
    return " ".join(str(text).split()) or type(error).__name__


def decode_to_file(
    path: Path | str, into: Path, max_duration_s: float | None = None
) -> DecodedFile:
    """As `decode_file`, but the samples go to the file `into` as they are decoded (raw
    float32): a file of hours costs disk, not memory, and is read back a stretch at a time."""
    return _write_rows(_pieces(path, max_duration_s, mono=True), lambda _channels: [into])[0]


def decode_channels_to_files(
    path: Path | str, folder: Path, max_channels: int, max_duration_s: float | None = None
) -> list[DecodedFile]:
    """As `decode_to_file`, each channel of the first audio stream apart (not mixed down):
    channel k (from 1) into `folder/channel-k.f32`. `MediaLimit` when it has more than
    `max_channels` (each channel costs a whole transcription)."""

    def targets(channels: int) -> list[Path]:
        if channels > max_channels:
            raise MediaLimit(
                f"it has {channels} channels, more than the {max_channels} "
                "this server transcribes apart"
            )
        return [folder / f"channel-{k + 1}.f32" for k in range(channels)]

    return _write_rows(_pieces(path, max_duration_s, mono=False), targets)


def _write_rows(
    pieces: Iterator[npt.NDArray[np.float32]], targets: Callable[[int], list[Path]]
) -> list[DecodedFile]:
    """Each row (channel) of the (channels, samples) `pieces` appended to its own file, the
    files named by `targets(channels)` once the first piece says how many there are."""
    written = 0
    paths: list[Path] = []
    with ExitStack() as files:
        outs: list[BinaryIO] = []
        for piece in pieces:
            if not outs:
                paths = targets(len(piece))
                outs = [files.enter_context(target.open("wb")) for target in paths]
            for samples, out in zip(piece, outs, strict=True):
                samples.tofile(out)
            written += piece.shape[1]
    return [DecodedFile(target, written) for target in paths]


class DecodedFile:
    """16 kHz float32 samples of one channel in a raw file (`decode_to_file`), an
    `AudioSource`. Reads go through `read()`, not a memory map: mapped pages would count as
    the process's memory."""

    def __init__(self, path: Path, num_samples: int) -> None:
        self.path = path
        self._num_samples = num_samples

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        start, stop = max(0, start), min(stop, self._num_samples)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        with self.path.open("rb") as file:
            file.seek(start * _SAMPLE_BYTES)
            return np.fromfile(file, dtype=np.float32, count=stop - start)


_SAMPLE_BYTES = np.dtype(np.float32).itemsize


MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 2000, 768_000
MAX_CHANNELS = 64
"""Audio outside these is refused before it is resampled: a header claiming 1 Hz would have
each frame's samples come out 16 000 times as many (a decode bomb), and no recording of
speech has more channels."""


def _check_frame(frame: av.AudioFrame) -> None:
    if not MIN_SAMPLE_RATE <= frame.sample_rate <= MAX_SAMPLE_RATE:
        raise MediaError(
            f"its sample rate of {frame.sample_rate} Hz is outside the "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz this server decodes"
        )
    if len(frame.layout.channels) > MAX_CHANNELS:
        raise MediaError(f"it has more than {MAX_CHANNELS} channels")


def _pieces(
    path: Path | str, max_duration_s: float | None, mono: bool
) -> Iterator[npt.NDArray[np.float32]]:
    """`_decoded_pieces` of an existing file, its failures as one-line `MediaError`s."""
    path = _existing(path)
    try:
        yield from _decoded_pieces(str(path), max_duration_s, mono)
    except MediaLimit:
        raise
    except _DECODE_ERRORS as error:
        raise MediaError(_reason(error), f"cannot decode {path.name}") from error


def _decoded_pieces(
    source: str, max_duration_s: float | None, mono: bool
) -> Iterator[npt.NDArray[np.float32]]:
    """The first audio stream as 16 kHz (channels, samples) pieces, as they are decoded: one
    channel mixed down when `mono`, else as many as its first frame has. `MediaTooLong` once
    more than `max_duration_s` came out, `MediaError` when none did."""
    max_samples = None if max_duration_s is None else round(max_duration_s * MODEL_SAMPLE_RATE)
    decoded = 0
    with av.open(source, mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise MediaError("it has no audio stream")
        stream = container.streams.audio[0]
        resampler: av.AudioResampler | None = None
        try:
            for frame in container.decode(stream):
                _check_frame(frame)
                if resampler is None:
                    layout = "mono" if mono else frame.layout
                    resampler = av.AudioResampler("flt", layout, MODEL_SAMPLE_RATE)
                for out in resampler.resample(frame):
                    piece = _channel_rows(out)
                    decoded += piece.shape[1]
                    yield piece
                if max_samples is not None and decoded > max_samples:
                    raise MediaTooLong(max_samples / MODEL_SAMPLE_RATE)
        except av.error.FFmpegError:
            if not decoded:
                raise
            # a file cut short (an upload cut off, a recorder that died) keeps what it holds:
            # some decoders (FLAC) refuse a partial last frame rather than stop before it
        for out in resampler.resample(None) if resampler is not None else ():
            piece = _channel_rows(out)
            decoded += piece.shape[1]
            yield piece
    if not decoded:
        raise MediaError("its audio stream holds no samples")


def _channel_rows(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
    """A packed float frame as (channels, samples). Packed, not planar: PyAV reads only the
    first 8 planes of a planar frame (a 9-channel one crashed the process)."""
    channels = len(frame.layout.channels)
    packed = np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1, channels)
    return packed.T
