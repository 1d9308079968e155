"""Known voices, the pure half: names, clips, voiceprints, found speakers' centroids, the
one-to-one naming above a threshold, and a live session's labels taking names."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from streamer.core.diarization import FrameGrid
from streamer.core.voices import (
    KnownVoice,
    LabelVoices,
    VoiceParams,
    clip_bounds,
    match_voices,
    speaker_centroids,
    voice_name,
    voiceprint,
    with_names,
)
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.speakers import SessionSpeakers
from tests.unit.windows import window


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


ALICE, BOB, CAROL = np.eye(4)[0], np.eye(4)[1], np.eye(4)[2]
VOICES = (KnownVoice("Alice", ALICE), KnownVoice("Bob", BOB))


# ---- names ------------------------------------------------------------------------------------


def test_a_name_is_trimmed_and_checked() -> None:
    assert voice_name("  Ada Lovelace ") == "Ada Lovelace"
    assert (
        voice_name("a") == "a" and voice_name("Dr. B") == "Dr. B" and voice_name("ABCD") == "ABCD"
    )
    for bad in ("", "   ", "x" * 101, "tab\there", "A", "B", "AB", "ZZZ"):
        with pytest.raises(ValueError):
            voice_name(bad)


# ---- clips and prints -------------------------------------------------------------------------


def test_speech_is_cut_into_clips_and_a_short_tail_joins_the_last() -> None:
    assert clip_bounds(10, 3, 2) == [(0, 3), (3, 6), (6, 10)]  # a 1-sample tail joins
    assert clip_bounds(8, 3, 2) == [(0, 3), (3, 6), (6, 8)]  # a 2-sample tail stands
    assert clip_bounds(3, 3, 2) == [(0, 3)]
    assert clip_bounds(2, 3, 2) == [(0, 2)]
    assert clip_bounds(1, 3, 2) == []


def test_a_voiceprint_is_the_unit_mean_of_unit_clips() -> None:
    # the long row weighs no more than the short one: each clip is normalised first
    embeddings = np.array([[10.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.allclose(voiceprint(embeddings), unit(1, 1, 0))
    assert np.isclose(np.linalg.norm(voiceprint(np.array([[3.0, 4.0]]))), 1.0)
    with pytest.raises(ValueError):
        voiceprint(np.zeros((0, 3)))


# ---- found speakers ---------------------------------------------------------------------------


def test_centroids_weigh_rows_by_speech_and_leave_out_short_ones() -> None:
    embeddings = np.stack([ALICE * 5, BOB, CAROL, CAROL])
    speech = np.array([3.0, 1.0, 0.5, 0.4])
    rows = np.array([0, 0, 1, 1])
    found = speaker_centroids(embeddings, speech, rows, 3, min_row_speech_s=1.0)
    assert np.allclose(found[0], unit(3, 1, 0, 0))  # unit rows, weighted 3 : 1
    assert np.allclose(found[1], CAROL)  # only short rows: they count
    assert np.allclose(found[2], 0.0)  # no rows: similar to no one
    assert speaker_centroids(
        np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), 2, 1.0
    ).shape == (
        2,
        4,
    )


def test_each_name_goes_to_its_closest_speaker_above_the_threshold() -> None:
    found = np.stack([unit(0.2, 1, 0, 0), unit(1, 0.1, 0, 0), CAROL])
    assert match_voices(found, VOICES, 0.5) == {0: "Bob", 1: "Alice"}
    assert match_voices(found, VOICES, 0.99) == {1: "Alice"}  # Bob's best is 0.98
    assert match_voices(found, (), 0.5) == {}
    assert match_voices(np.zeros((0, 4)), VOICES, 0.5) == {}


def test_naming_is_one_to_one_best_pair_first() -> None:
    # both found speakers sound like Alice; the closer one is her, the other is not named
    # even though it is above the threshold
    found = np.stack([unit(1, 0.5, 0, 0), unit(1, 0.1, 0, 0)])
    assert match_voices(found, VOICES[:1], 0.5) == {1: "Alice"}
    # a speaker whose best name is taken may still take its next best one above the threshold
    assert match_voices(found, VOICES, 0.4) == {1: "Alice", 0: "Bob"}
    # one speaker, two people: only the closer name
    assert match_voices(unit(1, 0.9, 0, 0)[None, :], VOICES, 0.5) == {0: "Alice"}


def test_prints_of_one_name_are_one_person() -> None:
    twice = (KnownVoice("Alice", ALICE), KnownVoice("Alice", unit(0, 0, 1, 1)))
    found = np.stack([ALICE, unit(0, 0, 1, 0.9)])  # each close to one of her prints
    assert match_voices(found, twice, 0.5) == {0: "Alice"}  # one speaker: the closest


def test_named_speakers_take_the_name_and_the_others_keep_their_letters() -> None:
    words = [
        Word("hi", 0, 100, 0.9, "A"),
        Word("yo", 200, 300, 0.9, "B"),
        Word("ok", 400, 500, 0.9, "A"),
    ]
    named = with_names(words, np.array([3, 0, 3]), {0: "Alice"})
    assert [w.speaker for w in named] == ["A", "Alice", "A"]
    assert [w.text for w in named] == ["hi", "yo", "ok"]


# ---- live labels ------------------------------------------------------------------------------


def test_a_label_is_named_once_enough_of_its_speech_matches() -> None:
    labels = LabelVoices(VOICES, VoiceParams(threshold=0.6, min_label_speech_s=1.5))
    labels.learn(np.stack([ALICE]), np.array([1.2]), np.array([0]))
    assert labels.name(0, "A") == "A"  # 1.2 s: not yet
    labels.learn(np.stack([unit(1, 0.2, 0, 0), CAROL]), np.array([1.0, 3.0]), np.array([0, 1]))
    assert labels.name(0, "A") == "Alice" and labels.name(1, "B") == "B"
    labels.learn(np.stack([ALICE]), np.array([0.5]), np.array([1]))  # too short to count
    assert labels.name(1, "B") == "B"


def test_a_reclustering_moves_a_name_to_the_label_it_now_fits() -> None:
    labels = LabelVoices(VOICES, VoiceParams(threshold=0.6))
    labels.learn(np.stack([ALICE, CAROL]), np.array([2.0, 2.0]), np.array([0, 1]))
    assert labels.names == {0: "Alice"}
    labels.reset(np.stack([CAROL, ALICE]), np.array([2.0, 2.0]), np.array([0, 1]))
    assert labels.names == {1: "Alice"}


def test_without_known_voices_labels_keep_letters() -> None:
    labels = LabelVoices(())
    labels.learn(np.stack([ALICE]), np.array([5.0]), np.array([0]))
    assert labels.name(0, "A") == "A" and labels.names == {}


def test_a_session_names_the_words_of_an_enrolled_voice() -> None:
    grid = FrameGrid(sample_rate=16000, step_samples=270, receptive_field_samples=991)
    config = replace(StreamConfig(sample_rate=16000), known_voices=(KnownVoice("Bob", BOB),))
    speakers = SessionSpeakers(config, grid)
    words = [Word("one", 200, 700, 0.9), Word("two", 900, 1600, 0.9)]
    two_s = 32000
    first = speakers.piece(words, window(two_s, [(CAROL, [(0, two_s)])]), 0)
    assert [w.speaker for w in first.words] == ["A", "A"]  # nobody enrolled
    second = speakers.piece(words, window(two_s, [(BOB, [(0, two_s)])]), 0)
    assert [w.speaker for w in second.words] == ["Bob", "Bob"]  # label B is Bob
    assert [w.speaker for w in speakers.name_open(words, None, 0)] == ["Bob", "Bob"]
