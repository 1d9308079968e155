"""One speaker per sentence unless the evidence is strong; changes placed where the scores
put them."""

from __future__ import annotations

import numpy as np

from streamer.core.sentence_speakers import SentenceParams, keep_sentences_whole, sentences
from streamer.core.words import Word

PARAMS = SentenceParams()


def words(text: str) -> list[Word]:
    return [Word(t, 300 * i, 300 * i + 250, 0.9) for i, t in enumerate(text.split())]


def scores(*rows: float) -> np.ndarray:
    """Two speakers: each row is speaker A's share of the word."""
    return np.array([[a, 1 - a] for a in rows])


def test_sentences_end_at_their_punctuation() -> None:
    assert sentences(words("Hi there. Yes? fine")) == [range(0, 2), range(2, 3), range(3, 4)]


def test_a_sentence_final_word_that_bled_into_the_next_speaker_comes_back() -> None:
    said = words("is there much more in it? than he said yesterday.")
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])  # "it?" leaned to B: both were talking
    share = scores(0.9, 0.9, 0.8, 0.9, 0.7, 0.45, 0.1, 0.2, 0.1, 0.1)
    out = keep_sentences_whole(said, share, labels, PARAMS)
    assert out.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_a_short_reply_that_is_its_own_sentence_keeps_its_speaker() -> None:
    said = words("I think so. Yeah. And then we left.")
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 0])
    share = scores(0.9, 0.9, 0.9, 0.45, 0.9, 0.9, 0.9, 0.9)  # weak, but a sentence of its own
    assert keep_sentences_whole(said, share, labels, PARAMS).tolist() == labels.tolist()


def test_a_strong_change_mid_sentence_stays_and_moves_to_where_the_scores_put_it() -> None:
    said = words("so what I wanted was the new budget numbers")
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])  # the labels change a word late
    share = scores(0.9, 0.9, 0.9, 0.9, 0.2, 0.1, 0.1, 0.1, 0.1)
    out = keep_sentences_whole(said, share, labels, PARAMS)
    assert out.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_one_or_two_words_with_weak_scores_inside_a_sentence_take_its_speaker() -> None:
    said = words("we could move the launch to friday.")
    labels = np.array([0, 0, 1, 1, 0, 0, 0])
    share = scores(0.9, 0.8, 0.4, 0.45, 0.9, 0.9, 0.9)
    assert keep_sentences_whole(said, share, labels, PARAMS).tolist() == [0] * 7


def test_two_words_clearly_alone_inside_a_sentence_keep_their_speaker() -> None:
    said = words("we could move it oh sure to friday.")
    labels = np.array([0, 0, 0, 0, 1, 1, 0, 0])
    share = scores(0.9, 0.9, 0.9, 0.9, 0.05, 0.05, 0.9, 0.9)
    out = keep_sentences_whole(said, share, labels, PARAMS)
    assert out.tolist() == labels.tolist()


def test_words_without_a_speaker_are_left_alone() -> None:
    said = words("nobody here.")
    labels = np.array([-1, -1])
    out = keep_sentences_whole(said, np.zeros((2, 0)), labels, PARAMS)
    assert out.tolist() == [-1, -1]


def test_words_scored_near_evenly_are_no_evidence_for_a_change() -> None:
    """The meeting's "Is there much more in it than he said yesterday?": one speaker, the
    middle over another's voice. Six words lean to A, but five of them at 0.5-0.7 only: two
    decided words are not the three a change needs, so the sentence stays B's."""
    said = words("is there much more in it than he said yesterday?")
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    share = scores(1.0, 0.69, 0.51, 0.51, 0.5, 0.5, 0.45, 0.0, 0.0, 0.0)
    assert keep_sentences_whole(said, share, labels, PARAMS).tolist() == [1] * 10


def test_three_decided_words_keep_a_change_inside_a_sentence() -> None:
    said = words("is there much more in it than he said yesterday?")
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    share = scores(1.0, 0.9, 0.8, 0.51, 0.5, 0.5, 0.45, 0.0, 0.0, 0.0)
    out = keep_sentences_whole(said, share, labels, PARAMS)
    assert out[:3].tolist() == [0, 0, 0] and out[-4:].tolist() == [1] * 4
