import numpy as np
import pytest
import soxr

from streamer.core.audio import (
    StreamResampler,
    float_to_pcm_s16le,
    pcm_mulaw_to_float,
    pcm_s16le_to_float,
    pcm_s16le_to_mulaw,
    seconds_to_ms,
)


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [(0.0, 0), (0.0004, 0), (0.0005, 1), (1.2345, 1235), (1.2344, 1234), (59.9999, 60000)],
)
def test_seconds_to_ms_rounds_half_up(seconds: float, ms: int) -> None:
    assert seconds_to_ms(seconds) == ms


def test_pcm_s16le_scales_to_unit_range() -> None:
    raw = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    assert pcm_s16le_to_float(raw).tolist() == [0.0, 0.5, -1.0, 32767 / 32768]


def test_pcm_s16le_rejects_odd_byte_count() -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm_s16le_to_float(b"\x00\x01\x02")


def test_mulaw_known_codes() -> None:
    # G.711: 0xFF and 0x7F are the two zeros, 0x80 and 0x00 the extremes (+/-32124 / 32768).
    out = pcm_mulaw_to_float(bytes([0xFF, 0x7F, 0x80, 0x00]))
    assert out[0] == 0.0 and out[1] == 0.0
    assert out[2] == pytest.approx(32124 / 32768) and out[3] == pytest.approx(-32124 / 32768)


def test_mulaw_is_monotonic_over_positive_codes() -> None:
    positive = pcm_mulaw_to_float(bytes(range(0xFF, 0x7F, -1)))
    assert np.all(np.diff(positive) > 0)


def test_stream_resampler_matches_whole_buffer() -> None:
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(8000 * 3).astype(np.float32) * 0.1
    whole = soxr.resample(signal, 8000, 16000, quality="HQ")
    stream = StreamResampler(8000)
    pieces = [stream.push(signal[i : i + 1234]) for i in range(0, len(signal), 1234)]
    pieces.append(stream.push(np.zeros(0, dtype=np.float32), last=True))
    chunked = np.concatenate(pieces)
    assert len(chunked) == len(whole) == 16000 * 3
    assert np.allclose(chunked, whole, atol=1e-4)


def test_float_to_pcm_round_trip_and_clipping() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    back = pcm_s16le_to_float(float_to_pcm_s16le(samples))
    assert np.allclose(back, [0.0, 0.5, -0.5, 32767 / 32768, -32767 / 32768], atol=1e-4)


def test_mulaw_encoder_agrees_with_the_decoder() -> None:
    """`pcm_s16le_to_mulaw` (what telephony clients send) against `pcm_mulaw_to_float`: every
    code but 0x7F (negative zero, which decodes as 0 and so encodes as 0xFF) survives
    decode-encode, and every sample within G.711's clip level (32635) comes back within half
    its segment's step."""
    codes = np.arange(256, dtype=np.uint8)
    linear = np.round(pcm_mulaw_to_float(codes.tobytes()) * 32768).astype("<i2")
    again = np.frombuffer(pcm_s16le_to_mulaw(linear.tobytes()), dtype=np.uint8)
    assert list(codes[again != codes]) == [0x7F] and again[0x7F] == 0xFF

    samples = np.arange(-32635, 32635 + 1).astype("<i2")
    decoded = pcm_mulaw_to_float(pcm_s16le_to_mulaw(samples.tobytes())).astype(np.float64) * 32768
    error = np.abs(decoded - samples)
    assert np.all(error <= (np.abs(samples.astype(np.int32)) + 0x84) / 32)  # 0x84: the bias
