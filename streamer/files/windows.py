"""Decode windows for Whisper from speech regions (pure)."""

from __future__ import annotations

WHISPER_WINDOW_S = 30.0
MAX_SILENCE_IN_WINDOW_S = 5.0
"""Long silences inside a decode window invite Whisper to hallucinate words."""


def asr_windows(
    regions_s: list[tuple[float, float]],
    max_window_s: float = WHISPER_WINDOW_S,
    max_gap_s: float = MAX_SILENCE_IN_WINDOW_S,
) -> list[tuple[float, float]]:
    """Pack speech regions into decode windows of at most `max_window_s`.

    Neighbouring regions share a window while it fits and the pause between them is short
    (Whisper pads every call to 30 s, so fewer, fuller windows cost less); a region longer than
    a window is cut into equal pieces.
    """
    windows: list[tuple[float, float]] = []
    for start, end in regions_s:
        pieces = max(1, int(-(-(end - start) // max_window_s)))
        length = (end - start) / pieces
        for piece in range(pieces):
            begin, finish = start + piece * length, start + (piece + 1) * length
            joinable = windows and begin - windows[-1][1] <= max_gap_s
            if joinable and finish - windows[-1][0] <= max_window_s:
                windows[-1] = (windows[-1][0], finish)
            else:
                windows.append((begin, finish))
    return windows
