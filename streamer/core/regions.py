"""Speech regions from per-frame VAD probabilities (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class VadParams:
    threshold: float = 0.5
    """A frame at or above this probability is speech."""
    release_threshold: float = 0.35
    """Speech goes on until the probability falls below this (hysteresis against flicker)."""
    min_speech_s: float = 0.25
    """Shorter bursts are noise."""
    min_silence_s: float = 0.3
    """Shorter pauses do not split a region."""
    pad_s: float = 0.1
    """Margin added on both sides so word onsets and tails are not clipped."""


def speech_regions(
    probs: npt.NDArray[np.float32], frame_s: float, params: VadParams, duration_s: float
) -> list[tuple[float, float]]:
    """(frames,) probabilities -> sorted, non-overlapping (start_s, end_s) speech regions."""
    regions: list[list[float]] = []
    start: int | None = None
    for index, prob in enumerate(probs.tolist()):
        if start is None and prob >= params.threshold:
            start = index
        elif start is not None and prob < params.release_threshold:
            regions.append([start * frame_s, index * frame_s])
            start = None
    if start is not None:
        regions.append([start * frame_s, len(probs) * frame_s])
    merged: list[list[float]] = []
    for region in regions:
        if merged and region[0] - merged[-1][1] < params.min_silence_s:
            merged[-1][1] = region[1]
        else:
            merged.append(region)
    padded: list[tuple[float, float]] = []
    for begin, end in merged:
        if end - begin < params.min_speech_s:
            continue
        begin, end = max(0.0, begin - params.pad_s), min(duration_s, end + params.pad_s)
        if padded and begin <= padded[-1][1]:
            padded[-1] = (padded[-1][0], end)
        else:
            padded.append((begin, end))
    return padded
