"""How the whole-file pipeline works through a long file in pieces (pure parts): windows run
only near speech, stitched in sections, a bounded sample of rows shaping the clusters, each
word named on its own section."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.core.audio_source import ArrayAudio, read_padded
from streamer.core.clustering import ClusteringParams, SpeakerCount
from streamer.core.diarization import LocalSpeakers, cluster_rows, window_range
from streamer.core.word_speakers import SpeakerTimeline
from streamer.core.words import Word
from streamer.files import pipeline
from streamer.files.pipeline import Diarization, _near_speech, _Section, _sections

RATE = 16000
WINDOW = 10 * RATE
STEP = RATE * 5 // 2


def test_only_windows_near_speech_are_run() -> None:
    starts = list(range(0, 100 * RATE, STEP))
    kept = _near_speech(starts, WINDOW, [(30.0, 31.0), (80.0, 80.5)])
    # a window runs when it reaches within 1 s of the speech: [29, 32) and [79, 81.5)
    assert kept == [s for s in starts if s < 32 * RATE and s + WINDOW > 29 * RATE] + [
        s for s in starts if s < 81.5 * RATE and s + WINDOW > 79 * RATE
    ]
    assert kept[0] == 20 * RATE and kept[-1] == 80 * RATE
    assert _near_speech(starts, WINDOW, []) == []


def test_sections_split_where_windows_do_not_touch_and_after_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts = [0, STEP, 2 * STEP, 40 * RATE, 40 * RATE + STEP]
    assert _sections(starts, WINDOW) == [[0, STEP, 2 * STEP], [40 * RATE, 40 * RATE + STEP]]
    monkeypatch.setattr(pipeline, "SECTION_WINDOWS", 2)
    assert _sections(starts, WINDOW) == [[0, STEP], [2 * STEP], [40 * RATE, 40 * RATE + STEP]]


def _local(windows: int, rows_per_window: int, dim: int = 4) -> LocalSpeakers:
    owners = [(w, r) for w in range(windows) for r in range(rows_per_window)]
    return LocalSpeakers(
        activity=np.arange(windows * 3 * 3, dtype=np.float64).reshape(windows, 3, 3),
        starts=[w * STEP for w in range(windows)],
        owners=owners,
        embeddings=np.arange(len(owners) * dim, dtype=np.float64).reshape(len(owners), dim),
        speech_s=np.arange(len(owners), dtype=np.float64),
        window_ends=[windows * STEP + WINDOW] * windows,
    )


def test_a_range_of_windows_keeps_their_rows_on_its_own_clock() -> None:
    local = _local(windows=4, rows_per_window=2)
    part, rows = window_range(local, 1, 3, origin=STEP)
    assert rows == [2, 3, 4, 5]
    assert part.starts == [0, STEP]
    assert part.owners == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert part.embeddings.tolist() == local.embeddings[2:6].tolist()
    assert part.speech_s.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert part.activity.tolist() == local.activity[1:3].tolist()
    assert part.window_ends == [local.window_ends[0] - STEP] * 2


def test_a_sample_of_rows_shapes_the_clusters_and_every_row_is_assigned() -> None:
    rng = np.random.default_rng(0)
    voices = np.eye(8)[:2] * 5
    windows = 300
    embeddings = np.concatenate([voices + rng.normal(0, 0.3, voices.shape) for _ in range(windows)])
    local = LocalSpeakers(
        activity=np.zeros((windows, 1, 3)),
        starts=list(range(windows)),
        owners=[(w, r) for w in range(windows) for r in range(2)],
        embeddings=embeddings,
        speech_s=np.full(len(embeddings), 2.0),
        window_ends=[windows] * windows,
    )
    whole, count = cluster_rows(local, SpeakerCount(), ClusteringParams(), 1.0)
    sampled, sampled_count = cluster_rows(local, SpeakerCount(), ClusteringParams(max_rows=40), 1.0)
    assert count == sampled_count == 2
    assert len(sampled) == 600
    assert sampled.tolist() == whole.tolist()  # two clear voices: the sample finds them as all do


def test_each_word_is_named_on_the_section_it_starts_in() -> None:
    a_then_b = SpeakerTimeline(np.array([[1.0, 0.0], [0.0, 0.0]]), step_s=1.0, offset_s=0.0)
    b_only = SpeakerTimeline(np.array([[0.0, 1.0]] * 3), step_s=1.0, offset_s=100.0)
    diarization = Diarization(
        sections=(_Section(0.0, a_then_b), _Section(100.0, b_only)),
        turns=(),
        centroids=np.eye(2),
    )
    words = [
        Word("one", 0, 500, 0.9),  # section 1, under A
        Word("two", 1000, 1500, 0.9),  # section 1, no one under it: A, the nearest active
        Word("three", 101_000, 101_500, 0.9),  # section 2: B
    ]
    assert diarization.word_scores(words).tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    silent = Diarization(
        (_Section(0.0, SpeakerTimeline(np.zeros((2, 2)), 1.0)), _Section(100.0, b_only)),
        (),
        np.eye(2),
    )
    # a section with no one in it: its words look to the nearest section that has someone
    assert silent.word_scores(words[:1]).tolist() == [[0.0, 1.0]]


def test_reads_past_the_end_are_zeros() -> None:
    source = ArrayAudio(np.ones(10, dtype=np.float32))
    assert read_padded(source, 8, 12).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert read_padded(source, -2, 2).tolist() == [1.0, 1.0]
    assert source.read(12, 20).tolist() == []
