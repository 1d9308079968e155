"""What to decode when (pure): a turn is decoded in pieces.

The open piece is re-decoded for partials; a pause once the piece holds `min_piece_s` (or a
pause where the speaker changes, or a cut in long unbroken speech) closes it, and its words
are final. So no decode reads more than `max_piece_s`, and a turn's final decodes only its
last piece, usually already decoded through the pause that ended the turn (the final then
reuses that decode).

The shell runs the requests in order, one rule for all shells (`plan`): run a request, reuse
a decode that already heard its audio, or skip a partial that is no longer worth its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, VAD_FRAME_SAMPLES
from streamer.core.diarization import LocalSpeakers
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.intake import AudioIntake

CUT_SEARCH_S = 1.5
"""Long unbroken speech is cut at the quietest frame of its last this-many seconds."""
PAUSE_MS = 150
"""Trailing silence after which the open turn is decoded through its end."""
PRE_ROLL = round(0.3 * MODEL_SAMPLE_RATE)
"""Audio before a turn's first speech frame that its first piece includes."""
REUSE_SLACK = 2 * VAD_FRAME_SAMPLES
"""A decode that stopped this close to the end of speech heard it all (the VAD lags by a frame
or two, and a final pads a few frames of silence that hold no words)."""
FINAL_PAD = 3 * VAD_FRAME_SAMPLES
"""Audio past a turn's last speech frame that its final decodes: word tails the VAD frame
edges may clip."""


@dataclass(frozen=True, slots=True)
class HeardLanguage:
    """The language a decode found (one that was not told it), and how sure it was (0-1)."""

    code: str
    confidence: float


Decoded = tuple[list[Word], LocalSpeakers | None, HeardLanguage | None]
"""A decode's words; when it analysed speakers, the local speakers of its context; when it
was not told the language, the one it found."""


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
    language: str | None = "en"
    """what to decode it as (Whisper's code: "en" on the fast path, Moonshine); None: find
    out (the session's language is not known yet)"""
    languages: tuple[str, ...] = ()
    """when finding out, the languages it may be (empty: any)"""

    @property
    def final(self) -> bool:
        return self.kind is DecodeKind.FINAL

    @property
    def end(self) -> int:
        """One past the last sample it decodes."""
        return self.offset + len(self.audio)


class Action(Enum):
    RUN = "run"
    """decode it"""
    REUSE = "reuse"
    """a decode of the same audio already heard it all: take `Plan.reused`"""
    SKIP = "skip"
    """a partial no longer worth its cost (already accounted for)"""


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    reused: Decoded | None = None


class Outcome(Enum):
    """What a returned decode does to the open turn."""

    STALE = "stale"
    """its turn ended, or its piece closed, while it ran: nothing"""
    CLOSES = "closes"
    """it closes the open piece: its words are final"""
    OPEN = "open"
    """it refreshes the open piece's words"""


@dataclass(frozen=True, slots=True)
class _Heard:
    """The latest PAUSE decode: a final that needs no more audio than it heard reuses it."""

    turn_order: int
    offset: int
    until: int
    decoded: Decoded
    context_offset: int


class PieceScheduler:
    """Decides the decodes of a session's turns, one at a time while a turn is open."""

    def __init__(self, config: StreamConfig, intake: AudioIntake) -> None:
        self.config = config
        self._intake = intake
        self.turn_order = 0
        """the open turn, or the next one"""
        self._open_start: int | None = None
        self.piece_start = 0
        """where the open turn's audio not yet in a closed piece begins"""
        self._last_decode_end = 0
        self._paused_through = 0
        """where the latest PAUSE decode of the open turn stops"""
        self._in_flight = False
        self._heard: _Heard | None = None
        self.skipped = 0
        """decodes planned and then skipped (the eval reports them)"""

    @property
    def open(self) -> bool:
        return self._open_start is not None

    def is_open_turn(self, turn_order: int) -> bool:
        return self.open and turn_order == self.turn_order

    def turn_started(self, start: int) -> None:
        """A turn opened at sample `start`."""
        self._open_start = start
        # Moonshine needs the onset the VAD frames trail by: without it a turn's first half
        # second often decodes to nothing
        self.piece_start = max(0, start - PRE_ROLL)
        self._last_decode_end = start

    def partial(
        self, trailing_silence_ms: float, has_words: bool, pressure: float = 0.0
    ) -> DecodeRequest | None:
        """Re-decode the open piece every `partial_interval_s` of new audio (or
        `partial_piece_fraction` of the piece) while speech goes on, stretched toward
        `partial_interval_max_s` as `pressure` (decodes wanted per worker) goes from 1 to 2,
        one decode at a time; when the speaker pauses, once more
        through the end of the speech (a PAUSE decode: it closes a long piece, and when the
        pause turns out to end the turn the final reuses it); long speech without a pause
        is cut."""
        if self._open_start is None or self._in_flight:
            return None
        config = self.config
        end = self._intake.vad_cursor
        speech_end = end - round(trailing_silence_ms * MODEL_SAMPLE_RATE / 1000)
        if trailing_silence_ms >= PAUSE_MS:
            if self._paused_through >= speech_end:
                return None  # a PAUSE decode already hears everything said
            kind = DecodeKind.PAUSE
            self._paused_through = end
        elif end - self.piece_start >= round(config.max_piece_s * MODEL_SAMPLE_RATE):
            kind = DecodeKind.CUT
            end = self._intake.quietest_point(end - round(CUT_SEARCH_S * MODEL_SAMPLE_RATE), end)
        else:
            piece_s = (self._last_decode_end - self.piece_start) / MODEL_SAMPLE_RATE  # heard
            interval = (
                self._partial_interval(piece_s, pressure) if has_words else config.first_partial_s
            )
            if end - self._last_decode_end < round(interval * MODEL_SAMPLE_RATE):
                return None
            if trailing_silence_ms > 0 and has_words:
                return None  # maybe a pause: keep the worker free for its decode
            kind = DecodeKind.PARTIAL
        self._last_decode_end = end
        self._in_flight = True
        return self._request(kind, end, opening=kind is DecodeKind.PARTIAL and not has_words)

    def _partial_interval(self, piece_s: float, pressure: float) -> float:
        config = self.config
        base = max(config.partial_interval_s, config.partial_piece_fraction * piece_s)
        longest = max(config.partial_interval_max_s, 2 * base)
        return base + (longest - base) * min(1.0, max(0.0, pressure - 1.0))

    def final(self, end_frame: int) -> DecodeRequest:
        """The open turn ended after frame `end_frame`: decode what no closed piece holds."""
        end = min(end_frame * VAD_FRAME_SAMPLES + FINAL_PAD, self._intake.end)
        request = self._request(DecodeKind.FINAL, max(end, self.piece_start))
        self.turn_order += 1
        self._open_start = None
        self._in_flight = False
        return request

    def _request(self, kind: DecodeKind, end: int, opening: bool = False) -> DecodeRequest:
        intake = self._intake
        start = max(self.piece_start, intake.start)
        analyse = kind is not DecodeKind.PARTIAL and self.config.speaker_labels
        # the whole piece and at least the last `speaker_context_s` before its end
        context_start = max(
            intake.start,
            min(start, end - round(self.config.speaker_context_s * MODEL_SAMPLE_RATE)),
        )
        return DecodeRequest(
            turn_order=self.turn_order,
            kind=kind,
            audio=intake.read(start, end),
            offset=start,
            speech=intake.speech_spans(start, end, self.config.turn.vad_threshold),
            context=intake.read(context_start, end) if analyse else None,
            context_offset=context_start,
            opening=opening,
        )

    def plan(self, request: DecodeRequest, crowded: bool) -> Plan:
        """What the shell does with a request whose turn comes: skip a partial when the worker
        is `crowded` or its turn is over (unless the final will reuse it), reuse a decode that
        already heard a final's audio, else run it."""
        if not request.final and (crowded or not self._still_useful(request)):
            self.skip(request)
            return Plan(Action.SKIP)
        reused = self._reusable(request)
        return Plan(Action.REUSE, reused) if reused is not None else Plan(Action.RUN)

    def skip(self, request: DecodeRequest) -> None:
        """A partial the shell did not run (overloaded, stale or failed): allow the next."""
        self.skipped += 1
        if request.turn_order != self.turn_order:
            return  # a decode of an ended turn: the open turn's state is not its business
        self._in_flight = False
        if request.kind is DecodeKind.PAUSE:
            self._paused_through = request.offset  # the pause is still worth a decode

    def _still_useful(self, request: DecodeRequest) -> bool:
        """Its turn is open, or it decodes through the pause that ended its turn (the final
        will reuse it)."""
        return self.is_open_turn(request.turn_order) or (
            request.kind is DecodeKind.PAUSE and request.turn_order == self.turn_order - 1
        )

    def _reusable(self, request: DecodeRequest) -> Decoded | None:
        """For a final: the result of a PAUSE decode of the same audio that already heard all
        of its speech, else None."""
        heard = self._heard
        if not request.final or heard is None or not request.speech:
            return None
        if (heard.turn_order, heard.offset) != (request.turn_order, request.offset):
            return None
        if heard.until < request.speech[-1][1] - REUSE_SLACK:
            return None
        return heard.decoded

    def reused_context_offset(self, local: LocalSpeakers | None) -> int | None:
        """Where the context of `local` starts when it came from the reused PAUSE decode."""
        heard = self._heard
        if heard is None or local is None or local is not heard.decoded[1]:
            return None
        return heard.context_offset

    def decoded(self, request: DecodeRequest, result: Decoded) -> Outcome:
        """A partial, PAUSE or CUT decode came back."""
        if request.turn_order == self.turn_order:
            self._in_flight = False
        if request.kind is DecodeKind.PAUSE:
            self._heard = _Heard(
                request.turn_order, request.offset, request.end, result, request.context_offset
            )
        if not self.is_open_turn(request.turn_order) or request.offset != self.piece_start:
            return Outcome.STALE
        min_piece = round(self.config.min_piece_s * MODEL_SAMPLE_RATE)
        closes = request.kind is DecodeKind.CUT or (
            request.kind is DecodeKind.PAUSE and len(request.audio) >= min_piece
        )
        if not closes:
            return Outcome.OPEN
        self.piece_start = request.end
        return Outcome.CLOSES

    def close_at_pause(self, request: DecodeRequest) -> None:
        """Close the open piece at the end of a PAUSE decode that did not close it (`decoded`
        said OPEN): the session does so where the speaker changes, so that the turn before
        the change need not wait for a longer piece."""
        if (
            request.kind is DecodeKind.PAUSE
            and self.is_open_turn(request.turn_order)
            and request.offset == self.piece_start
        ):
            self.piece_start = request.end
