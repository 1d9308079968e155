"""The words of the open turn (pure): those of its closed pieces are final, and so is the
prefix of its open piece that two decodes in a row agree on; the words so far also hint
whether the turn is over (a finished sentence may end it after the shorter silence)."""

from __future__ import annotations

from streamer.core.words import SENTENCE_END, Word
from streamer.streaming.agreement import StablePrefix
from streamer.streaming.events import TurnUpdate
from streamer.streaming.speakers import Piece

CONFIDENT, UNSURE = 0.9, 0.1
"""end-of-turn confidence when the words so far end a sentence, and when they do not"""


class OpenTurn:
    def __init__(self) -> None:
        self.closed: list[Piece] = []
        """closed pieces, in order"""
        self._prefix = StablePrefix()

    @property
    def has_words(self) -> bool:
        return bool(self.closed) or self._prefix.has_words

    @property
    def settled(self) -> tuple[Word, ...]:
        """Words of its closed pieces: their speakers come from their pieces' analysis."""
        return tuple(w for piece in self.closed for w in piece.words)

    def close_piece(self, piece: Piece) -> None:
        """A decode closed the open piece: its words are final; the next piece starts empty."""
        self.closed.append(piece)
        self._prefix = StablePrefix()

    def update(self, turn_order: int, open_words: list[Word]) -> TurnUpdate:
        """The partial after the open piece decoded to `open_words`, with the end-of-turn
        confidence its words give."""
        closed = self.settled
        committed = self._prefix.update([w.text for w in open_words])
        words = (*closed, *open_words)
        ends_sentence = bool(words) and words[-1].text.endswith(SENTENCE_END)
        return TurnUpdate(
            turn_order=turn_order,
            words=words,
            final_count=len(closed) + min(committed, len(open_words)),
            end_of_turn=False,
            formatted=False,
            end_of_turn_confidence=CONFIDENT if ends_sentence else UNSURE,
        )

    def end(self) -> list[Piece]:
        """The turn ended: its closed pieces (the next turn starts empty)."""
        pieces, self.closed = self.closed, []
        self._prefix = StablePrefix()
        return pieces
