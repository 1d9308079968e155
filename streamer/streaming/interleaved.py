"""Interleaved multichannel audio split into one byte stream per channel (pure): a stream
with `channels` sends frames of one sample per channel, first channel first, as WAV does."""

from __future__ import annotations

import numpy as np

from streamer.streaming.protocol import BYTES_PER_SAMPLE


class ChannelSplitter:
    """Splits wire audio of `channels` interleaved channels. A frame cut between two
    messages waits for its rest, so clients may slice the byte stream anywhere."""

    def __init__(self, channels: int, encoding: str) -> None:
        self.channels = channels
        self._sample = np.dtype(f"V{BYTES_PER_SAMPLE[encoding]}")
        """a sample's bytes as they are: the split only moves them"""
        self._frame_bytes = channels * self._sample.itemsize
        self._partial = b""

    def split(self, data: bytes) -> list[bytes]:
        """Each channel's samples of the whole frames received so far, in channel order."""
        if self.channels == 1:
            return [data]
        data = self._partial + data
        whole = len(data) - len(data) % self._frame_bytes
        self._partial = data[whole:]
        frames = np.frombuffer(data, self._sample, whole // self._sample.itemsize)
        frames = frames.reshape(-1, self.channels)
        return [frames[:, channel].tobytes() for channel in range(self.channels)]
