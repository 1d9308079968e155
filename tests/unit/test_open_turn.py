"""OpenTurn on its own: which words of the open turn are final (closed pieces, then the prefix
two decodes in a row agree on), the end-of-turn hint its words give, and the turn's end."""

from __future__ import annotations

import numpy as np

from streamer.core.words import Word
from streamer.streaming.open_turn import CONFIDENT, UNSURE, OpenTurn
from streamer.streaming.speakers import Piece


def words(*texts: str) -> list[Word]:
    return [Word(text, 100 * i, 100 * i + 90, 0.9, "A") for i, text in enumerate(texts)]


def piece(*texts: str) -> Piece:
    return Piece(tuple(words(*texts)), None, 0, np.zeros(0, dtype=np.int64))


def test_the_agreed_prefix_of_the_open_piece_is_final() -> None:
    turn = OpenTurn()
    first = turn.update(3, words("Hello", "there"))
    assert first.turn_order == 3 and first.words == tuple(words("Hello", "there"))
    assert first.final_count == 0 and not first.end_of_turn and not first.formatted
    assert turn.update(3, words("Hello", "there", "friend")).final_count == 2
    # case and punctuation do not make words differ
    assert turn.update(3, words("hello", "there,", "friend", "of")).final_count == 3


def test_final_count_never_shrinks_while_the_turn_is_open() -> None:
    turn = OpenTurn()
    counts = [
        turn.update(0, words(*texts)).final_count
        for texts in (
            ("so", "we"),
            ("so", "we", "go"),
            ("so", "we", "run"),  # they agree on two words only: still the two
            ("so", "we", "run", "home"),
            ("so", "we", "walk", "home"),  # agree on two again: the three stay final
        )
    ]
    assert counts == [0, 2, 2, 3, 3]


def test_closed_pieces_are_final_and_the_next_piece_starts_afresh() -> None:
    turn = OpenTurn()
    turn.update(0, words("one", "two"))
    turn.update(0, words("one", "two"))
    turn.close_piece(piece("one", "two."))
    update = turn.update(0, [])  # what a closing decode sends
    assert update.words == tuple(words("one", "two.")) and update.final_count == 2
    # the piece's words were agreed on, but that agreement is not the new piece's
    update = turn.update(0, words("one", "two"))
    assert update.words == (*words("one", "two."), *words("one", "two"))
    assert update.final_count == 2
    assert turn.update(0, words("one", "two", "three")).final_count == 4
    assert update.word_is_final == (True, True, False, False)
    # closing resets the agreement even without a decode in between
    turn = OpenTurn()
    turn.update(0, words("one", "two"))
    turn.update(0, words("one", "two"))
    turn.close_piece(piece("one", "two."))
    assert turn.update(0, words("one", "two")).final_count == 2


def test_words_that_end_a_sentence_make_the_end_of_turn_likely() -> None:
    turn = OpenTurn()
    assert turn.update(0, []).end_of_turn_confidence == UNSURE  # no words
    assert turn.update(0, words("Hello")).end_of_turn_confidence == UNSURE
    for mark in (".", "?", "!"):
        assert turn.update(0, words("Hello" + mark)).end_of_turn_confidence == CONFIDENT
    assert turn.update(0, words("Dr.", "Smith")).end_of_turn_confidence == UNSURE  # the last
    turn.close_piece(piece("Done."))
    assert turn.update(0, []).end_of_turn_confidence == CONFIDENT  # a closed piece's words
    assert turn.update(0, words("and")).end_of_turn_confidence == UNSURE
    assert CONFIDENT > UNSURE


def test_has_words_follows_the_latest_decode_and_closed_pieces() -> None:
    turn = OpenTurn()
    assert not turn.has_words
    turn.update(0, [])
    assert not turn.has_words
    turn.update(0, words("hi"))
    assert turn.has_words
    turn.update(0, [])
    assert not turn.has_words
    turn.close_piece(piece("hi"))
    assert turn.has_words


def test_end_returns_the_closed_pieces_and_the_next_turn_starts_empty() -> None:
    turn = OpenTurn()
    first, second = piece("one."), piece("two.")
    turn.close_piece(first)
    turn.close_piece(second)
    turn.update(0, words("three"))
    turn.update(0, words("three"))
    pieces = turn.end()
    assert len(pieces) == 2 and pieces[0] is first and pieces[1] is second
    assert not turn.has_words and turn.closed == []
    update = turn.update(1, words("three"))  # what the last turn agreed on is not carried
    assert update.turn_order == 1 and update.words == tuple(words("three"))
    assert update.final_count == 0
    assert turn.end() == []
