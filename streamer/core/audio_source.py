"""Audio read a stretch at a time (pure): the whole-file pipeline works through a long file
in chunks, so its memory does not grow with the file's duration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamer.core.arrays import Float32Array


class AudioSource(Protocol):
    """16 kHz mono float32 samples, `num_samples` of them."""

    @property
    def num_samples(self) -> int: ...

    def read(self, start: int, stop: int) -> Float32Array:
        """Samples [start, stop) clipped to the audio (shorter near its edges)."""
        ...


@dataclass(frozen=True, slots=True)
class ArrayAudio:
    """Audio already in memory (short files, tests, enrolment clips)."""

    samples: Float32Array

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    def read(self, start: int, stop: int) -> Float32Array:
        return self.samples[max(0, start) : max(0, stop)]


@dataclass(frozen=True, slots=True)
class ClippedAudio:
    """Samples [start, stop) of `source`, read as audio of their own (sample 0 is `start`)."""

    source: AudioSource
    start: int
    stop: int

    @property
    def num_samples(self) -> int:
        return max(0, min(self.stop, self.source.num_samples) - self.start)

    def read(self, start: int, stop: int) -> Float32Array:
        stop = min(stop, self.num_samples)
        if stop <= max(0, start):
            return np.zeros(0, dtype=np.float32)
        return self.source.read(self.start + max(0, start), self.start + stop)


def as_source(audio: Float32Array | AudioSource) -> AudioSource:
    return ArrayAudio(audio) if isinstance(audio, np.ndarray) else audio


def read_padded(source: AudioSource, start: int, stop: int) -> Float32Array:
    """Samples [start, stop), zeros where they lie past the end of the audio."""
    samples = source.read(start, stop)
    missing = stop - max(0, start) - len(samples)
    return np.pad(samples, (0, missing)) if missing > 0 else samples
