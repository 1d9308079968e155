import numpy as np
import pytest

from streamer.core.word_speakers import (
    SmoothingParams,
    SpeakerTimeline,
    name_speakers,
    smooth_islands,
    speaker_name,
    strongest,
    word_scores,
)
from streamer.core.words import Word


def word(text: str, start_ms: int, end_ms: int) -> Word:
    return Word(text=text, start_ms=start_ms, end_ms=end_ms, confidence=0.9)


@pytest.mark.parametrize(
    ("index", "name"), [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ")]
)
def test_speaker_names(index: int, name: str) -> None:
    assert speaker_name(index) == name


def test_word_takes_speaker_with_most_score_in_its_span() -> None:
    # 10 frames of 0.1 s: speaker 0 talks 0.0-0.5 s, speaker 1 talks 0.4-1.0 s
    scores = np.zeros((10, 2))
    scores[0:5, 0] = 1.0
    scores[4:10, 1] = 1.0
    timeline = SpeakerTimeline(scores=scores, step_s=0.1)
    words = [word("a", 0, 350), word("b", 420, 900), word("c", 430, 580)]
    assert strongest(word_scores(words, timeline)).tolist() == [0, 1, 1]


def test_word_in_a_gap_takes_nearest_active_speaker() -> None:
    scores = np.zeros((20, 2))
    scores[0:3, 0] = 1.0
    scores[15:20, 1] = 1.0
    timeline = SpeakerTimeline(scores=scores, step_s=0.1)
    assert strongest(word_scores([word("x", 1200, 1300)], timeline)).tolist() == [1]
    assert strongest(word_scores([word("y", 400, 500)], timeline)).tolist() == [0]


def test_no_speakers_gives_minus_one() -> None:
    timeline = SpeakerTimeline(scores=np.zeros((5, 0)), step_s=0.1)
    assert strongest(word_scores([word("x", 0, 100)], timeline)).tolist() == [-1]


def test_island_inside_a_turn_is_smoothed_but_spaced_backchannel_kept() -> None:
    params = SmoothingParams(island_max_words=1, island_max_gap_s=0.25)
    glued = [word("so", 0, 200), word("we", 250, 400), word("go", 450, 600)]
    assert smooth_islands(glued, np.array([0, 1, 0]), params).tolist() == [0, 0, 0]
    spaced = [word("so", 0, 200), word("yeah", 900, 1100), word("go", 1800, 2000)]
    assert smooth_islands(spaced, np.array([0, 1, 0]), params).tolist() == [0, 1, 0]
    two_word_run = [word(t, i * 300, i * 300 + 200) for i, t in enumerate("abcd")]
    assert smooth_islands(two_word_run, np.array([0, 1, 1, 0]), params).tolist() == [0, 1, 1, 0]


def test_names_follow_first_appearance() -> None:
    words = [word(t, i * 100, i * 100 + 50) for i, t in enumerate("abcd")]
    named = name_speakers(words, np.array([3, 3, 1, 3]))
    assert [w.speaker for w in named] == ["A", "A", "B", "A"]
