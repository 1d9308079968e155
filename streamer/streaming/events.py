"""What a streaming session tells its client, as typed values (the shell turns them into
wire JSON through `streamer.api.wire`; a client reads them back the same way), and the transcript
a client holds once it has applied them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from streamer.core.words import Word, join_words, majority_speaker


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The VAD heard a turn begin (at `timestamp_ms` of the session's audio)."""

    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TurnUpdate:
    """A turn's words so far: a partial while it is open, the final at its end. The first
    `final_count` words will not change text again (a revision may still change speakers)."""

    turn_order: int
    words: tuple[Word, ...]
    final_count: int
    end_of_turn: bool
    formatted: bool
    end_of_turn_confidence: float
    speaker_changed: bool = False
    """a final ended by the next speaker (`streamer.streaming.speaker_turns`), not a pause"""
    language_code: str | None = None
    """the session's language (multilingual sessions only), once known"""
    language_confidence: float | None = None

    @property
    def transcript(self) -> str:
        """The final words' text (the whole turn once it has ended)."""
        return join_words(self.words[: self.final_count])

    @property
    def word_is_final(self) -> tuple[bool, ...]:
        return tuple(index < self.final_count for index in range(len(self.words)))

    @property
    def speaker_label(self) -> str | None:
        return majority_speaker(self.words)


@dataclass(frozen=True, slots=True)
class RevisedTurn:
    """An ended turn's words with their speakers named again."""

    turn_order: int
    words: tuple[Word, ...]

    @property
    def speaker_label(self) -> str | None:
        return majority_speaker(self.words)


@dataclass(frozen=True, slots=True)
class SpeakerRevision:
    """Re-clustering changed the speakers of these ended turns."""

    turns: tuple[RevisedTurn, ...]


SessionEvent = SpeechStarted | TurnUpdate | SpeakerRevision


def with_words(event: SessionEvent, change: Callable[[Word], Word]) -> SessionEvent:
    """`event` with `change` applied to each of its words."""
    if isinstance(event, TurnUpdate):
        return replace(event, words=tuple(map(change, event.words)))
    if isinstance(event, SpeakerRevision):
        turns = tuple(replace(t, words=tuple(map(change, t.words))) for t in event.turns)
        return SpeakerRevision(turns)
    return event


def is_result(event: SessionEvent) -> bool:
    """A final `Turn` or a revision: what a call's callback gets (partials and
    `SpeechStarted` are for those watching live)."""
    return isinstance(event, SpeakerRevision) or (
        isinstance(event, TurnUpdate) and event.end_of_turn
    )


class HeldTranscript:
    """The transcript a client holds: each ended turn's words as its final `TurnUpdate` gave
    them, with every later `SpeakerRevision` applied."""

    def __init__(self) -> None:
        self.turns: dict[int, tuple[Word, ...]] = {}

    def apply(self, event: SessionEvent) -> list[int]:
        """Take an event; the orders of the ended turns it set or changed."""
        if isinstance(event, TurnUpdate) and event.end_of_turn:
            self.turns[event.turn_order] = event.words
            return [event.turn_order]
        if isinstance(event, SpeakerRevision):
            for turn in event.turns:
                self.turns[turn.turn_order] = turn.words
            return [turn.turn_order for turn in event.turns]
        return []

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for order in sorted(self.turns) for word in self.turns[order])
