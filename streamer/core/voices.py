"""Known voices (pure numpy): voiceprints of enrolled people, and which found speaker is who.

A voiceprint is the unit mean of the L2-normalised CAM++ embeddings of short clips of one
person's speech. A found speaker (a file's global speaker, a stream's label) takes an enrolled
person's name when its centroid is close enough to that person's print: one person per
speaker and one speaker per person, the closest pair first, and only above `threshold`
(measured on the dev set: `load_tests/known_voices.py`), so a voice nobody enrolled keeps
its letter.

Shapes: `k` found speakers, `n` embedding rows, `dim` the embedding size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamer.core.arrays import FloatArray, IntArray
from streamer.core.clustering import l2_normalize
from streamer.core.words import Word


@dataclass(frozen=True, slots=True, eq=False)
class KnownVoice:
    """An enrolled person: the name their words take, and their voiceprint (compared by
    identity: an array has no single truth value)."""

    name: str
    embedding: FloatArray
    """(dim,) unit length"""


@dataclass(frozen=True, slots=True)
class VoiceParams:
    threshold: float = 0.66
    """Cosine similarity a found speaker's centroid needs to an enrolled print to take its
    name (load_tests/known_voices.py on the dev set)."""
    clip_s: float = 6.0
    """An enrolment's speech is embedded in clips of this length; the print is their mean
    (one embedding of a long stretch would let one odd moment weigh as much as the rest)."""
    min_clip_s: float = 1.5
    """A shorter remainder joins the clip before it."""
    min_enrol_speech_s: float = 3.0
    """Speech an enrolment needs (of the 5-60 s of audio it may hold)."""
    other_voice_s: float = 2.0
    other_voice_share: float = 0.15
    """An enrolment in which the diarization finds a second voice holding this much speech
    and this share of it is refused: it is not one person's (on the dev set, every speaker's
    own speech gave one voice, and every stretch of conversation tried a second one of at
    least 2.8 s and 19 %)."""
    min_row_speech_s: float = 1.0
    """Embedding rows of less speech do not shape a found speaker's centroid (while it has
    longer ones): short ones are noisy."""
    min_label_speech_s: float = 1.5
    """A live label is named only once this much of its speech has been embedded."""


MAX_NAME_CHARS = 100
_LETTER_LABEL = re.compile(r"^[A-Z]{1,3}$")


def voice_name(name: str) -> str:
    """`name` as words will carry it (trimmed); `ValueError` saying why it cannot be one: empty,
    too long, control characters, or shaped like the letters unknown voices get ("A", "AB")."""
    name = name.strip()
    if not name:
        raise ValueError("a voice needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a voice's name holds at most {MAX_NAME_CHARS} characters")
    if any(not character.isprintable() for character in name):
        raise ValueError("a voice's name may not hold control characters")
    if _LETTER_LABEL.match(name):
        raise ValueError(f"{name!r} is how unknown voices are labelled: give a voice a name")
    return name


def clip_bounds(num_samples: int, clip_samples: int, min_samples: int) -> list[tuple[int, int]]:
    """[start, end) bounds cutting `num_samples` of speech into clips of `clip_samples`; a
    remainder shorter than `min_samples` joins the last clip (alone, it is one clip when at
    least `min_samples` long, else none)."""
    if num_samples < min_samples:
        return []
    bounds = [(s, min(s + clip_samples, num_samples)) for s in range(0, num_samples, clip_samples)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_samples:
        bounds[-2:] = [(bounds[-2][0], num_samples)]
    return bounds


def voiceprint(embeddings: FloatArray) -> FloatArray:
    """(n, dim) embeddings of clips of one person -> (dim,) unit mean of the unit rows."""
    if embeddings.shape[0] == 0:
        raise ValueError("a voiceprint needs at least one embedding")
    return l2_normalize(l2_normalize(embeddings).sum(axis=0))


def speaker_centroids(
    embeddings: FloatArray,
    speech_s: FloatArray,
    rows: IntArray,
    num_speakers: int,
    min_row_speech_s: float,
) -> FloatArray:
    """(n, dim) embeddings, (n,) seconds of speech behind each, (n,) speaker of each ->
    (num_speakers, dim): each speaker's unit mean of its unit rows, weighted by their speech;
    rows under `min_row_speech_s` count only for a speaker with no longer one. A speaker with
    no rows gets a zero row (similar to no one)."""
    out = np.zeros((num_speakers, embeddings.shape[1]), dtype=np.float64)
    if not len(rows):
        return out
    unit = l2_normalize(embeddings)
    for speaker in range(num_speakers):
        members = rows == speaker
        long = members & (speech_s >= min_row_speech_s)
        use = long if long.any() else members
        if use.any():
            out[speaker] = (unit[use] * speech_s[use, None]).sum(axis=0)
    return l2_normalize(out)


def match_voices(
    centroids: FloatArray, voices: Sequence[KnownVoice], threshold: float
) -> dict[int, str]:
    """(k, dim) centroids of found speakers -> {found speaker: name}. Best pair first: the
    most similar (speaker, name) above `threshold` is fixed, both leave, and so on, so no name
    goes to two speakers and no speaker takes two names. Prints sharing a name are one person
    (a speaker's similarity to it: the best over its prints)."""
    names = sorted({voice.name for voice in voices})
    if not names or centroids.shape[0] == 0:
        return {}
    prints = l2_normalize(np.stack([voice.embedding for voice in voices]))
    similarity = l2_normalize(centroids) @ prints.T  # (k, number of prints)
    by_name = np.full((centroids.shape[0], len(names)), -np.inf)
    for column, voice in enumerate(voices):
        index = names.index(voice.name)
        by_name[:, index] = np.maximum(by_name[:, index], similarity[:, column])
    found: dict[int, str] = {}
    while True:
        speaker, name = np.unravel_index(int(np.argmax(by_name)), by_name.shape)
        if by_name[speaker, name] < threshold:
            return found
        found[int(speaker)] = names[int(name)]
        by_name[speaker, :] = -np.inf
        by_name[:, name] = -np.inf


def with_names(
    words: Sequence[Word], labels: IntArray, names: Mapping[int, str]
) -> tuple[Word, ...]:
    """Words already named by letter (`name_speakers`), with the speakers in `names` (by
    label) named instead; the others keep their letters."""
    return tuple(
        word.with_speaker(names[label]) if label in names else word
        for word, label in zip(words, labels.tolist(), strict=True)
    )


@dataclass(slots=True)
class LabelVoices:
    """Which labels of a live session are enrolled people: each label's centroid is kept from
    the embeddings it was given, and matched to the prints again whenever it moves."""

    voices: tuple[KnownVoice, ...]
    params: VoiceParams = field(default_factory=VoiceParams)
    names: dict[int, str] = field(default_factory=dict)
    """label -> name, for the labels that match a print"""
    _sums: dict[int, FloatArray] = field(default_factory=dict)
    _speech: dict[int, float] = field(default_factory=dict)

    def learn(self, embeddings: FloatArray, speech_s: FloatArray, labels: IntArray) -> None:
        """Add rows (of (n, dim) embeddings, (n,) seconds) to the centroids of their labels."""
        if self.voices and len(labels):
            self._add(embeddings, speech_s, labels)
            self._match()

    def reset(self, embeddings: FloatArray, speech_s: FloatArray, labels: IntArray) -> None:
        """A re-clustering relabelled these rows: the labels it holds take their centroids
        from it alone; labels it does not hold keep theirs."""
        if self.voices and len(labels):
            for label in np.unique(labels).tolist():
                self._sums.pop(label, None)
                self._speech.pop(label, None)
            self._add(embeddings, speech_s, labels)
            self._match()

    def name(self, label: int, letter: str) -> str:
        """What a word of `label` is called: the person's name, or `letter`."""
        return self.names.get(label, letter)

    def _add(self, embeddings: FloatArray, speech_s: FloatArray, labels: IntArray) -> None:
        keep = speech_s >= self.params.min_row_speech_s
        unit = l2_normalize(embeddings) * speech_s[:, None]
        for label in np.unique(labels[keep]).tolist():
            members = keep & (labels == label)
            total = self._sums.get(label)
            summed = unit[members].sum(axis=0)
            self._sums[label] = summed if total is None else total + summed
            self._speech[label] = self._speech.get(label, 0.0) + float(speech_s[members].sum())

    def _match(self) -> None:
        ready = [
            label
            for label, seconds in self._speech.items()
            if seconds >= self.params.min_label_speech_s
        ]
        if not ready:
            self.names = {}
            return
        centroids = l2_normalize(np.stack([self._sums[label] for label in ready]))
        matched = match_voices(centroids, self.voices, self.params.threshold)
        self.names = {ready[row]: name for row, name in matched.items()}
