"""Overlap-aware diarization from a local segmentation model (pure numpy/scipy).

The segmentation model looks at fixed windows ("chunks") and says, per frame, which of up to
three *local* speakers talk (a powerset over {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}). Each local
speaker of each chunk gets an embedding; clustering maps local speakers to global ones; this
module then stitches the chunks back into one timeline of global speaker activity.

Shapes: `c` chunks, `f` frames per chunk, `l` local speakers (3), `g` global frames,
`k` global speakers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.core.arrays import BoolArray, FloatArray, IntArray
from streamer.core.clustering import (
    ClusteringParams,
    SpeakerCount,
    agglomerative,
    assign_distinct,
    centroids,
)
from streamer.core.word_speakers import SpeakerTimeline
from streamer.core.words import SpeakerTurn

POWERSET_CLASSES: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
LOCAL_SPEAKERS = 3
UNASSIGNED = -1


def _powerset_matrix() -> FloatArray:
    matrix = np.zeros((len(POWERSET_CLASSES), LOCAL_SPEAKERS), dtype=np.float64)
    for index, members in enumerate(POWERSET_CLASSES):
        matrix[index, list(members)] = 1.0
    return matrix


_POWERSET_TO_SPEAKERS = _powerset_matrix()


@dataclass(frozen=True, slots=True)
class FrameGrid:
    """Where the segmentation model's output frames sit in time (samples at `sample_rate`)."""

    sample_rate: int
    step_samples: int
    receptive_field_samples: int

    def frame_start_s(self, frame: int | FloatArray) -> float | FloatArray:
        """Start of the span a frame stands for: its receptive-field centre minus half a step."""
        centre = frame * self.step_samples + self.receptive_field_samples / 2
        return (centre - self.step_samples / 2) / self.sample_rate

    @property
    def step_s(self) -> float:
        return self.step_samples / self.sample_rate


@dataclass(frozen=True, slots=True)
class DiarizationParams:
    """Named thresholds of the stitching step."""

    min_clustering_speech_s: float = 1.0
    """Only embeddings of at least this much speech shape the clusters (short ones are noisy);
    shorter ones are then assigned to the nearest cluster."""
    min_turn_s: float = 0.1
    """Shorter bursts of one speaker are dropped."""
    min_gap_s: float = 0.3
    """Shorter pauses inside one speaker's speech are filled."""


def chunk_starts(num_samples: int, window_samples: int, step_samples: int) -> list[int]:
    """Start sample of each window so that windows cover the audio; the last one ends at the end
    (a file shorter than one window gets one window, padded by the caller)."""
    if num_samples <= window_samples:
        return [0]
    starts = list(range(0, num_samples - window_samples + 1, step_samples))
    if starts[-1] + window_samples < num_samples:
        starts.append(num_samples - window_samples)
    return starts


def powerset_to_multilabel(log_probs: FloatArray) -> FloatArray:
    """(c, f, 7) powerset scores -> (c, f, 3) hard 0/1 activity of each local speaker."""
    best = np.argmax(log_probs, axis=-1)
    return np.asarray(_POWERSET_TO_SPEAKERS[best], dtype=np.float64)


def embedding_frames(activity: FloatArray) -> BoolArray:
    """(f, l) activity of one chunk -> (l, f) frames to embed for each local speaker: the frames
    where it talks alone (overlap spoils embeddings), or all its frames when it never does."""
    alone = (activity > 0) & (activity.sum(axis=1, keepdims=True) == 1)
    active = activity > 0
    use_alone = alone.sum(axis=0) > 0
    return np.asarray(np.where(use_alone[None, :], alone, active).T, dtype=np.bool_)


def frames_to_sample_spans(
    frames: BoolArray, grid: FrameGrid, chunk_start_sample: int
) -> list[tuple[int, int]]:
    """(f,) frame mask of one chunk -> [(start, end)) sample spans of contiguous runs."""
    spans: list[tuple[int, int]] = []
    for first, last in _runs(frames):
        start = chunk_start_sample + round(float(grid.frame_start_s(first)) * grid.sample_rate)
        end = chunk_start_sample + round(float(grid.frame_start_s(last + 1)) * grid.sample_rate)
        spans.append((max(start, 0), end))
    return spans


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """(n,) bool -> [(first, last)] inclusive index ranges of runs of True."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def stitch(
    activity: FloatArray,
    chunk_speaker: IntArray,
    chunk_start_samples: list[int],
    grid: FrameGrid,
    num_speakers: int,
    chunk_end_samples: list[int] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Rebuild one global timeline from overlapping chunks.

    activity: (c, f, l) local activity; chunk_speaker: (c, l) global speaker of each local one
    (UNASSIGNED for silent locals); chunk_end_samples: where the audio each chunk heard ends
    (frames past it, padding, say nothing; None: chunks heard all their frames).
    Returns (score (g, k), binary (g, k)): `score` is each speaker's activity averaged over the
    chunks that cover a frame (Hamming-weighted, since chunk edges see less context); `binary`
    keeps, per frame, as many of the top-scoring speakers as the chunks agree are talking at
    once.
    """
    c, f, _ = activity.shape
    offsets = np.array([round(s / grid.step_samples) for s in chunk_start_samples])
    num_frames = int(offsets.max()) + f if c else 0
    weights = np.hamming(f) + 1e-3
    score = np.zeros((num_frames, num_speakers))
    speaking = np.zeros(num_frames)
    coverage = np.zeros(num_frames)
    for chunk in range(c):
        heard = f
        if chunk_end_samples is not None:
            heard_samples = chunk_end_samples[chunk] - chunk_start_samples[chunk]
            heard = min(f, max(0, -(-heard_samples // grid.step_samples)))
        span = slice(offsets[chunk], offsets[chunk] + heard)
        coverage[span] += weights[:heard]
        speaking[span] += weights[:heard] * activity[chunk, :heard].sum(axis=1)
        for local in range(activity.shape[2]):
            speaker = chunk_speaker[chunk, local]
            if speaker != UNASSIGNED:
                score[span, speaker] += weights[:heard] * activity[chunk, :heard, local]
    covered = np.maximum(coverage, 1e-9)
    score /= covered[:, None]
    count = np.rint(speaking / covered).astype(np.int64)
    binary = _top_k_per_frame(score, count)
    return score, binary


def _top_k_per_frame(score: FloatArray, count: IntArray) -> FloatArray:
    """(g, k), (g,) -> (g, k) 1.0 for the `count[t]` highest positive scores of each frame."""
    order = np.argsort(-score, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(score.shape[1])[None, :].repeat(len(score), 0), 1)
    return ((ranks < count[:, None]) & (score > 0)).astype(np.float64)


def speaker_turns(
    binary: FloatArray, grid: FrameGrid, params: DiarizationParams
) -> list[SpeakerTurn]:
    """(g, k) binary activity -> turns sorted by start, short gaps filled, short bursts dropped."""
    turns: list[SpeakerTurn] = []
    min_gap_frames = round(params.min_gap_s / grid.step_s)
    for speaker in range(binary.shape[1]):
        runs = _runs(binary[:, speaker] > 0)
        merged: list[list[int]] = []
        for first, last in runs:
            if merged and first - merged[-1][1] - 1 <= min_gap_frames:
                merged[-1][1] = last
            else:
                merged.append([first, last])
        for first, last in merged:
            start = float(grid.frame_start_s(first))
            end = float(grid.frame_start_s(last + 1))
            if end - start >= params.min_turn_s:
                turns.append(SpeakerTurn(speaker=speaker, start_s=max(start, 0.0), end_s=end))
    return sorted(turns, key=lambda t: (t.start_s, t.speaker))


@dataclass(frozen=True, slots=True)
class LocalSpeakers:
    """Per-window segmentation of some audio and an embedding of each window's local speakers
    (those with enough clean speech); sample indices are relative to that audio."""

    activity: FloatArray
    """(c, f, l) 0/1 activity of each local speaker"""
    starts: list[int]
    """start sample of each window"""
    owners: list[tuple[int, int]]
    """(window, local speaker) of each embedding row"""
    embeddings: FloatArray
    """(len(owners), dim)"""
    speech_s: FloatArray
    """(len(owners),) seconds of speech behind each embedding"""
    window_ends: list[int]
    """where the audio each window heard ends (a window past the end of short audio is padded
    with silence no one spoke in)"""

    def rows_of_window(self, window: int) -> list[int]:
        return [row for row, (c, _) in enumerate(self.owners) if c == window]


def _chunk_assignment(local: LocalSpeakers, row_speakers: IntArray) -> IntArray:
    """(len(owners),) global speaker of each embedding row -> (c, l) global speaker of each
    local speaker of each window (UNASSIGNED where a local speaker had no embedding)."""
    out = np.full(local.activity.shape[0::2], UNASSIGNED, dtype=np.int64)
    for (window, speaker), label in zip(local.owners, row_speakers.tolist(), strict=True):
        out[window, speaker] = label
    return out


def global_timeline(
    local: LocalSpeakers,
    row_speakers: IntArray,
    num_speakers: int,
    grid: FrameGrid,
    params: DiarizationParams,
    offset_s: float = 0.0,
) -> tuple[SpeakerTimeline, list[SpeakerTurn]]:
    """The windows of `local` stitched into one timeline of global speakers, given the global
    speaker of each embedding row ((len(owners),), as clustering found them): per-speaker
    scores and turns, times shifted by `offset_s`. Files and streams both name words on it."""
    score, binary = stitch(
        local.activity,
        _chunk_assignment(local, row_speakers),
        local.starts,
        grid,
        num_speakers,
        local.window_ends,
    )
    timeline = SpeakerTimeline(
        scores=score * binary, step_s=grid.step_s, offset_s=offset_s + float(grid.frame_start_s(0))
    )
    turns = [
        SpeakerTurn(t.speaker, t.start_s + offset_s, t.end_s + offset_s)
        for t in speaker_turns(binary, grid, params)
    ]
    return timeline, turns


def cluster_rows(
    local: LocalSpeakers,
    count: SpeakerCount,
    clustering: ClusteringParams,
    min_clustering_speech_s: float,
) -> tuple[IntArray, int]:
    """Offline clustering of every local speaker: (len(owners),) global speaker per embedding
    row, and the number of speakers.

    Only embeddings of enough speech shape the clusters (all of them when none has enough;
    at most `clustering.max_rows` of them, evenly spaced over a long file); then every row,
    window by window, takes the closest cluster, no two rows of one window sharing one.
    """
    rows = np.zeros(len(local.owners), dtype=np.int64)
    if not local.owners:
        return rows, 0
    reliable = local.speech_s >= min_clustering_speech_s
    if not reliable.any():
        reliable[:] = True
    shaping = np.flatnonzero(reliable)
    if len(shaping) > clustering.max_rows:  # an evenly spaced sample of a long file's rows
        shaping = shaping[np.linspace(0, len(shaping) - 1, clustering.max_rows).astype(np.int64)]
    embeddings = local.embeddings[shaping]
    speaker_centroids = centroids(
        embeddings, agglomerative(embeddings, local.speech_s[shaping], count, clustering)
    )
    for window in sorted({c for c, _ in local.owners}):
        members = local.rows_of_window(window)
        rows[members] = assign_distinct(local.embeddings[members], speaker_centroids)
    return rows, len(speaker_centroids)


def concatenate(parts: list[LocalSpeakers], origins: list[int]) -> LocalSpeakers:
    """Several analyses by one model (same frames per window) as one: windows renumbered,
    `starts` moved by each part's origin (the sample its audio starts at on a common clock)."""
    owners: list[tuple[int, int]] = []
    starts: list[int] = []
    ends: list[int] = []
    for part, origin in zip(parts, origins, strict=True):
        owners += [(window + len(starts), speaker) for window, speaker in part.owners]
        starts += [start + origin for start in part.starts]
        ends += [end + origin for end in part.window_ends]
    return LocalSpeakers(
        activity=np.concatenate([p.activity for p in parts]),
        starts=starts,
        owners=owners,
        embeddings=np.concatenate([p.embeddings for p in parts]),
        speech_s=np.concatenate([p.speech_s for p in parts]),
        window_ends=ends,
    )


def window_range(
    local: LocalSpeakers, first: int, stop: int, origin: int
) -> tuple[LocalSpeakers, list[int]]:
    """The windows [first, stop) of `local` and their embedding rows, on a clock that starts
    at sample `origin` (a stretch of a long file, stitched on its own); and which rows of
    `local` those are."""
    rows = [row for row, (window, _) in enumerate(local.owners) if first <= window < stop]
    part = LocalSpeakers(
        activity=local.activity[first:stop],
        starts=[start - origin for start in local.starts[first:stop]],
        owners=[(local.owners[row][0] - first, local.owners[row][1]) for row in rows],
        embeddings=local.embeddings[rows],
        speech_s=local.speech_s[rows],
        window_ends=[end - origin for end in local.window_ends[first:stop]],
    )
    return part, rows
