import numpy as np

from streamer.core.regions import VadParams, speech_regions

PARAMS = VadParams(
    threshold=0.5, release_threshold=0.35, min_speech_s=0.2, min_silence_s=0.3, pad_s=0.0
)


def regions(probs: list[float]) -> list[tuple[float, float]]:
    out = speech_regions(np.array(probs, dtype=np.float32), 0.1, PARAMS, len(probs) * 0.1)
    return [(round(a, 6), round(b, 6)) for a, b in out]


def test_hysteresis_keeps_speech_through_dips_above_release() -> None:
    assert regions([0, 0.9, 0.9, 0.4, 0.9, 0.9, 0, 0, 0, 0]) == [(0.1, 0.6)]


def test_short_pause_merges_long_pause_splits() -> None:
    short = [0, 0.9, 0.9, 0, 0, 0.9, 0.9, 0, 0, 0]
    assert regions(short) == [(0.1, 0.7)]
    long = [0.9, 0.9, 0.9, 0, 0, 0, 0.9, 0.9, 0.9, 0]
    assert regions(long) == [(0.0, 0.3), (0.6, 0.9)]


def test_short_burst_is_dropped_and_open_region_closes_at_end() -> None:
    assert regions([0, 0.9, 0, 0, 0, 0, 0, 0.9, 0.9, 0.9]) == [(0.7, 1.0)]


def test_padding_is_clamped_to_the_audio() -> None:
    params = VadParams(min_speech_s=0.0, min_silence_s=0.0, pad_s=0.2)
    out = speech_regions(np.array([0.9, 0.9, 0, 0], dtype=np.float32), 0.1, params, 0.4)
    assert out == [(0.0, 0.4)]
