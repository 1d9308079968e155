"""Hand-made segmentation windows: what the speaker finder would return for voices known in
advance (real types, made-up values)."""

from __future__ import annotations

import numpy as np

from streamer.core.diarization import LocalSpeakers

FRAMES = 589
"""frames of one 10 s window, as segmentation-3.0 gives them"""
FRAME_SAMPLES = 270


def window(
    context_samples: int, voices: list[tuple[np.ndarray, list[tuple[int, int]]]]
) -> LocalSpeakers:
    """One 10 s window over a context of `context_samples`: local speaker i has embedding
    voices[i][0] and talks over the sample spans voices[i][1] of the context."""
    activity = np.zeros((1, FRAMES, 3))
    for local, (_, spans) in enumerate(voices):
        for start, end in spans:
            activity[0, start // FRAME_SAMPLES : min(FRAMES, end // FRAME_SAMPLES), local] = 1.0
    return LocalSpeakers(
        activity=activity,
        starts=[0],
        owners=[(0, local) for local in range(len(voices))],
        embeddings=np.stack([embedding for embedding, _ in voices]),
        speech_s=np.array([sum(e - s for s, e in spans) / 16000 for _, spans in voices]),
        window_ends=[context_samples],
    )
