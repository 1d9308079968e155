"""Speaker clustering over embeddings. Pure numpy/scipy: no I/O, no model runtimes.

Embeddings are rows of an array shaped (n, dim); labels are int arrays shaped (n,) numbered
0..k-1 in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment

from streamer.core.arrays import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class SpeakerCount:
    """What the caller knows about how many speakers there are (AssemblyAI's
    `speakers_expected` and `speaker_options.{min,max}_speakers_expected`)."""

    expected: int | None = None
    minimum: int = 1
    maximum: int | None = None

    def __post_init__(self) -> None:
        if self.expected is not None and self.expected < 1:
            raise ValueError("speakers_expected must be at least 1")
        if self.minimum < 1:
            raise ValueError("min_speakers_expected must be at least 1")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("max_speakers_expected must be at least min_speakers_expected")

    def clamp(self, found: int) -> int:
        """The number of speakers to keep when clustering found `found`."""
        if self.expected is not None:
            return self.expected
        upper = found if self.maximum is None else min(found, self.maximum)
        return max(upper, self.minimum)


@dataclass(frozen=True, slots=True)
class ClusteringParams:
    """Named thresholds of the offline clustering (tuned on the dev set, see README)."""

    linkage: Literal["complete", "average"] = "average"
    """complete: two groups merge only if all their members are close; average: if they are
    close on average (steadier with few embeddings). Neither inverts, so cutting the tree at a
    fixed number of clusters gives exactly that many. Complete linkage split a talkative
    person as recordings grew (with 23 people, DER 36 % against 25 % for average linkage)."""
    distance_threshold: float = 0.37
    """Cut the tree at this cosine distance (average linkage at 0.40 merged the telephone
    call's two voices; 0.33 kept more phantoms: see README)."""
    min_cluster_speech_s: float = 1.0
    """Clusters holding less speech than this are absorbed by the nearest larger one: a few odd
    embeddings never become a phantom speaker."""
    max_rows: int = 4000
    """At most this many embeddings shape the clusters: the tree keeps every pairwise distance
    (n² / 2 floats, 64 MB at 4000, a file of about three hours of speech), so those of a
    longer file are an evenly spaced sample of them, and every row then takes its closest."""


def l2_normalize(embeddings: FloatArray) -> FloatArray:
    """(n, dim) -> (n, dim) rows of unit length (zero rows stay zero)."""
    norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    return np.asarray(embeddings / np.maximum(norms, 1e-12), dtype=np.float64)


def relabel_by_first_appearance(labels: IntArray) -> IntArray:
    """Renumber labels so the first one seen is 0, the next new one 1, ..."""
    mapping: dict[int, int] = {}
    for label in labels.tolist():
        mapping.setdefault(label, len(mapping))
    return np.array([mapping[label] for label in labels.tolist()], dtype=np.int64)


def centroids(embeddings: FloatArray, labels: IntArray) -> FloatArray:
    """(n, dim), (n,) -> (k, dim): unit-norm mean of each label's rows."""
    k = int(labels.max()) + 1 if labels.size else 0
    sums = np.zeros((k, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    return l2_normalize(sums)


def agglomerative(
    embeddings: FloatArray,
    speech_s: FloatArray,
    count: SpeakerCount,
    params: ClusteringParams,
) -> IntArray:
    """(n, dim) embeddings of (n,) seconds of speech each -> (n,) speaker labels, honouring
    `count`.

    Hierarchical clustering cut at `distance_threshold` decides the number of speakers unless the
    caller fixed it; clusters with less than `min_cluster_speech_s` of speech then join their
    nearest large cluster, so a few odd embeddings never become a speaker of their own.
    """
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    unit = l2_normalize(embeddings)
    tree = linkage(unit, method=params.linkage, metric="cosine")
    labels = fcluster(tree, params.distance_threshold, criterion="distance").astype(np.int64) - 1
    speech = np.bincount(labels, weights=speech_s)
    large = np.flatnonzero(speech >= min(params.min_cluster_speech_s, float(speech.max())))
    wanted = min(count.clamp(len(large)), n)
    if wanted != len(large):
        labels = fcluster(tree, wanted, criterion="maxclust").astype(np.int64) - 1
        speech = np.bincount(labels, weights=speech_s)
        large = np.argsort(-speech, kind="stable")[:wanted]
    labels = _absorb_small_clusters(unit, labels, large)
    return relabel_by_first_appearance(labels)


def _absorb_small_clusters(unit: FloatArray, labels: IntArray, large: IntArray) -> IntArray:
    """Move members of clusters not in `large` to the large cluster with the closest centroid."""
    keep = np.isin(labels, large)
    if keep.all():
        return labels
    dense = np.searchsorted(np.sort(large), labels[keep])
    large_centroids = centroids(unit[keep], dense)
    nearest = np.argmax(unit[~keep] @ large_centroids.T, axis=1)
    out = labels.copy()
    out[~keep] = np.sort(large)[nearest]
    return out


def assign_distinct(embeddings: FloatArray, speaker_centroids: FloatArray) -> IntArray:
    """(m, dim), (k, dim) -> (m,): the closest centroid for each row, no two rows sharing one
    while m <= k (rows from one audio window are different people). Extra rows, if m > k,
    take their nearest centroid."""
    m = embeddings.shape[0]
    if m == 0 or speaker_centroids.shape[0] == 0:
        return np.zeros(m, dtype=np.int64)
    similarity = l2_normalize(embeddings) @ speaker_centroids.T
    out: IntArray = np.argmax(similarity, axis=1).astype(np.int64)
    rows, cols = linear_sum_assignment(-similarity)
    out[rows] = cols
    return out


@dataclass(frozen=True, slots=True)
class OnlineParams:
    new_speaker_distance: float = 0.3
    """A window farther than this (cosine) from every known speaker starts a new one..."""
    new_speaker_min_speech_s: float = 1.0
    """...if it holds at least this much speech (short windows are too noisy to trust)."""


class OnlineSpeakers:
    """Streaming speaker assignment: each new embedding joins its nearest speaker (updating that
    speaker's centroid) or, with enough evidence, becomes a new speaker, up to `max_speakers`.

    A label can be in use before its voice is known: words heard before any speaker had enough
    speech take "A", and a re-clustering may name a short stretch of speech as someone new.
    Such a label holds no centroid until the next new voice takes it, so that voice is named
    "A" (not "B" next to a phantom "A") and later re-clustering settles who said the words."""

    def __init__(self, params: OnlineParams, max_speakers: int | None = None) -> None:
        self.params = params
        self.max_speakers = max_speakers
        self._sums: list[FloatArray | None] = []
        """centroid sum of each label; None while the label's voice is not known"""

    @property
    def num_speakers(self) -> int:
        """Labels in use, known voices or not."""
        return len(self._sums)

    def reset(self, embeddings: FloatArray, speech_s: FloatArray, labels: IntArray) -> None:
        """Take the centroids of the speakers in a re-clustering of recent speech (`speech_s`
        behind each row); speakers it does not hear keep theirs. A new label backed by less
        speech than a new speaker needs is kept without a centroid. New labels must follow the
        known ones (`match_labels` with `first_fresh=num_speakers`)."""
        unit = l2_normalize(embeddings)
        for label in np.unique(labels).tolist():
            members = labels == label
            self._sums.extend([None] * (label + 1 - len(self._sums)))
            known = self._sums[label] is not None
            if known or speech_s[members].sum() >= self.params.new_speaker_min_speech_s:
                self._sums[label] = unit[members].sum(axis=0)

    def assign_window(self, embeddings: FloatArray, speech_s: FloatArray, learn: bool) -> IntArray:
        """(m, dim) embeddings of the local speakers of one window, (m,) seconds of speech
        behind each -> (m,) speaker indices, no two alike while speakers suffice. With `learn`,
        a row far from every speaker and backed by enough speech founds a new one, and rows
        backed by enough speech move their speaker's centroid."""
        unit = l2_normalize(embeddings)
        evidence = speech_s >= self.params.new_speaker_min_speech_s
        labels = self._distinct(unit)
        for row in range(len(unit)):
            if not learn or not evidence[row]:
                continue
            far = labels[row] < 0 or self._distance(unit[row], int(labels[row])) > (
                self.params.new_speaker_distance
            )
            if far and (slot := self._free_label()) is not None:
                self._sums.extend([None] * (slot + 1 - len(self._sums)))
                self._sums[slot] = unit[row].copy()
                labels[row] = slot
            elif (total := self._sums[labels[row]] if labels[row] >= 0 else None) is not None:
                self._sums[labels[row]] = total + unit[row]
        if not self._sums and labels.size:
            self._sums.append(None)  # the words are named "A" before any voice is known
        return np.maximum(labels, 0)

    def voices(self) -> dict[int, FloatArray]:
        """Unit centroid of each label whose voice is known."""
        return {
            label: l2_normalize(total[None, :])[0]
            for label, total in enumerate(self._sums)
            if total is not None
        }

    def _free_label(self) -> int | None:
        """The label a new voice takes: the first one in use without a voice, else the next
        one; None when `max_speakers` voices are known or every label allowed is taken."""
        cap = len(self._sums) + 1 if self.max_speakers is None else self.max_speakers
        if sum(total is not None for total in self._sums) >= cap:
            return None
        for label, total in enumerate(self._sums[:cap]):
            if total is None:
                return label
        return len(self._sums) if len(self._sums) < cap else None

    def _distinct(self, unit: FloatArray) -> IntArray:
        """Closest known speaker per row, no two rows sharing one (Hungarian); -1 with none."""
        known = [(label, total) for label, total in enumerate(self._sums) if total is not None]
        if not known:
            return np.full(len(unit), -1, dtype=np.int64)
        centroids = l2_normalize(np.stack([total for _, total in known]))
        labels = np.array([label for label, _ in known], dtype=np.int64)
        return labels[assign_distinct(unit, centroids)]

    def _distance(self, unit_row: FloatArray, speaker: int) -> float:
        total = self._sums[speaker]
        assert total is not None, "distances are to known voices only"
        centroid = l2_normalize(total[None, :])[0]
        return float(1.0 - centroid @ unit_row)


def keep_unless_surer(
    embeddings: FloatArray, old: IntArray, new: IntArray, margin: float
) -> IntArray:
    """`new` labels, except that a row keeps its `old` one unless it is nearer (cosine, by
    more than `margin`) to its new speaker's centroid than to its old speaker's, both as
    the new labelling has them: a re-clustering moves only what it is surer of, so a short,
    ambiguous stretch does not flip back and forth. A row whose old speaker has no members
    left in `new` moves."""
    unit = l2_normalize(embeddings)
    centres = {
        label: l2_normalize(unit[new == label].sum(axis=0)[None, :])[0]
        for label in np.unique(new).tolist()
    }
    out = new.copy()
    for row in np.flatnonzero(old != new).tolist():
        was = int(old[row])
        if (
            was in centres
            and unit[row] @ centres[int(new[row])] - unit[row] @ centres[was] < margin
        ):
            out[row] = was
    return out


def match_labels(new: IntArray, old: IntArray, first_fresh: int = 0) -> IntArray:
    """Rename `new` labels to agree as much as possible with `old` ones (same items), so a
    re-clustering keeps the names users have already seen; unmatched new labels get fresh
    numbers after the old ones and from `first_fresh` on (labels in use outside `old`)."""
    if new.size == 0:
        return new.copy()
    k_new, k_old = int(new.max()) + 1, int(old.max()) + 1 if old.size else 0
    overlap = np.zeros((k_new, max(k_old, 1)))
    np.add.at(overlap, (new, np.maximum(old, 0)), (old >= 0).astype(np.float64))
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0}
    fresh = max(k_old, first_fresh, max(mapping.values(), default=-1) + 1)
    for label in range(k_new):
        if label not in mapping:
            mapping[label] = fresh
            fresh += 1
    return np.array([mapping[int(x)] for x in new], dtype=np.int64)


def rejoin_absent_voices(
    embeddings: FloatArray,
    labels: IntArray,
    voices: dict[int, FloatArray],
    first_fresh: int,
    max_distance: float,
) -> IntArray:
    """`labels` of a re-clustering of recent speech, with each fresh label (`first_fresh`
    on) that lies within `max_distance` (cosine, centroid to centroid) of a known voice the
    labels do not hold renamed to that voice (one to one, nearest first): a voice heard
    only before the stretch re-clustered keeps its label, not a new one next to it.
    `voices`: unit centroid of each known label."""
    held = np.unique(labels).tolist()
    fresh = [label for label in held if label >= first_fresh]
    absent = [label for label in voices if label not in held]
    if not fresh or not absent:
        return labels.copy()
    unit = l2_normalize(embeddings)
    found = l2_normalize(np.stack([unit[labels == label].sum(axis=0) for label in fresh]))
    distance = 1.0 - found @ np.stack([voices[label] for label in absent]).T
    rows, cols = linear_sum_assignment(distance)
    out = labels.copy()
    for row, col in zip(rows, cols, strict=True):
        if distance[row, col] <= max_distance:
            out[labels == fresh[row]] = absent[col]
    return out
