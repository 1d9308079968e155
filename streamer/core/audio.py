"""Wire audio to model audio: float32 mono at 16 kHz.

Pure numpy + soxr; no I/O. File decoding lives in `streamer.files.media`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import soxr

from streamer.core.arrays import Float32Array

MODEL_SAMPLE_RATE: Final = 16_000
"""Every model in the pipeline takes 16 kHz mono float32 in [-1, 1]."""

VAD_FRAME_SAMPLES: Final = 512
"""Silero VAD's frame at 16 kHz (32 ms): streams are cut into these for the VAD."""


_MULAW_BIAS: Final = 0x84


def _mulaw_table() -> Float32Array:
    """Decode table for all 256 G.711 mu-law codes, scaled to [-1, 1]."""
    codes = ~np.arange(256, dtype=np.uint8)
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa.astype(np.int32) << 3) + _MULAW_BIAS) << exponent
    linear = np.where(sign != 0, _MULAW_BIAS - magnitude, magnitude - _MULAW_BIAS)
    return (linear / 32768.0).astype(np.float32)


_MULAW_TO_FLOAT: Final = _mulaw_table()


def pcm_s16le_to_float(data: bytes) -> Float32Array:
    """Little-endian signed 16-bit PCM to float32 in [-1, 1). `len(data)` must be even."""
    if len(data) % 2:
        raise ValueError("pcm_s16le audio must have an even number of bytes")
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def float_to_pcm_s16le(samples: Float32Array) -> bytes:
    """float32 in [-1, 1] (clipped) to little-endian 16-bit PCM: what clients send."""
    return bytes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def pcm_mulaw_to_float(data: bytes) -> Float32Array:
    """G.711 mu-law bytes (one sample per byte) to float32 in [-1, 1]."""
    return _MULAW_TO_FLOAT[np.frombuffer(data, dtype=np.uint8)]


_MULAW_CLIP: Final = 32635


def pcm_s16le_to_mulaw(pcm: bytes) -> bytes:
    """pcm_s16le to G.711 mu-law, as telephony clients send it; as the reference encoder
    (Sun's g711.c `linear2ulaw`) does it: clip, add the bias, take the segment (exponent)
    and the next four bits (mantissa), invert every bit."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    sign = np.where(samples < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(samples), _MULAW_CLIP) + _MULAW_BIAS  # 132 .. 32767
    _, bits = np.frexp(magnitude.astype(np.float64))  # magnitude < 2**bits, exactly
    exponent = bits.astype(np.int32) - 8  # 0 .. 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return bytes((~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes())


class StreamResampler:
    """Chunk-by-chunk resampling whose output equals resampling the whole stream at once."""

    def __init__(self, from_rate: int, to_rate: int = MODEL_SAMPLE_RATE) -> None:
        self._passthrough = from_rate == to_rate
        self._stream = (
            None
            if self._passthrough
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def push(self, samples: Float32Array, last: bool = False) -> Float32Array:
        if self._stream is None:
            return samples.astype(np.float32, copy=False)
        out = self._stream.resample_chunk(samples, last=last)
        return np.asarray(out, dtype=np.float32)


def samples_to_ms(samples: int) -> int:
    """Milliseconds of a 16 kHz sample position (streams address audio by sample)."""
    return round(samples * 1000 / MODEL_SAMPLE_RATE)


def seconds_to_ms(seconds: float) -> int:
    """Wire times are integer milliseconds; round half away from zero, never truncate."""
    return int(np.floor(seconds * 1000.0 + 0.5))
