import numpy as np
import pytest

from streamer.core.clustering import (
    ClusteringParams,
    SpeakerCount,
    agglomerative,
    assign_distinct,
    centroids,
    keep_unless_surer,
    rejoin_absent_voices,
    relabel_by_first_appearance,
)

PARAMS = ClusteringParams(distance_threshold=0.5, min_cluster_speech_s=3.0)


def groups(sizes: list[int], dim: int = 16, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """Embeddings around orthogonal directions, one direction per group, in group order."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, size in enumerate(sizes):
        direction = np.eye(dim)[group]
        rows.append(direction + noise * rng.standard_normal((size, dim)))
    return np.concatenate(rows)


def cluster(embeddings: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """Cluster with one second of speech behind every embedding."""
    return agglomerative(embeddings, np.ones(len(embeddings)), count, PARAMS)


def expected(sizes: list[int]) -> list[int]:
    return [g for g, size in enumerate(sizes) for _ in range(size)]


def test_finds_known_groups() -> None:
    sizes = [10, 8, 12]
    labels = cluster(groups(sizes), SpeakerCount())
    assert labels.tolist() == expected(sizes)


def test_expected_count_forces_merge() -> None:
    labels = cluster(groups([10, 8, 12]), SpeakerCount(expected=2))
    assert len(set(labels.tolist())) == 2


def test_expected_count_forces_split() -> None:
    labels = cluster(groups([10, 8]), SpeakerCount(expected=3))
    assert len(set(labels.tolist())) == 3


def test_maximum_caps_and_minimum_floors() -> None:
    data = groups([10, 8, 12, 9])
    assert len(set(cluster(data, SpeakerCount(maximum=2)).tolist())) == 2
    assert len(set(cluster(groups([10]), SpeakerCount(minimum=2)).tolist())) == 2


def test_cluster_with_little_speech_joins_nearest_large_one() -> None:
    data = groups([10, 10, 1])  # one stray embedding in a direction of its own
    labels = cluster(data, SpeakerCount())
    assert len(set(labels.tolist())) == 2
    assert labels[:20].tolist() == expected([10, 10])
    # the same stray embedding backed by enough speech is a speaker of its own
    speech = np.array([1.0] * 20 + [5.0])
    assert len(set(agglomerative(data, speech, SpeakerCount(), PARAMS).tolist())) == 3


def test_degenerate_inputs() -> None:
    assert cluster(np.zeros((0, 4)), SpeakerCount()).tolist() == []
    assert cluster(np.ones((1, 4)), SpeakerCount()).tolist() == [0]


def test_speaker_count_validation() -> None:
    with pytest.raises(ValueError):
        SpeakerCount(expected=0)
    with pytest.raises(ValueError):
        SpeakerCount(minimum=3, maximum=2)
    assert SpeakerCount(minimum=2, maximum=4).clamp(1) == 2
    assert SpeakerCount(minimum=2, maximum=4).clamp(6) == 4
    assert SpeakerCount(expected=3).clamp(6) == 3


def test_relabel_by_first_appearance() -> None:
    assert relabel_by_first_appearance(np.array([5, 5, 2, 9, 2])).tolist() == [0, 0, 1, 2, 1]


def test_assign_distinct_keeps_window_speakers_apart() -> None:
    cents = centroids(groups([5, 5]), np.array([0] * 5 + [1] * 5))
    # both rows are closer to centroid 0, but one window's speakers are different people
    rows = np.array([[1.0, 0.1] + [0.0] * 14, [1.0, 0.3] + [0.0] * 14])
    assert sorted(assign_distinct(rows, cents).tolist()) == [0, 1]
    # more rows than speakers: the extra row takes its nearest centroid
    three = np.vstack([rows, [[0.0, 1.0] + [0.0] * 14]])
    assert len(assign_distinct(three, cents)) == 3


def test_a_revision_moves_a_row_only_when_it_is_surer() -> None:
    """Rows 0-1 are clearly speaker 0, rows 2-3 clearly 1; row 4 sits between them. A new
    labelling that moves row 4 from 0 to 1 is kept only if row 4 is nearer 1 by the margin;
    moving a clear row 2 back to 0 is undone."""
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    between = np.array([0.6, 0.8])  # a little nearer b
    rows = np.stack([a, a, b, b, between])
    old = np.array([0, 0, 1, 1, 0])
    new = np.array([0, 0, 1, 1, 1])
    assert keep_unless_surer(rows, old, new, margin=0.0).tolist() == [0, 0, 1, 1, 1]
    assert keep_unless_surer(rows, old, new, margin=0.5).tolist() == [0, 0, 1, 1, 0]
    gone = np.array([0, 0, 0, 0, 0])  # speaker 1 merged away: its rows move
    assert keep_unless_surer(rows, old, gone, margin=0.5).tolist() == [0, 0, 0, 0, 0]


def test_a_fresh_label_near_a_voice_the_rows_do_not_hold_takes_its_label() -> None:
    """Known voices 0 (a), 1 (b) and 2 (c); a re-clustering of recent rows holds only 0 and
    two fresh labels, 3 near c and 4 far from every voice: 3 becomes 2 (c was heard before
    the rows), 4 stays new, and no fresh label takes 0 (the rows hold it already)."""
    a, b, c, d = np.eye(4)
    near_c = np.array([0.1, 0.0, 1.0, 0.0])
    voices = {0: a, 1: b, 2: c}
    rows = np.stack([a, a, near_c, near_c, d])
    labels = np.array([0, 0, 3, 3, 4])
    out = rejoin_absent_voices(rows, labels, voices, first_fresh=3, max_distance=0.3)
    assert out.tolist() == [0, 0, 2, 2, 4]
    # too far for the distance allowed: the label stays fresh
    strict = rejoin_absent_voices(rows, labels, voices, 3, max_distance=0.001)
    assert strict.tolist() == labels.tolist()
    # a voice the rows hold is not taken again, however near
    held = np.array([0, 0, 2, 2, 3])
    near_a = np.stack([a, a, c, c, np.array([1.0, 0.0, 0.0, 0.1])])
    assert rejoin_absent_voices(near_a, held, voices, 3, 0.3).tolist() == [0, 0, 2, 2, 3]
