"""The turns a client sees end where the speaker changes (pure).

The session's turns follow the VAD: speech until a pause long enough to end the turn. When
two people talk without such a pause, one session turn holds both, and a client that shows
a turn's `speaker_label` shows one speaker for both. `SpeakerTurns` splits a session turn at
each change of speaker its final words show: the words before the change go out as a final
`Turn` of their own at once, and the rest continue as the next turn. A change counts only
when the new speaker holds `min_words` words in a row (a back-channel of one word stays
inside the turn), and only in words whose speakers are settled (those of closed pieces).
Revisions of a session turn are sent as revisions of the client turns it was split into.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from streamer.core.words import Word
from streamer.streaming.events import RevisedTurn, SpeakerRevision, TurnUpdate

SPEAKER_CHANGE_CONFIDENCE = 1.0
"""The end-of-turn confidence of a turn ended by the next speaker: its speaker is done."""
KEPT_TURNS = 200
"""Session turns whose split is remembered (revisions reach back `revision_turns`, 50)."""


@dataclass(slots=True)
class _Part:
    order: int
    """the client's turn order"""
    start: int
    stop: int = -1
    """the session turn's words [start, stop); -1 while the client turn is open"""
    sent: tuple[Word, ...] = ()
    """its words as the client last had them (its final, then revisions)"""


def speaker_change(words: tuple[Word, ...], start: int, stop: int, min_words: int) -> int | None:
    """The first index in (start, stop) where a speaker other than that of `words[start]`
    begins a run of at least `min_words` words that ends before `stop`; None if none."""
    speaker = words[start].speaker if start < stop else None
    for index in range(start + 1, stop - min_words + 1):
        run = {w.speaker for w in words[index : index + min_words]}
        if len(run) == 1 and words[index].speaker not in (speaker, None):
            return index
    return None


class SpeakerTurns:
    def __init__(self, min_words: int = 2) -> None:
        self.min_words = min_words
        self._next_order = 0
        self._parts: OrderedDict[int, list[_Part]] = OrderedDict()
        """per session turn, the client turns it was split into (the last one still open
        while the session turn is)"""

    def _open_part(self, session_order: int) -> _Part:
        parts = self._parts.get(session_order)
        if parts is None:
            parts = self._parts[session_order] = [_Part(self._next_order, 0)]
            self._next_order += 1
            while len(self._parts) > KEPT_TURNS:
                self._parts.popitem(last=False)
        return parts[-1]

    def _split(self, update: TurnUpdate, settled: int) -> list[TurnUpdate]:
        """End client turns at each speaker change within the first `settled` words of the
        session turn: their finals."""
        finals = []
        part = self._open_part(update.turn_order)
        while (
            cut := speaker_change(update.words, part.start, settled, self.min_words)
        ) is not None:
            finals.append(self._end(update, part, cut, by_speaker=True))
            part = _Part(self._next_order, cut)
            self._next_order += 1
            self._parts[update.turn_order].append(part)
        return finals

    def _end(self, update: TurnUpdate, part: _Part, stop: int, by_speaker: bool) -> TurnUpdate:
        part.stop = stop
        part.sent = update.words[part.start : stop]
        return replace(
            update,
            turn_order=part.order,
            words=part.sent,
            final_count=len(part.sent),
            end_of_turn=True,
            end_of_turn_confidence=(
                SPEAKER_CHANGE_CONFIDENCE if by_speaker else update.end_of_turn_confidence
            ),
            speaker_changed=by_speaker,
        )

    def would_split(self, session_order: int, words: tuple[Word, ...]) -> bool:
        """Whether these words of the session turn, were they all settled, would end its open
        client turn at a change of speaker."""
        parts = self._parts.get(session_order)
        start = parts[-1].start if parts else 0
        return speaker_change(words, start, len(words), self.min_words) is not None

    def partial(self, update: TurnUpdate, settled: int) -> list[TurnUpdate]:
        """A partial of a session turn whose first `settled` words have their speakers for
        good: finals of the client turns a speaker change ended, then the partial of the
        client turn still open."""
        events = self._split(update, settled)
        part = self._open_part(update.turn_order)
        events.append(
            replace(
                update,
                turn_order=part.order,
                words=update.words[part.start :],
                final_count=max(0, update.final_count - part.start),
            )
        )
        return events

    def final(self, update: TurnUpdate) -> list[TurnUpdate]:
        """The session turn's final: the finals of its remaining client turns, the last with
        the end-of-turn confidence the session turn ended with."""
        events = self._split(update, len(update.words))
        last = self._open_part(update.turn_order)
        events.append(self._end(update, last, len(update.words), by_speaker=False))
        return events

    def revision(self, revision: SpeakerRevision) -> SpeakerRevision | None:
        """The revision as the client turns see it: each revised session turn's words, cut
        as its client turns were (those of turns no longer remembered are dropped)."""
        turns = []
        for turn in revision.turns:
            for part in self._parts.get(turn.turn_order, []):
                words = turn.words[part.start : part.stop]
                if part.stop >= 0 and words != part.sent:
                    part.sent = words
                    turns.append(RevisedTurn(part.order, words))
        return SpeakerRevision(tuple(turns)) if turns else None
