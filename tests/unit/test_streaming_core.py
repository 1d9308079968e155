"""Pure streaming pieces: ring buffer, stable prefix, turn detection, online speakers."""

from dataclasses import replace

import numpy as np
import pytest

from streamer.core.clustering import OnlineParams, OnlineSpeakers, match_labels
from streamer.core.ringbuffer import AudioRing
from streamer.streaming.agreement import StablePrefix, agreed_prefix_length
from streamer.streaming.turns import EndReason, TurnDetector, TurnEnded, TurnParams, TurnStarted


def test_ring_keeps_absolute_indices_and_bounded_memory() -> None:
    ring = AudioRing(capacity=10)
    ring.append(np.arange(7, dtype=np.float32))
    ring.append(np.arange(7, 15, dtype=np.float32))
    assert (ring.start, ring.end) == (5, 15)
    assert ring.read(5, 15).tolist() == list(range(5, 15))
    with pytest.raises(IndexError):
        ring.read(4, 6)
    ring.append(np.arange(15, 40, dtype=np.float32))  # more than the capacity at once
    assert ring.read(30, 40).tolist() == list(range(30, 40))


def test_agreement_commits_what_two_hypotheses_share() -> None:
    assert agreed_prefix_length(["Hello,", "world"], ["hello", "world.", "again"]) == 2
    prefix = StablePrefix()
    assert prefix.update(["so", "we"]) == 0
    assert prefix.update(["so", "we", "go"]) == 2
    assert prefix.update(["so", "he", "goes"]) == 2  # never shrinks while the turn is open


def detector(**overrides: float) -> TurnDetector:
    params = TurnParams(min_turn_silence_ms=100, max_turn_silence_ms=300, min_speech_ms=20)
    return TurnDetector(replace(params, **overrides), frame_ms=10)


def test_turn_ends_after_max_silence_without_a_sentence_end() -> None:
    turns = detector()
    events = turns.feed([0.0] * 5 + [0.9] * 20 + [0.0] * 29)
    assert events == [TurnStarted(5)]
    assert turns.feed([0.0]) == [TurnEnded(5, 25, EndReason.SILENCE, 0.0)]


def test_turn_ends_sooner_when_the_sentence_is_complete() -> None:
    turns = detector()
    turns.feed([0.9] * 10)
    turns.end_of_turn_confidence = 0.9
    assert turns.feed([0.0] * 10) == [TurnEnded(0, 10, EndReason.SILENCE, 0.9)]


def test_blip_opens_no_turn_and_long_turn_is_split() -> None:
    turns = detector(max_turn_s=0.5)
    assert turns.feed([0.9, 0.0, 0.0]) == []
    events = turns.feed([0.9] * 60)
    assert events[0] == TurnStarted(3)
    assert TurnEnded(3, 53, EndReason.MAX_LENGTH, 0.0) in events
    assert turns.force_end() == TurnEnded(53, 63, EndReason.FORCED, 0.0)  # speech went on
    assert turns.force_end() is None


def test_online_speakers_need_evidence_keep_window_rows_apart_and_respect_the_cap() -> None:
    speakers = OnlineSpeakers(OnlineParams(new_speaker_distance=0.3, new_speaker_min_speech_s=1.0))
    a, b = np.eye(4)[0], np.eye(4)[1]

    def window(*rows: tuple[np.ndarray, float], learn: bool = True) -> list[int]:
        embeddings = np.stack([r[0] for r in rows])
        speech = np.array([r[1] for r in rows])
        return speakers.assign_window(embeddings, speech, learn).tolist()

    assert window((a, 1.5)) == [0]
    assert window((b, 0.5)) == [0]  # too little speech to found a new speaker
    assert speakers.num_speakers == 1
    assert window((b, 1.5)) == [1]
    assert window((a + 0.1 * b, 0.5), (a, 0.5), learn=False) in ([0, 1], [1, 0])  # distinct
    assert window((b + 0.1 * a, 3.0), learn=False) == [1]
    capped = OnlineSpeakers(OnlineParams(), max_speakers=1)
    capped.assign_window(a[None, :], np.array([2.0]), learn=True)
    assert capped.assign_window(b[None, :], np.array([2.0]), learn=True).tolist() == [0]


def test_match_labels_keeps_names_users_have_seen() -> None:
    old = np.array([0, 0, 1, 1, 1])
    assert match_labels(np.array([1, 1, 0, 0, 0]), old).tolist() == [0, 0, 1, 1, 1]
    assert match_labels(np.array([1, 1, 0, 0, 2]), old).tolist() == [0, 0, 1, 1, 2]


def test_recent_reclustering_keeps_speakers_it_did_not_hear() -> None:
    # speakers 0..2 are known; a re-clustering of recent turns hears only 0 and a newcomer
    assert match_labels(np.array([0, 0, 1]), np.array([0, 0, 0]), first_fresh=3).tolist() == [
        0,
        0,
        3,
    ]
    speakers = OnlineSpeakers(OnlineParams(), None)
    eye = np.eye(4)
    speakers.assign_window(eye[:3], np.full(3, 5.0), learn=True)
    assert speakers.num_speakers == 3
    speakers.reset(np.stack([eye[0], eye[3]]), np.array([5.0, 5.0]), np.array([0, 3]))
    assert speakers.num_speakers == 4
    # speaker 2 was not in the re-clustering and is still recognised
    assert speakers.assign_window(eye[2:3], np.array([5.0]), learn=False).tolist() == [2]


def test_a_label_used_before_its_voice_is_known_goes_to_the_next_new_voice() -> None:
    speakers = OnlineSpeakers(OnlineParams(new_speaker_min_speech_s=1.0), None)
    eye = np.eye(4)
    # a 0.5 s opening: too little to know the voice, but its words are named "A"
    assert speakers.assign_window(eye[:1], np.array([0.5]), learn=True).tolist() == [0]
    speakers.reset(eye[:1], np.array([0.5]), np.array([0]))  # re-clustering keeps it as 0
    assert speakers.num_speakers == 1
    # two voices with enough speech: the first takes "A", the second is "B" (no phantom)
    assert speakers.assign_window(eye[1:3], np.array([3.0, 2.0]), learn=True).tolist() == [0, 1]
    assert speakers.num_speakers == 2
    assert speakers.assign_window(eye[2:3], np.array([0.5]), learn=False).tolist() == [1]
    # a re-clustering that names a short stretch as someone new keeps that label voiceless
    speakers.reset(eye[3:4], np.array([0.4]), np.array([2]))
    assert speakers.num_speakers == 3
    assert speakers.assign_window(eye[3:4], np.array([0.4]), learn=False).tolist() in ([0], [1])
    assert speakers.assign_window(eye[3:4], np.array([2.0]), learn=True).tolist() == [2]


def test_labels_without_a_voice_never_lift_the_speaker_cap() -> None:
    eye = np.eye(4)
    speakers = OnlineSpeakers(OnlineParams(new_speaker_min_speech_s=1.0), max_speakers=2)
    speakers.assign_window(eye[:2], np.array([3.0, 3.0]), learn=True)
    speakers.reset(eye[2:3], np.array([0.5]), np.array([2]))  # a voiceless label past the cap
    assert speakers.assign_window(eye[3:4], np.array([3.0]), learn=True).tolist() in ([0], [1])
    # a voiceless label in front of a known voice: rows map back to the real labels
    ahead = OnlineSpeakers(OnlineParams(new_speaker_min_speech_s=1.0), max_speakers=2)
    ahead.reset(eye[:2], np.array([0.5, 3.0]), np.array([0, 1]))
    assert ahead.assign_window(eye[1:2], np.array([0.5]), learn=False).tolist() == [1]
    assert ahead.assign_window(eye[2:3], np.array([3.0]), learn=True).tolist() == [0]
    assert ahead.assign_window(eye[3:4], np.array([3.0]), learn=True).tolist() in ([0], [1])
