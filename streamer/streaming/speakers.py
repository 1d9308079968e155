"""Who says each word of a stream (pure numpy): online naming as pieces close, and revisions.

Decodes that close a piece come back with the segmentation of its last few seconds (up to
three local speakers per 10 s window) and an embedding per local speaker; online clustering
maps them to session speakers, and the stitched timeline gives every word the speaker most
active over it. After each final turn, the local speakers of the latest final turns are
re-clustered as for a file; turns whose words change speaker are revised.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streamer.core.arrays import FloatArray, IntArray
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.clustering import (
    OnlineSpeakers,
    SpeakerCount,
    keep_unless_surer,
    match_labels,
    rejoin_absent_voices,
)
from streamer.core.diarization import (
    FrameGrid,
    LocalSpeakers,
    cluster_rows,
    concatenate,
    global_timeline,
)
from streamer.core.sentence_speakers import SentenceParams, keep_sentences_whole
from streamer.core.voices import LabelVoices
from streamer.core.word_speakers import (
    SmoothingParams,
    SpeakerTimeline,
    smooth_islands,
    speaker_name,
    strongest,
    word_scores,
)
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import RevisedTurn, SpeakerRevision


@dataclass(slots=True)
class Piece:
    """Final words of one stretch of a turn and the speaker analysis that named them."""

    words: tuple[Word, ...]
    local: LocalSpeakers | None
    """None when speakers were not analysed (speaker_labels off, or no words)"""
    context_offset: int
    """absolute sample where the analysed audio starts"""
    row_speakers: IntArray
    """session speaker of each embedding row of `local`"""


@dataclass(slots=True)
class _FinalTurn:
    order: int
    pieces: list[Piece]

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for piece in self.pieces for w in piece.words)

    @property
    def start(self) -> int:
        """Where its analysed audio starts (absolute sample)."""
        return min(p.context_offset for p in self.pieces if p.row_speakers.size)


class SessionSpeakers:
    def __init__(self, config: StreamConfig, grid: FrameGrid) -> None:
        self.config = config
        self._grid = grid
        self._online = OnlineSpeakers(config.online, config.max_speakers)
        self._finals: deque[_FinalTurn] = deque(maxlen=config.revision_turns)
        self._current = speaker_name(0)
        """the speaker heard last: words decoded without speaker analysis take it"""
        self._voices = LabelVoices(config.known_voices, config.voices)
        """which labels are enrolled people (their words carry the name)"""

    def name_open(
        self, words: list[Word], local: LocalSpeakers | None, context_offset: int
    ) -> list[Word]:
        """Speakers of the open piece's words (the online speakers learn nothing from it)."""
        rows = self._row_speakers(local, learn=False)
        return self._name(words, local, context_offset, rows)

    def name_as_closed(
        self, words: list[Word], local: LocalSpeakers | None, context_offset: int
    ) -> list[Word]:
        """The speakers `piece` would give these words, learning nothing: unlike `name_open`
        it may found a new voice (on a copy of the online speakers)."""
        online, current = self._online, self._current
        self._online = copy.deepcopy(online)
        try:
            return self._name(words, local, context_offset, self._row_speakers(local, learn=True))
        finally:
            self._online, self._current = online, current

    def piece(self, words: list[Word], local: LocalSpeakers | None, context_offset: int) -> Piece:
        """A closed piece: its words named, the online speakers taught by its analysis."""
        rows = self._row_speakers(local, learn=True)
        if local is not None:
            self._voices.learn(local.embeddings, local.speech_s, rows)
        named = self._name(words, local, context_offset, rows)
        return Piece(tuple(named), local, context_offset, rows)

    def turn_ended(self, order: int, pieces: list[Piece]) -> SpeakerRevision | None:
        """Remember an ended turn's analysed pieces and revise the latest turns' speakers
        (the last `revision_turns`, within `revision_span_s`)."""
        if not any(piece.row_speakers.size for piece in pieces):
            return None
        self._finals.append(_FinalTurn(order, pieces))
        span = round(self.config.revision_span_s * MODEL_SAMPLE_RATE)
        while self._finals[-1].start - self._finals[0].start > span:
            self._finals.popleft()
        return self._revise()

    def _row_speakers(self, local: LocalSpeakers | None, learn: bool) -> IntArray:
        """Session speaker of each embedding row, window by window."""
        if local is None or not local.owners:
            return np.zeros(0, dtype=np.int64)
        rows = np.zeros(len(local.owners), dtype=np.int64)
        for window in sorted({c for c, _ in local.owners}):
            members = local.rows_of_window(window)
            rows[members] = self._online.assign_window(
                local.embeddings[members], local.speech_s[members], learn
            )
        return rows

    def _name(
        self, words: list[Word], local: LocalSpeakers | None, context_offset: int, rows: IntArray
    ) -> list[Word]:
        if not self.config.speaker_labels or not words:
            return list(words)
        if local is None or not rows.size:  # no analysis: the speaker heard last
            named = [w.with_speaker(self._current) for w in words]
        else:
            scores = word_scores(words, self._timeline(local, rows, context_offset))
            main = int(rows[np.argmax(local.speech_s)])
            named = _name_on(words, scores, main, self._voices.name)
        if named[-1].speaker is not None:
            self._current = named[-1].speaker
        return named

    def _timeline(self, local: LocalSpeakers, rows: IntArray, origin: int) -> SpeakerTimeline:
        """Who speaks when, stitched from the windows of `local` (whose audio starts at
        absolute sample `origin`) with each embedding row's session speaker."""
        timeline, _ = global_timeline(
            local,
            rows,
            int(rows.max()) + 1,
            self._grid,
            self.config.diarization,
            offset_s=origin / MODEL_SAMPLE_RATE,
        )
        return timeline

    def _revise(self) -> SpeakerRevision | None:
        """Re-cluster the local speakers of the latest final turns and name their words again
        on one timeline stitched from all their windows, as for a file (a later window that
        heard a stretch with more context around it has its say too); the turns whose labels
        changed."""
        analysed = [
            (turn, p, p.local)
            for turn in self._finals
            for p in turn.pieces
            if p.local is not None and p.row_speakers.size
        ]
        origin = min(p.context_offset for _, p, _ in analysed)
        everything = concatenate(
            [local for _, _, local in analysed],
            [p.context_offset - origin for _, p, _ in analysed],
        )
        old = np.concatenate([p.row_speakers for _, p, _ in analysed])
        config = self.config
        fresh, _ = cluster_rows(
            everything,
            SpeakerCount(maximum=config.max_speakers),
            config.revision,
            config.diarization.min_clustering_speech_s,
        )
        known = self._online.num_speakers
        new = match_labels(fresh, old, first_fresh=known)
        if config.max_speakers is not None:  # no label beyond the cap: keep the old one
            new = np.where(new < config.max_speakers, new, old)
        # a voice last heard before the turns revisited (a long call) is not a new speaker
        new = rejoin_absent_voices(
            everything.embeddings,
            new,
            self._online.voices(),
            known,
            config.online.new_speaker_distance,
        )
        for label in np.unique(new[new >= known]).tolist():
            # a voice only re-clustering tells apart needs more speech than online founding:
            # a few seconds split off a known voice are a phantom more often than a newcomer
            members = new == label
            if everything.speech_s[members].sum() < config.revision_new_speaker_min_speech_s:
                new = np.where(members, old, new)
        new = keep_unless_surer(everything.embeddings, old, new, config.revision_move_margin)
        self._online.reset(everything.embeddings, everything.speech_s, new)
        self._voices.reset(everything.embeddings, everything.speech_s, new)
        # one lookup for all words: each against the whole timeline would cost its length
        scores = word_scores(
            [w for _, p, _ in analysed for w in p.words], self._timeline(everything, new, origin)
        )
        changed: dict[int, _FinalTurn] = {}
        row, word = 0, 0
        for turn, piece, _ in analysed:
            rows = slice(row, row + len(piece.row_speakers))
            words = slice(word, word + len(piece.words))
            row, word = rows.stop, words.stop
            piece.row_speakers = new[rows]
            main = int(new[rows][np.argmax(everything.speech_s[rows])])
            revised = tuple(_name_on(list(piece.words), scores[words], main, self._voices.name))
            if revised != piece.words:
                piece.words = revised
                changed[turn.order] = turn
        if not changed:
            return None
        return SpeakerRevision(tuple(RevisedTurn(t.order, t.words) for t in changed.values()))


def _name_on(
    words: list[Word], scores: FloatArray, main: int, name: Callable[[int, str], str]
) -> list[Word]:
    """Each word takes the speaker most active over it (`word_scores`); words with no one
    under them take `main` (the speaker of most speech); one-word islands are smoothed, and
    a sentence keeps one speaker unless the scores clearly say otherwise. `name(label,
    letter)` says what a label is called (a known voice's name, or its letter)."""
    found = strongest(scores)
    labels = smooth_islands(words, np.where(found < 0, main, found), SmoothingParams())
    labels = keep_sentences_whole(words, scores, labels, SentenceParams())
    return [
        w.with_speaker(name(int(n), speaker_name(int(n))))
        for w, n in zip(words, labels, strict=True)
    ]
