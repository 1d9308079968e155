"""Write test audio in real container formats with PyAV (FFmpeg's encoders)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# suffix -> (container format, codec)
FORMATS = {
    ".wav": ("wav", "pcm_s16le"),
    ".flac": ("flac", "flac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".ogg": ("ogg", "libopus"),
    ".m4a": ("mp4", "aac"),
    ".webm": ("webm", "libopus"),
}


def write_audio(path: Path, mono_16k: np.ndarray, rate: int, channels: int) -> Path:
    """Resample/duplicate `mono_16k` to `rate` and `channels`, and encode it by suffix."""
    container_format, codec = FORMATS[path.suffix]
    if codec == "libopus":
        rate = 48000  # the only rates Opus takes are divisors of 48 kHz
    positions = np.arange(int(len(mono_16k) * rate / 16000)) * 16000 / rate
    signal = np.interp(positions, np.arange(len(mono_16k)), mono_16k).astype(np.float32)
    planar = np.repeat(signal[None, :], channels, axis=0)
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame_size = 960 if codec == "libopus" else 1024
        for start in range(0, planar.shape[1], frame_size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, start : start + frame_size]),
                format="fltp",
                layout=layout,
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
