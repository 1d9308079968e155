"""The streaming client's file source: whole chunks, paced as a microphone would deliver them."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from streamer.tools.stream_client import file_chunks


def test_file_chunks_come_once_spoken_and_the_tail_is_padded() -> None:
    audio = np.full(16000 + 800, 0.5, dtype=np.float32)  # 1.05 s at 16 kHz

    async def collect() -> list[tuple[float, bytes]]:
        started = time.monotonic()
        return [(time.monotonic() - started, c) async for c in file_chunks(audio, speed=10)]

    arrived = asyncio.run(collect())
    assert [len(c) for _, c in arrived] == [3200] * 11  # 100 ms of pcm_s16le each
    assert arrived[-1][1][1600:] == bytes(1600)  # the last 50 ms are padding
    # at 10x, chunk k is spoken (and sent) no sooner than (k + 1) * 10 ms after the start
    assert all(at >= (k + 1) * 0.01 - 1e-3 for k, (at, _) in enumerate(arrived))
