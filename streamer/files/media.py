"""Decode any common audio/video container to 16 kHz mono float32 (PyAV / FFmpeg)."""

from __future__ import annotations

from pathlib import Path

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


class MediaTooLong(MediaError):
    """The audio runs longer than the caller accepts."""

    def __init__(self, max_duration_s: float) -> None:
        hours = max_duration_s / 3600
        limit = f"{hours:g} hours" if hours >= 1 else f"{max_duration_s:g} s"
        super().__init__(f"the audio is longer than the {limit} this server accepts")


def decode_file(path: Path | str, max_duration_s: float | None = None) -> npt.NDArray[np.float32]:
    """All audio of the first audio stream, downmixed and resampled to 16 kHz mono;
    `MediaTooLong` as soon as more than `max_duration_s` has been decoded, whatever the
    header says (a small file of hours of silence is stopped before it costs memory)."""
    path = _existing(path)
    try:
        return _decode(str(path), max_duration_s)
    except MediaTooLong:
        raise
    except _DECODE_ERRORS as error:
        raise MediaError(_reason(error), f"cannot decode {path.name}") from error


def probe_audio(path: Path | str, max_duration_s: float | None = None) -> None:
    """Raise `MediaError` unless the file's first audio frame decodes (cheap: an upload is
    checked before any job is queued for it), `MediaTooLong` when its header says it runs
    longer than `max_duration_s` (decoding checks again, on what it decodes)."""
    path = _existing(path)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaError("it has no audio stream")
            declared_s = (container.duration or 0) / av.time_base
            if max_duration_s is not None and declared_s > max_duration_s:
                raise MediaTooLong(max_duration_s)
            if next(container.decode(container.streams.audio[0]), None) is None:
                raise MediaError("its audio stream holds no samples")
    except MediaTooLong:
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


def _decode(source: str, max_duration_s: float | None) -> npt.NDArray[np.float32]:
    max_samples = None if max_duration_s is None else round(max_duration_s * MODEL_SAMPLE_RATE)
    decoded = 0
    with av.open(source, mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise MediaError("it has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_SAMPLE_RATE)
        pieces: list[npt.NDArray[np.float32]] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1))
                    decoded += len(pieces[-1])
                if max_samples is not None and decoded > max_samples:
                    raise MediaTooLong(max_samples / MODEL_SAMPLE_RATE)
        except av.error.FFmpegError:
            if not pieces:
                raise
            # a file cut short (an upload cut off, a recorder that died) keeps what it holds:
            # some decoders (FLAC) refuse a partial last frame rather than stop before it
        for out in resampler.resample(None):
            pieces.append(np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1))
    if not pieces:
        raise MediaError("its audio stream holds no samples")
    return np.concatenate(pieces).astype(np.float32, copy=False)
