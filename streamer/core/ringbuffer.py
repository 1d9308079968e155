"""A per-session audio buffer addressed by absolute sample index: times stay exact over hours
of audio while memory stays bounded to the last `capacity` samples."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class AudioRing:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1 sample")
        self._buffer = np.zeros(capacity, dtype=np.float32)
        self._end = 0

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample (= samples received so far)."""
        return self._end

    @property
    def start(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(0, self._end - len(self._buffer))

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        capacity = len(self._buffer)
        if len(samples) >= capacity:
            self._end += len(samples)
            self._buffer[:] = np.roll(samples[-capacity:], self._end % capacity)
            return
        first = self._end % capacity
        head = min(len(samples), capacity - first)
        self._buffer[first : first + head] = samples[:head]
        self._buffer[: len(samples) - head] = samples[head:]
        self._end += len(samples)

    def read(self, start: int, end: int) -> npt.NDArray[np.float32]:
        """Samples [start, end) as a new array; `start` must still be held."""
        if start < self.start or end > self._end or start > end:
            raise IndexError(f"samples [{start}, {end}) not held ([{self.start}, {self._end}))")
        capacity = len(self._buffer)
        indices = np.arange(start, end) % capacity
        return self._buffer[indices].copy()
