"""A speaker for every word (pure numpy).

Diarization gives per-frame speaker scores; each word takes the speaker with the most score
over its span. Labels are stable names "A", "B", ... in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import ascii_uppercase

import numpy as np

from streamer.core.arrays import FloatArray, IntArray
from streamer.core.words import Word


@dataclass(frozen=True, slots=True)
class SpeakerTimeline:
    """Per-frame scores of each speaker: frame t covers [offset_s + t*step_s, + step_s)."""

    scores: FloatArray
    """(frames, speakers)"""
    step_s: float
    offset_s: float = 0.0

    @property
    def num_speakers(self) -> int:
        return int(self.scores.shape[1])


@dataclass(frozen=True, slots=True)
class SmoothingParams:
    island_max_words: int = 1
    """A run of at most this many words between two runs of one other speaker is suspect..."""
    island_max_gap_s: float = 0.25
    """...when it is glued to both neighbours (a real back-channel stands apart in time)."""


def speaker_name(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA", 27 -> "AB", ... (AssemblyAI's label style)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = ascii_uppercase[rest] + name
    return name


def word_scores(words: list[Word] | tuple[Word, ...], timeline: SpeakerTimeline) -> FloatArray:
    """(words, speakers): each speaker's share of the activity over each word's span, rows
    summing to 1; a word in a gap of the timeline takes the frame active nearest to it in
    time; a row of zeros only when the timeline has no speaker at all."""
    scores = np.zeros((len(words), timeline.num_speakers))
    frames = timeline.scores.shape[0]
    if frames == 0 or timeline.num_speakers == 0:
        return scores
    active = np.flatnonzero(timeline.scores.sum(axis=1) > 0)
    if active.size == 0:
        return scores
    for index, word in enumerate(words):
        first = int((word.start_ms / 1000 - timeline.offset_s) // timeline.step_s)
        last = int((word.end_ms / 1000 - timeline.offset_s) // timeline.step_s)
        first, last = min(max(first, 0), frames - 1), min(max(last, first), frames - 1)
        totals = timeline.scores[first : last + 1].sum(axis=0)
        if totals.max() <= 0:
            middle = (first + last) / 2
            nearest = active[np.argmin(np.abs(active - middle))]
            totals = timeline.scores[nearest]
        scores[index] = totals / totals.sum()
    return scores


def strongest(scores: FloatArray) -> IntArray:
    """The speaker of the largest score in each row of `word_scores`; -1 for a row of none."""
    if not scores.size:
        return np.full(len(scores), -1, dtype=np.int64)
    return np.where(scores.sum(axis=1) > 0, np.argmax(scores, axis=1), -1).astype(np.int64)


def smooth_islands(
    words: list[Word] | tuple[Word, ...], labels: IntArray, params: SmoothingParams
) -> IntArray:
    """Give a short run of words the label of its neighbours when both neighbours are one other
    speaker and the run is not set apart by pauses (the label flickered inside one turn)."""
    out = labels.copy()
    runs = label_runs(out)
    for before, run, after in zip(runs, runs[1:], runs[2:], strict=False):
        if out[before[0]] != out[after[0]] or run[1] - run[0] + 1 > params.island_max_words:
            continue
        gap_before = (words[run[0]].start_ms - words[before[1]].end_ms) / 1000
        gap_after = (words[after[0]].start_ms - words[run[1]].end_ms) / 1000
        if max(gap_before, gap_after) <= params.island_max_gap_s:
            out[run[0] : run[1] + 1] = out[before[0]]
    return out


def label_runs(labels: IntArray) -> list[tuple[int, int]]:
    """(n,) labels -> [(first, last)] inclusive index ranges of equal consecutive labels."""
    runs: list[tuple[int, int]] = []
    for index, label in enumerate(labels.tolist()):
        if runs and labels[runs[-1][0]] == label:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def name_speakers(
    words: list[Word] | tuple[Word, ...], labels: IntArray, prefix: str = ""
) -> tuple[Word, ...]:
    """Attach names to words: the first speaker heard is "A", the next new one "B", ...
    (after `prefix`: "1A", "1B" for speakers inside channel 1)."""
    names: dict[int, str] = {}
    named = []
    for word, label in zip(words, labels.tolist(), strict=True):
        if label < 0:
            named.append(word.with_speaker(None))
            continue
        names.setdefault(label, prefix + speaker_name(len(names)))
        named.append(word.with_speaker(names[label]))
    return tuple(named)
