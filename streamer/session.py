"""The streaming session state machine (sans-I/O).

It takes audio bytes and model results and returns what to do next: model work for the shell
to run (`DecodeRequest`) and messages to send (`dict`s in the v3 wire shape, built by
`streamer.wire`). It never sleeps, reads a clock or touches a socket, so a test or the
streaming evaluation can drive it at any speed and get the events a real-time run would.

Words: a turn is decoded in pieces. The open piece is re-decoded for partials; a pause once
the piece holds `min_piece_s` (or a cut in long unbroken speech) closes it, and its words are
final. So no decode reads more than `max_piece_s` and a turn's final only decodes its last
piece, usually already decoded through the pause that ended the turn.

Speakers: decodes that close a piece come back with the segmentation of its last few seconds
(up to three local speakers per 10 s window) and an embedding per local speaker; online
clustering maps them to session speakers, and the offline stitching gives every word the
speaker most active over it. After each final turn, everything heard so far is re-clustered
with the offline algorithm; turns whose words change speaker are sent again as a
`SpeakerRevision`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np
import numpy.typing as npt

from streamer.agreement import StablePrefix
from streamer.audio import (
    MODEL_SAMPLE_RATE,
    Float32Array,
    StreamResampler,
    pcm_mulaw_to_float,
    pcm_s16le_to_float,
    samples_to_ms,
)
from streamer.clustering import (
    ClusteringParams,
    OnlineParams,
    OnlineSpeakers,
    SpeakerCount,
    match_labels,
)
from streamer.diarization import (
    DiarizationParams,
    FrameGrid,
    LocalSpeakers,
    chunk_assignment,
    cluster_rows,
    concatenate,
    global_timeline,
)
from streamer.events import Word, join_words
from streamer.ringbuffer import AudioRing
from streamer.speakers import (
    SmoothingParams,
    SpeakerTimeline,
    smooth_islands,
    speaker_name,
    word_speakers,
)
from streamer.turns import TurnDetector, TurnEnded, TurnParams, TurnStarted
from streamer.wire import speaker_revision_message, speech_started_message, turn_message

Message = dict[str, object]
"""A server message in the v3 wire shape, ready for JSON."""

VAD_FRAME_SAMPLES = 512
FRAMES_PER_S = MODEL_SAMPLE_RATE / VAD_FRAME_SAMPLES
CUT_SEARCH_S = 1.5
"""Long unbroken speech is cut at the quietest frame of its last this-many seconds."""
PAUSE_MS = 150
"""Trailing silence after which the open turn is decoded through its end."""
PRE_ROLL = round(0.3 * MODEL_SAMPLE_RATE)
"""Audio before a turn's first speech frame that its first piece includes."""
REUSE_SLACK = 2 * VAD_FRAME_SAMPLES
"""A decode that stopped this close to the end of speech heard it all (the VAD lags by a frame
or two, and a final pads a few frames of silence that hold no words)."""
SENTENCE_END = (".", "?", "!")
CONFIDENT, UNSURE = 0.9, 0.1
"""end-of-turn confidence when the words so far end a sentence, and when they do not"""


@dataclass(frozen=True, slots=True)
class StreamConfig:
    sample_rate: int
    encoding: str = "pcm_s16le"
    speaker_labels: bool = True
    max_speakers: int | None = None
    format_turns: bool = False
    turn: TurnParams = field(default_factory=TurnParams)
    first_partial_s: float = 0.2
    """Re-decode after this much new audio while the turn has no words yet."""
    partial_interval_s: float = 0.5
    """Then after this much (if the last decode is back)."""
    min_piece_s: float = 3.0
    """A pause closes the open piece of a turn once it holds this much audio: its words are
    final and later decodes start after it, so a decode never re-reads a long turn."""
    max_piece_s: float = 8.0
    """Speech without a pause is cut (at its quietest frame) after this much."""
    speaker_context_s: float = 10.0
    """Audio before a piece's end that the segmentation sees (one model window)."""
    online: OnlineParams = field(default_factory=OnlineParams)
    revision: ClusteringParams = field(
        default_factory=lambda: ClusteringParams(linkage="average", distance_threshold=0.3)
    )
    """Re-clustering sees only the speech heard so far, often a few embeddings: average
    linkage with a margin keeps two close voices (telephone) apart where complete linkage
    tuned on meetings merged them."""
    diarization: DiarizationParams = field(default_factory=DiarizationParams)
    revision_turns: int = 50
    """Final turns that re-clustering revisits: older labels stay as sent. Keeps memory and
    the clustering done on the event loop bounded however long the call."""
    buffer_s: float = 60.0
    """Audio kept per session: the longest piece plus the speaker context, with margin."""


class DecodeKind(Enum):
    PARTIAL = "partial"
    """re-decode the open piece while speech goes on (words only)"""
    PAUSE = "pause"
    """decode the open piece through a pause, with its speakers: closes the piece if it is
    long enough, and the final reuses it when the pause ends the turn"""
    CUT = "cut"
    """decode the open piece up to a cut in long unbroken speech, with speakers; closes it"""
    FINAL = "final"
    """the turn has ended: decode what no closed piece holds (or reuse a PAUSE decode)"""


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """Transcribe `audio` (absolute sample `offset`), placing words on its `speech` spans;
    find local speakers in `context` (absolute sample `context_offset`, ending where `audio`
    ends) unless it is None."""

    turn_order: int
    kind: DecodeKind
    audio: Float32Array
    offset: int
    speech: tuple[tuple[int, int], ...]
    """absolute sample spans the VAD heard speech in; no speech, nothing to decode"""
    context: Float32Array | None
    context_offset: int
    opening: bool = False
    """a partial of a turn with no words yet: short, and what a user waits for most"""

    @property
    def final(self) -> bool:
        return self.kind is DecodeKind.FINAL


@dataclass(slots=True)
class _Piece:
    """Final words of one stretch of a turn and the speaker analysis that named them."""

    words: tuple[Word, ...]
    local: LocalSpeakers | None
    """None when speakers were not analysed (speaker_labels off)"""
    context_offset: int
    row_speakers: npt.NDArray[np.int64]


@dataclass(slots=True)
class _FinalTurn:
    order: int
    pieces: list[_Piece]

    @property
    def words(self) -> list[Word]:
        return [w for piece in self.pieces for w in piece.words]


@dataclass(frozen=True, slots=True)
class _Ending:
    """A turn whose final is being decoded."""

    pieces: list[_Piece]
    """its closed pieces"""
    confidence: float
    """the end-of-turn confidence its words had given when it ended"""


@dataclass(frozen=True, slots=True)
class _Heard:
    """The latest PAUSE decode: a final that needs no more audio than it heard reuses it."""

    turn_order: int
    offset: int
    until: int
    words: list[Word]
    local: LocalSpeakers | None
    context_offset: int


class StreamSession:
    def __init__(self, config: StreamConfig, grid: FrameGrid) -> None:
        self.config = config
        self._grid = grid
        self._resampler = StreamResampler(config.sample_rate)
        self._ring = AudioRing(round(config.buffer_s * MODEL_SAMPLE_RATE))
        self._vad_cursor = 0
        self._probs: deque[float] = deque(maxlen=round(config.buffer_s * FRAMES_PER_S))
        """VAD probability of each recent frame, the last one ending at `_vad_cursor`"""
        self._turns = TurnDetector(config.turn, 1000 * VAD_FRAME_SAMPLES / MODEL_SAMPLE_RATE)
        self._turn_order = 0
        self._open_start: int | None = None
        self._piece_start = 0
        """where the open turn's audio not yet in a closed piece begins"""
        self._closed: list[_Piece] = []
        """closed pieces of the open turn"""
        self._ending: dict[int, _Ending] = {}
        self._last_decode_end = 0
        self._paused_through = 0
        """where the latest PAUSE decode of the open turn stops"""
        self._partial_in_flight = False
        self._prefix = StablePrefix()
        self._speakers = OnlineSpeakers(config.online, config.max_speakers)
        self._finals: deque[_FinalTurn] = deque(maxlen=config.revision_turns)
        self.samples_received = 0
        self.partials_skipped = 0
        self._odd_byte = b""
        self._current_speaker = speaker_name(0)
        """the speaker heard last: words decoded without speaker analysis take it"""
        self._heard: _Heard | None = None

    # ---- audio in -------------------------------------------------------------------------
    def add_audio(self, data: bytes) -> None:
        """Append wire audio. A 16-bit frame cut between its two bytes keeps the odd byte for
        the next call, so clients may slice the byte stream anywhere."""
        if self.config.encoding == "pcm_mulaw":
            samples = pcm_mulaw_to_float(data)
        else:
            data = self._odd_byte + data
            whole = len(data) - len(data) % 2
            self._odd_byte = data[whole:]
            samples = pcm_s16le_to_float(data[:whole])
        self.samples_received += len(samples)
        self._ring.append(self._resampler.push(samples))

    @property
    def audio_duration_s(self) -> float:
        return self.samples_received / self.config.sample_rate

    def vad_input(self) -> Float32Array:
        """Whole VAD frames received since the last call (the shell runs VAD on them)."""
        whole = (self._ring.end - self._vad_cursor) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
        start = max(self._vad_cursor, self._ring.start)
        audio = self._ring.read(start, self._vad_cursor + whole)
        self._vad_cursor += whole
        return audio

    # ---- VAD results ----------------------------------------------------------------------
    def on_vad(self, probabilities: list[float]) -> tuple[list[Message], list[DecodeRequest]]:
        self._probs.extend(probabilities)
        messages: list[Message] = []
        requests: list[DecodeRequest] = []
        for event in self._turns.feed(probabilities):
            if isinstance(event, TurnStarted):
                self._open_start = event.start_frame * VAD_FRAME_SAMPLES
                # Moonshine needs the onset the VAD frames trail by: without it a turn's
                # first half second often decodes to nothing
                self._piece_start = max(0, self._open_start - PRE_ROLL)
                self._last_decode_end = self._open_start
                messages.append(speech_started_message(samples_to_ms(self._open_start)))
            elif isinstance(event, TurnEnded):
                requests.append(self._final_request(event))
        partial = self._partial_request()
        if partial is not None:
            requests.append(partial)
        return messages, requests

    def reconfigure(self, turn: TurnParams, format_turns: bool) -> None:
        """New end-of-turn settings (UpdateConfiguration), from the next audio on."""
        self.config = replace(self.config, turn=turn, format_turns=format_turns)
        self._turns.params = turn

    def force_endpoint(self) -> list[DecodeRequest]:
        event = self._turns.force_end()
        return [self._final_request(event)] if event is not None else []

    def partial_dropped(self, request: DecodeRequest) -> None:
        """The shell skipped a partial decode (overloaded or stale): allow the next one."""
        self.partials_skipped += 1
        if request.turn_order != self._turn_order:
            return  # a decode of an ended turn: the open turn's state is not its business
        self._partial_in_flight = False
        if request.kind is DecodeKind.PAUSE:
            self._paused_through = request.offset  # the pause is still worth a decode

    def reusable(self, request: DecodeRequest) -> tuple[list[Word], LocalSpeakers | None] | None:
        """For a final: the result of a PAUSE decode of the same audio that already heard all
        of its speech (no need to decode again), else None."""
        heard = self._heard
        if not request.final or heard is None or not request.speech:
            return None
        if (heard.turn_order, heard.offset) != (request.turn_order, request.offset):
            return None
        if heard.until < request.speech[-1][1] - REUSE_SLACK:
            return None
        return heard.words, heard.local

    def is_open_turn(self, turn_order: int) -> bool:
        return self._open_start is not None and turn_order == self._turn_order

    def still_useful(self, request: DecodeRequest) -> bool:
        """Whether a queued decode is still worth running: its turn is open, or it decodes
        through the pause that ended its turn (the final will reuse it)."""
        return self.is_open_turn(request.turn_order) or (
            request.kind is DecodeKind.PAUSE and request.turn_order == self._turn_order - 1
        )

    @property
    def _min_piece_samples(self) -> int:
        return round(self.config.min_piece_s * MODEL_SAMPLE_RATE)

    def _speech_spans(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """Runs of frames the VAD heard speech in, within samples [start, end)."""
        first_frame = self._vad_cursor // VAD_FRAME_SAMPLES - len(self._probs)
        threshold = self.config.turn.vad_threshold
        spans: list[tuple[int, int]] = []
        for index, prob in enumerate(self._probs):
            frame_start = (first_frame + index) * VAD_FRAME_SAMPLES
            a, b = max(frame_start, start), min(frame_start + VAD_FRAME_SAMPLES, end)
            if prob < threshold or a >= b:
                continue
            if spans and spans[-1][1] == a:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        return tuple(spans)

    def _quietest_point(self, start: int, end: int) -> int:
        """The start of the frame with the lowest speech probability in samples [start, end)."""
        first_frame = self._vad_cursor // VAD_FRAME_SAMPLES - len(self._probs)
        frames = [
            (prob, first_frame + index)
            for index, prob in enumerate(self._probs)
            if start <= (first_frame + index) * VAD_FRAME_SAMPLES < end
        ]
        return min(frames)[1] * VAD_FRAME_SAMPLES if frames else end

    def _request(self, kind: DecodeKind, end: int) -> DecodeRequest:
        start = max(self._piece_start, self._ring.start)
        analyse = kind is not DecodeKind.PARTIAL and self.config.speaker_labels
        # the whole piece and at least the last `speaker_context_s` before its end
        context_start = max(
            self._ring.start,
            min(start, end - round(self.config.speaker_context_s * MODEL_SAMPLE_RATE)),
        )
        return DecodeRequest(
            turn_order=self._turn_order,
            kind=kind,
            audio=self._ring.read(start, end),
            offset=start,
            speech=self._speech_spans(start, end),
            context=self._ring.read(context_start, end) if analyse else None,
            context_offset=context_start,
        )

    def _partial_request(self) -> DecodeRequest | None:
        """Re-decode the open piece every `partial_interval_s` of new audio while speech goes
        on, one decode at a time; when the speaker pauses, once more through the end of the
        speech (a PAUSE decode: it closes a long piece, and when the pause turns out to end
        the turn the final reuses it); long speech without a pause is cut."""
        if self._open_start is None or self._partial_in_flight:
            return None
        end = self._vad_cursor
        silence_ms = self._turns.trailing_silence_ms
        speech_end = end - round(silence_ms * MODEL_SAMPLE_RATE / 1000)
        piece_samples = end - self._piece_start
        has_words = bool(self._closed) or self._prefix.has_words
        if silence_ms >= PAUSE_MS:
            if self._paused_through >= speech_end:
                return None  # a PAUSE decode already hears everything said
            kind = DecodeKind.PAUSE
            self._paused_through = end
        elif piece_samples >= round(self.config.max_piece_s * MODEL_SAMPLE_RATE):
            kind = DecodeKind.CUT
            end = self._quietest_point(end - round(CUT_SEARCH_S * MODEL_SAMPLE_RATE), end)
        else:
            interval = self.config.partial_interval_s if has_words else self.config.first_partial_s
            if end - self._last_decode_end < round(interval * MODEL_SAMPLE_RATE):
                return None
            if silence_ms > 0 and has_words:
                return None  # maybe a pause: keep the worker free for its decode
            kind = DecodeKind.PARTIAL
        self._last_decode_end = end
        self._partial_in_flight = True
        request = self._request(kind, end)
        return replace(request, opening=kind is DecodeKind.PARTIAL and not has_words)

    def _final_request(self, event: TurnEnded) -> DecodeRequest:
        pad = VAD_FRAME_SAMPLES * 3  # keep word tails the VAD frame edges may clip
        end = min(event.end_frame * VAD_FRAME_SAMPLES + pad, self._ring.end)
        request = self._request(DecodeKind.FINAL, max(end, self._piece_start))
        self._ending[self._turn_order] = _Ending(self._closed, event.confidence)
        self._closed = []
        self._turn_order += 1
        self._open_start = None
        self._partial_in_flight = False
        self._prefix = StablePrefix()
        return request

    # ---- model results --------------------------------------------------------------------
    def on_decoded(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[Message]:
        if request.final:
            return self._final_turn(request, words, local)
        if request.turn_order == self._turn_order:
            self._partial_in_flight = False
        if request.kind is DecodeKind.PAUSE:
            until = request.offset + len(request.audio)
            self._heard = _Heard(
                request.turn_order, request.offset, until, words, local, request.context_offset
            )
        if not self.is_open_turn(request.turn_order) or request.offset != self._piece_start:
            return []  # the turn ended, or a piece closed, while this was decoding
        closes = request.kind is DecodeKind.CUT or (
            request.kind is DecodeKind.PAUSE and len(request.audio) >= self._min_piece_samples
        )
        if closes:
            self._closed.append(self._piece(request, words, local))
            self._piece_start = request.offset + len(request.audio)
            self._prefix = StablePrefix()
            return [self._partial_turn(request, [])]
        return [self._partial_turn(request, self._name_open(request, words, local))]

    def _name_open(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[Word]:
        rows = self._row_speakers(local, learn=False)
        named = self._name_words(words, local, request.context_offset, rows)
        self._note_speaker(named)
        return named

    def _piece(
        self,
        request: DecodeRequest,
        words: list[Word],
        local: LocalSpeakers | None,
        context_offset: int | None = None,
    ) -> _Piece:
        offset = request.context_offset if context_offset is None else context_offset
        rows = self._row_speakers(local, learn=True)
        named = self._name_words(words, local, offset, rows)
        self._note_speaker(named)
        return _Piece(tuple(named), local, offset, rows)

    def _partial_turn(self, request: DecodeRequest, open_words: list[Word]) -> Message:
        closed = [w for piece in self._closed for w in piece.words]
        committed = self._prefix.update([w.text for w in open_words])
        words = closed + open_words
        final_count = len(closed) + min(committed, len(open_words))
        self._set_confidence(words)
        return turn_message(
            turn_order=request.turn_order,
            words=words,
            word_is_final=[i < final_count for i in range(len(words))],
            end_of_turn=False,
            formatted=False,
            end_of_turn_confidence=self._turns.end_of_turn_confidence,
            transcript=join_words(words[:final_count]),
        )

    def _set_confidence(self, words: list[Word]) -> None:
        """A turn whose words so far end a sentence may end after the shorter silence."""
        ends_sentence = bool(words) and words[-1].text.endswith(SENTENCE_END)
        self._turns.end_of_turn_confidence = CONFIDENT if ends_sentence else UNSURE

    def _final_turn(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[Message]:
        ending = self._ending.pop(request.turn_order)
        pieces = ending.pieces
        heard = self._heard
        if words:
            # speakers found by a reused PAUSE decode lie on that decode's context
            reused = heard is not None and local is not None and local is heard.local
            offset = heard.context_offset if heard is not None and reused else None
            pieces.append(self._piece(request, words, local, offset))
        named = [w for piece in pieces for w in piece.words]
        messages: list[Message] = [
            turn_message(
                turn_order=request.turn_order,
                words=named,
                word_is_final=[True] * len(named),
                end_of_turn=True,
                formatted=self.config.format_turns,
                end_of_turn_confidence=ending.confidence,
                transcript=join_words(named),
            )
        ]
        if any(piece.row_speakers.size for piece in pieces):
            self._finals.append(_FinalTurn(request.turn_order, pieces))
            revision = self._revise()
            if revision is not None:
                messages.append(revision)
        return messages

    # ---- speakers -------------------------------------------------------------------------
    def _row_speakers(self, local: LocalSpeakers | None, learn: bool) -> npt.NDArray[np.int64]:
        """Session speaker of each embedding row, window by window."""
        if local is None or not local.owners:
            return np.zeros(0, dtype=np.int64)
        rows = np.zeros(len(local.owners), dtype=np.int64)
        for window in sorted({c for c, _ in local.owners}):
            members = local.rows_of_window(window)
            rows[members] = self._speakers.assign_window(
                local.embeddings[members], local.speech_s[members], learn
            )
        return rows

    def _note_speaker(self, words: list[Word]) -> None:
        if words and words[-1].speaker is not None:
            self._current_speaker = words[-1].speaker

    def _name_words(
        self,
        words: list[Word],
        local: LocalSpeakers | None,
        context_offset: int,
        rows: npt.NDArray[np.int64],
    ) -> list[Word]:
        if not self.config.speaker_labels or not words:
            return list(words)
        if local is None or not rows.size:  # no analysis: the speaker heard last
            return [w.with_speaker(self._current_speaker) for w in words]
        found = word_speakers(words, self._timeline(local, rows, context_offset))
        return _name_on(words, found, main=int(rows[np.argmax(local.speech_s)]))

    def _timeline(
        self, local: LocalSpeakers, rows: npt.NDArray[np.int64], origin: int
    ) -> SpeakerTimeline:
        """Who speaks when, stitched from the windows of `local` (whose audio starts at
        absolute sample `origin`) with each embedding row's session speaker."""
        timeline, _ = global_timeline(
            local,
            chunk_assignment(local, rows),
            int(rows.max()) + 1,
            self._grid,
            self.config.diarization,
            offset_s=origin / MODEL_SAMPLE_RATE,
        )
        return timeline

    def _revise(self) -> Message | None:
        """Re-cluster the local speakers of the latest final turns and name their words again
        on one timeline stitched from all their windows, as for a file (a later window that
        heard a stretch with more context around it has its say too); resend the turns whose
        labels changed."""
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
        count = SpeakerCount(maximum=self.config.max_speakers)
        fresh, _ = cluster_rows(
            everything, count, self.config.revision, self.config.diarization.min_clustering_speech_s
        )
        new = match_labels(fresh, old, first_fresh=self._speakers.num_speakers)
        if self.config.max_speakers is not None:  # no label beyond the cap: keep the old one
            new = np.where(new < self.config.max_speakers, new, old)
        self._speakers.reset(everything.embeddings, everything.speech_s, new)
        # one lookup for all words: each against the whole timeline would cost its length
        found = word_speakers(
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
            revised = tuple(_name_on(list(piece.words), found[words], main))
            if revised != piece.words:
                piece.words = revised
                changed[turn.order] = turn
        revisions = [(turn.order, turn.words) for turn in changed.values()]
        return speaker_revision_message(revisions) if revisions else None


def _name_on(words: list[Word], found: npt.NDArray[np.int64], main: int) -> list[Word]:
    """Each word takes the speaker found most active over it (`word_speakers`); words with no
    one under them take `main` (the speaker of most speech); one-word islands are smoothed."""
    labels = smooth_islands(words, np.where(found < 0, main, found), SmoothingParams())
    return [w.with_speaker(speaker_name(int(n))) for w, n in zip(words, labels, strict=True)]
