"""Interleaved channels split into one byte stream each (`streaming.interleaved`), however
the client slices its messages."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamer.streaming.interleaved import ChannelSplitter


def test_stereo_16_bit_frames_are_split_sample_by_sample() -> None:
    left, right = np.arange(5, dtype="<i2"), -np.arange(5, dtype="<i2") - 100
    interleaved = np.stack([left, right], axis=1).tobytes()
    assert ChannelSplitter(2, "pcm_s16le").split(interleaved) == [left.tobytes(), right.tobytes()]


def test_mulaw_frames_are_a_byte_a_channel() -> None:
    assert ChannelSplitter(2, "pcm_mulaw").split(b"aAbBcC") == [b"abc", b"ABC"]


def test_one_channel_passes_through_as_it_came() -> None:
    assert ChannelSplitter(1, "pcm_s16le").split(b"\x01\x02\x03") == [b"\x01\x02\x03"]


def test_a_frame_cut_between_messages_waits_for_its_rest() -> None:
    splitter = ChannelSplitter(2, "pcm_s16le")
    assert splitter.split(b"\x01\x02\x03") == [b"", b""]
    assert splitter.split(b"\x04\x05\x06\x07\x08\x09") == [b"\x01\x02\x05\x06", b"\x03\x04\x07\x08"]
    assert splitter.split(b"\x0a") == [b"", b""]  # half a frame waits
    assert splitter.split(b"\x0b\x0c") == [b"\x09\x0a", b"\x0b\x0c"]


@given(st.binary(min_size=0, max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_any_slicing_gives_each_channel_the_same_bytes(audio: bytes, cuts: list[int]) -> None:
    whole = len(audio) - len(audio) % 4
    expected = ChannelSplitter(2, "pcm_s16le").split(audio[:whole])
    splitter = ChannelSplitter(2, "pcm_s16le")
    got = [b"", b""]
    bounds = [0, *sorted(min(c, len(audio)) for c in cuts), len(audio)]
    for start, end in pairwise(bounds):
        for channel, part in enumerate(splitter.split(audio[start:end])):
            got[channel] += part
    assert got == expected
    assert len(got[0]) == len(got[1]) == whole // 2
