"""Up to 35 speakers in one recording: no hidden cap below the API's limit in the core (counts,
offline and online clustering, stitching, naming, captions)."""

from string import ascii_uppercase

import numpy as np

from streamer.core import captions
from streamer.core.clustering import (
    ClusteringParams,
    OnlineParams,
    OnlineSpeakers,
    SpeakerCount,
    agglomerative,
)
from streamer.core.diarization import (
    DiarizationParams,
    FrameGrid,
    cluster_rows,
    concatenate,
    global_timeline,
)
from streamer.core.utterances import turns_from_words, utterances
from streamer.core.word_speakers import name_speakers, speaker_name, strongest, word_scores
from streamer.core.words import Transcript, Word
from tests.unit.windows import FRAME_SAMPLES, window

PEOPLE = 35
DIM = 192
"""CAM++'s embedding size"""
WINDOW_SAMPLES = 160_000
"""10 s at 16 kHz"""
GRID = FrameGrid(sample_rate=16_000, step_samples=FRAME_SAMPLES, receptive_field_samples=991)
LABELS = list(ascii_uppercase) + ["A" + letter for letter in ascii_uppercase[:9]]
"""A..Z, AA..AI"""


def voices(people: int, seed: int = 0) -> np.ndarray:
    """(people, DIM) random unit directions: nearly orthogonal, cosine distance about 1."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((people, DIM))
    return np.asarray(directions / np.linalg.norm(directions, axis=1, keepdims=True))


def heard(voice: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One embedding of `voice`: the voice and a little noise (cosine distance ~0.01)."""
    return voice + 0.01 * rng.standard_normal(DIM)


def clustered(people: int, per_person: int, count: SpeakerCount) -> np.ndarray:
    rng = np.random.default_rng(1)
    embeddings = np.stack([heard(v, rng) for v in voices(people) for _ in range(per_person)])
    return agglomerative(embeddings, np.full(len(embeddings), 2.0), count, ClusteringParams())


def test_35_labels_are_a_to_z_then_aa_to_ai() -> None:
    assert [speaker_name(i) for i in range(PEOPLE)] == LABELS
    assert speaker_name(26 * 27) == "AAA"  # past "ZZ": no cap on the letters either


def test_speaker_count_up_to_35() -> None:
    assert SpeakerCount(maximum=PEOPLE).clamp(40) == PEOPLE
    assert SpeakerCount(maximum=PEOPLE).clamp(20) == 20
    assert SpeakerCount(expected=PEOPLE).clamp(3) == PEOPLE
    assert SpeakerCount(minimum=PEOPLE, maximum=PEOPLE).clamp(2) == PEOPLE


def test_clustering_35_voices_finds_35_with_and_without_a_count() -> None:
    truth = np.repeat(np.arange(PEOPLE), 3)
    for count in (SpeakerCount(), SpeakerCount(expected=PEOPLE), SpeakerCount(maximum=PEOPLE)):
        labels = clustered(PEOPLE, 3, count)
        assert len(np.unique(labels)) == PEOPLE
        assert labels.tolist() == truth.tolist()  # in first-appearance order, one per voice


def test_maximum_35_caps_40_voices() -> None:
    assert len(np.unique(clustered(40, 2, SpeakerCount(maximum=PEOPLE)))) == PEOPLE
    assert len(np.unique(clustered(40, 2, SpeakerCount(expected=PEOPLE)))) == PEOPLE
    assert len(np.unique(clustered(40, 2, SpeakerCount()))) == 40


def test_a_35_speaker_file_names_35_speakers_on_its_words() -> None:
    """The whole file's pure half: 70 windows, each person talking alone in two of them (the
    second round in another order), clustered with `speakers_expected` 35, stitched, and one
    word per window named."""
    rng = np.random.default_rng(2)
    people = voices(PEOPLE)
    order = list(range(PEOPLE)) + [(3 * k) % PEOPLE for k in range(PEOPLE)]
    speech = [(16_000, 144_000)]  # 1-9 s of each window
    local = concatenate(
        [window(WINDOW_SAMPLES, [(heard(people[p], rng), speech)]) for p in order],
        [k * WINDOW_SAMPLES for k in range(len(order))],
    )
    for count in (SpeakerCount(expected=PEOPLE), SpeakerCount()):
        rows, found = cluster_rows(local, count, ClusteringParams(), 1.0)
        assert found == PEOPLE
        timeline, turns = global_timeline(local, rows, found, GRID, DiarizationParams())
        assert len({turn.speaker for turn in turns}) == PEOPLE
        words = [
            Word(f"w{p}", k * 10_000 + 4_000, k * 10_000 + 5_000, 0.9) for k, p in enumerate(order)
        ]
        named = name_speakers(words, strongest(word_scores(words, timeline)))
        by_person: dict[int, set[str | None]] = {}
        for person, word in zip(order, named, strict=True):
            by_person.setdefault(person, set()).add(word.speaker)
        assert all(len(names) == 1 for names in by_person.values())  # both windows agree
        assert [w.speaker for w in named[:PEOPLE]] == LABELS


def test_35_speakers_in_utterances_captions_and_scored_turns() -> None:
    words = tuple(
        Word(f"word{i}", 1000 * i, 1000 * i + 500, 0.9, speaker_name(i)) for i in range(PEOPLE)
    )
    transcript = Transcript(words=words, utterances=utterances(words), audio_duration_s=36.0)
    assert [u.speaker for u in transcript.utterances] == LABELS
    assert captions.plain_text(transcript).splitlines()[-1] == "AI: word34"
    assert "AI: word34" in captions.srt(transcript)
    assert len({t.speaker for t in turns_from_words(words)}) == PEOPLE


def test_a_live_session_founds_up_to_35_voices() -> None:
    rng = np.random.default_rng(3)
    online = OnlineSpeakers(OnlineParams(), max_speakers=PEOPLE)
    people = voices(40)
    labels = [
        int(online.assign_window(heard(v, rng)[None, :], np.array([2.0]), learn=True)[0])
        for v in people
    ]
    assert labels[:PEOPLE] == list(range(PEOPLE))
    assert online.num_speakers == PEOPLE  # the five past the cap join a known voice
    assert all(label < PEOPLE for label in labels[PEOPLE:])
