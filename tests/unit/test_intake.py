"""AudioIntake on its own: wire bytes to the 16 kHz ring, VAD frames out, the VAD's verdicts
kept by absolute sample (speech spans, quietest point)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.core.audio import (
    VAD_FRAME_SAMPLES,
    StreamResampler,
    pcm_mulaw_to_float,
    pcm_s16le_to_float,
)
from streamer.streaming.intake import AudioIntake

F = VAD_FRAME_SAMPLES


def ramp_bytes(first: int, count: int) -> bytes:
    """`count` 16-bit samples first, first + 1, ...: each sample tells where it came from."""
    return np.arange(first, first + count, dtype="<i2").tobytes()


def heard(probs: list[float], buffer_s: float = 60.0) -> AudioIntake:
    """An intake that received len(probs) frames and the VAD's verdict on each."""
    intake = AudioIntake(16000, "pcm_s16le", buffer_s)
    for prob in probs:  # frame by frame, as a shell runs the VAD after each message
        intake.add(bytes(F * 2))
        assert len(intake.vad_input()) == F
        intake.heard([prob])
    return intake


def test_an_odd_byte_waits_for_its_pair() -> None:
    intake = AudioIntake(16000, "pcm_s16le", 60.0)
    wire = ramp_bytes(1000, 4)  # 8 bytes, sliced mid-sample
    intake.add(wire[:3])
    assert (intake.samples_received, intake.end) == (1, 1)
    intake.add(wire[3:4])
    assert (intake.samples_received, intake.end) == (2, 2)
    intake.add(wire[4:7])
    assert intake.end == 3
    intake.add(wire[7:])
    assert intake.end == 4 and intake.duration_s == 4 / 16000
    np.testing.assert_array_equal(intake.read(0, 4), pcm_s16le_to_float(wire))


def test_mulaw_is_one_byte_per_sample() -> None:
    intake = AudioIntake(16000, "pcm_mulaw", 60.0)
    wire = bytes(range(0, 256, 3))  # 86 codes: an even count is no business of mu-law
    intake.add(wire[:7])  # an odd count waits for nothing
    assert intake.end == 7
    intake.add(wire[7:])
    assert intake.samples_received == len(wire) and intake.end == len(wire)
    np.testing.assert_array_equal(intake.read(0, len(wire)), pcm_mulaw_to_float(wire))


def test_8khz_audio_is_resampled_to_16khz() -> None:
    intake = AudioIntake(8000, "pcm_s16le", 60.0)
    t = np.arange(16000) / 8000  # 2 s of a 440 Hz tone at 8 kHz
    wire = (np.sin(2 * np.pi * 440 * t) * 10000).astype("<i2").tobytes()
    for at in range(0, len(wire), 1601):  # odd slices: a sample cut in two waits
        intake.add(wire[at : at + 1601])
    assert intake.samples_received == 16000 and intake.duration_s == 2.0
    # twice the samples, less what the resampler still holds back (under a VAD frame)
    assert 32000 - F < intake.end < 32000
    # chunk by chunk equals the whole stream at once
    whole = StreamResampler(8000).push(pcm_s16le_to_float(wire))
    assert intake.end == len(whole)
    np.testing.assert_array_equal(intake.read(0, intake.end), whole)
    # still a 440 Hz tone, now at 16 kHz
    second = intake.read(8000, 24000)
    assert np.argmax(np.abs(np.fft.rfft(second))) == 440


def test_vad_input_gives_whole_frames_once() -> None:
    intake = AudioIntake(16000, "pcm_s16le", 60.0)
    intake.add(ramp_bytes(0, 1000))
    first = intake.vad_input()
    assert len(first) == F and intake.vad_cursor == F
    np.testing.assert_array_equal(first, intake.read(0, F))
    assert len(intake.vad_input()) == 0  # 488 samples are not a frame yet
    intake.add(ramp_bytes(1000, 100))
    second = intake.vad_input()
    assert len(second) == F and intake.vad_cursor == 2 * F
    np.testing.assert_array_equal(second, intake.read(F, 2 * F))  # the next frame, not the first
    intake.add(ramp_bytes(1100, 3 * F))
    third = intake.vad_input()
    assert len(third) == 3 * F and intake.vad_cursor == 5 * F
    np.testing.assert_array_equal(third, intake.read(2 * F, 5 * F))
    assert len(intake.vad_input()) == 0


def test_speech_spans_merge_adjacent_frames_and_clip() -> None:
    #                 0    1    2    3    4    5    6     7
    intake = heard([0.1, 0.9, 0.9, 0.2, 0.6, 0.5, 0.49, 0.8])
    assert intake.speech_spans(0, 8 * F, 0.5) == ((F, 3 * F), (4 * F, 6 * F), (7 * F, 8 * F))
    # clipped to [start, end): a frame that only starts before `start` still counts
    assert intake.speech_spans(F + 100, 4 * F + 7, 0.5) == ((F + 100, 3 * F), (4 * F, 4 * F + 7))
    # `end` is exclusive: a frame starting there is not in
    assert intake.speech_spans(3 * F, 4 * F, 0.5) == ()
    # the threshold: a frame at it is speech, below it is not
    assert intake.speech_spans(0, 8 * F, 0.6) == ((F, 3 * F), (4 * F, 5 * F), (7 * F, 8 * F))
    assert intake.speech_spans(0, 8 * F, 0.45) == ((F, 3 * F), (4 * F, 8 * F))
    assert intake.speech_spans(0, 8 * F, 0.95) == ()


def test_quietest_point_is_the_earliest_lowest_frame() -> None:
    #                 0    1    2    3    4    5
    intake = heard([0.9, 0.3, 0.8, 0.3, 0.7, 0.1])
    assert intake.quietest_point(0, 5 * F) == F  # frames 1 and 3 tie: the earliest
    assert intake.quietest_point(0, 6 * F) == 5 * F
    assert intake.quietest_point(2 * F, 5 * F) == 3 * F
    # frames are in when they start in [start, end)
    assert intake.quietest_point(F + 1, 3 * F) == 2 * F
    assert intake.quietest_point(F + 1, 3 * F + 1) == 3 * F
    assert intake.quietest_point(F + 1, 2 * F) == 2 * F  # no frame starts there: `end`


def test_the_ring_keeps_only_buffer_s() -> None:
    intake = AudioIntake(16000, "pcm_s16le", 0.5)  # 8000 samples
    intake.add(ramp_bytes(0, 6000))
    assert (intake.start, intake.end) == (0, 6000)
    intake.add(ramp_bytes(6000, 4000))
    assert (intake.start, intake.end) == (2000, 10000)
    assert intake.samples_received == 10000
    np.testing.assert_array_equal(
        intake.read(2000, 10000), pcm_s16le_to_float(ramp_bytes(2000, 8000))
    )
    with pytest.raises(IndexError):
        intake.read(1999, 2000)


def test_verdicts_are_kept_for_buffer_s_and_stay_on_their_frames() -> None:
    # 0.064 s: two frames of verdicts
    intake = heard([0.9, 0.1, 0.1, 0.9], buffer_s=2 * F / 16000)
    assert intake.start == 2 * F
    assert intake.speech_spans(0, 4 * F, 0.5) == ((3 * F, 4 * F),)  # frame 0 is forgotten
    assert intake.quietest_point(0, 4 * F) == 2 * F
