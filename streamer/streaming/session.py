"""One streaming session (sans-I/O): audio bytes and model results in; model work to run
(`DecodeRequest`) and events for the client (`streamer.streaming.events`) out.

It never sleeps, reads a clock or touches a socket, so the server (`ws.py`) and the streaming
evaluation (the virtual clock) drive it alike, at any speed. A shell calls it in this order:

1. `add_audio(bytes)` for each audio message, then `vad_input()`: run the VAD on what it
   returns (keeping the VAD's recurrent state per session) and give the frame
   probabilities to `on_vad(probs, pressure)` (how loaded the workers are). It returns
   events to send now and decode requests.
2. Queue the requests and take them in order. For each, `plan(request, crowded)` says
   whether to run it (then give the result to `on_decoded`), reuse a result the session
   already has (give that to `on_decoded` at once), or skip it (nothing more to do). A
   request that cannot be queued or fails is given to `skip` unless it is a final (a
   final must run: the session cannot go on without it). `on_decoded` returns events.
   A request says what language to decode it as (`DecodeRequest.language`; None: find it
   out and give it to `on_decoded`, which makes the first sure finding the session's).
3. `force_endpoint()` (the client's ForceEndpoint, and before Terminate) ends the open turn:
   queue the request it returns like any other. `reconfigure` applies UpdateConfiguration.

Events keep their order if each call's events are sent before the next call's. A turn the
client sees ends at a pause or where its speaker changes (`streaming/speaker_turns.py`), so
one session turn may go out as several client turns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, VAD_FRAME_SAMPLES, samples_to_ms
from streamer.core.diarization import FrameGrid, LocalSpeakers
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import SessionEvent, SpeechStarted, TurnUpdate
from streamer.streaming.intake import AudioIntake
from streamer.streaming.open_turn import OpenTurn
from streamer.streaming.pieces import (
    Decoded,
    DecodeKind,
    DecodeRequest,
    HeardLanguage,
    Outcome,
    PieceScheduler,
    Plan,
)
from streamer.streaming.speaker_turns import SpeakerTurns
from streamer.streaming.speakers import Piece, SessionSpeakers
from streamer.streaming.turns import TurnDetector, TurnEnded, TurnParams, TurnStarted


@dataclass(frozen=True, slots=True)
class _Ending:
    """A turn whose final is being decoded."""

    pieces: list[Piece]
    """its closed pieces"""
    confidence: float
    """the end-of-turn confidence its words had given when it ended"""


class StreamSession:
    def __init__(self, config: StreamConfig, grid: FrameGrid) -> None:
        self.config = config
        self._intake = AudioIntake(config.sample_rate, config.encoding, config.buffer_s)
        self._turns = TurnDetector(config.turn, 1000 * VAD_FRAME_SAMPLES / MODEL_SAMPLE_RATE)
        self._pieces = PieceScheduler(config, self._intake)
        self._open = OpenTurn()
        self._speakers = SessionSpeakers(config, grid)
        self._client_turns = SpeakerTurns()
        self._ending: dict[int, _Ending] = {}
        self.language = None if config.language is None else HeardLanguage(config.language, 1.0)
        """the language decodes are told, once known"""

    @property
    def audio_duration_s(self) -> float:
        return self._intake.duration_s

    @property
    def partials_skipped(self) -> int:
        return self._pieces.skipped

    # ---- audio in -------------------------------------------------------------------------
    def add_audio(self, data: bytes) -> None:
        """Append wire audio (any byte count: an odd byte of 16-bit audio waits for its pair)."""
        self._intake.add(data)

    def vad_input(self) -> Float32Array:
        """Whole VAD frames received since the last call."""
        return self._intake.vad_input()

    def on_vad(
        self, probabilities: list[float], pressure: float = 0.0
    ) -> tuple[list[SessionEvent], list[DecodeRequest]]:
        """The VAD's probabilities for the frames `vad_input` gave out; `pressure`: decodes
        the shell's workers have running or waiting, per worker (under load partials come
        less often)."""
        self._intake.heard(probabilities)
        events: list[SessionEvent] = []
        requests: list[DecodeRequest] = []
        for event in self._turns.feed(probabilities):
            if isinstance(event, TurnStarted):
                start = event.start_frame * VAD_FRAME_SAMPLES
                self._pieces.turn_started(start)
                events.append(SpeechStarted(samples_to_ms(start)))
            elif isinstance(event, TurnEnded):
                requests.append(self._final_request(event))
        partial = self._pieces.partial(
            self._turns.trailing_silence_ms, self._open.has_words, pressure
        )
        if partial is not None:
            requests.append(partial)
        return events, self._told(requests)

    def force_endpoint(self) -> list[DecodeRequest]:
        event = self._turns.force_end()
        return self._told([self._final_request(event)] if event is not None else [])

    def _told(self, requests: list[DecodeRequest]) -> list[DecodeRequest]:
        """`requests` told the session's language (while it is not known: None, and the
        languages it may be)."""
        if self.language is None:
            allowed = self.config.languages
            return [replace(r, language=None, languages=allowed) for r in requests]
        code = self.language.code
        return requests if code == "en" else [replace(r, language=code) for r in requests]

    def reconfigure(self, turn: TurnParams, format_turns: bool) -> None:
        """New end-of-turn settings (UpdateConfiguration), from the next audio on."""
        self.config = replace(self.config, turn=turn, format_turns=format_turns)
        self._pieces.config = self.config
        self._turns.params = turn

    def _final_request(self, event: TurnEnded) -> DecodeRequest:
        request = self._pieces.final(event.end_frame)
        self._ending[request.turn_order] = _Ending(self._open.end(), event.confidence)
        return request

    # ---- decodes --------------------------------------------------------------------------
    def plan(self, request: DecodeRequest, crowded: bool = False) -> Plan:
        """Run, reuse or skip `request` now that its turn has come (`crowded`: the worker has
        more pressing work waiting)."""
        return self._pieces.plan(request, crowded)

    def skip(self, request: DecodeRequest) -> None:
        """A partial the shell could not queue or whose decode failed."""
        self._pieces.skip(request)

    def on_decoded(
        self,
        request: DecodeRequest,
        words: list[Word],
        local: LocalSpeakers | None,
        heard: HeardLanguage | None = None,
    ) -> list[SessionEvent]:
        """A decode's result: `heard`, the language it found when it was not told one."""
        if heard is not None and self.language is None and self._sure_of(request, heard):
            self.language = heard
        if request.final:
            events = self._final_turn(request, words, local)
        else:
            events = self._open_turn_events(request, (words, local, heard))
        return self._with_language(events, self.language or heard)

    def _sure_of(self, request: DecodeRequest, heard: HeardLanguage) -> bool:
        """Whether what a decode found is to be the session's language."""
        speech_s = sum(b - a for a, b in request.speech) / MODEL_SAMPLE_RATE
        config = self.config
        return request.final or (
            speech_s >= config.language_min_speech_s
            and heard.confidence >= config.language_min_confidence
        )

    def _with_language(
        self, events: list[SessionEvent], language: HeardLanguage | None
    ) -> list[SessionEvent]:
        """Turns of a multilingual session carry the language (the session's, or before
        it is known the one its decode found)."""
        if not self.config.multilingual or language is None:
            return events
        return [
            replace(e, language_code=language.code, language_confidence=language.confidence)
            if isinstance(e, TurnUpdate)
            else e
            for e in events
        ]

    def _open_turn_events(self, request: DecodeRequest, decoded: Decoded) -> list[SessionEvent]:
        words, local, _ = decoded
        outcome = self._pieces.decoded(request, decoded)
        if outcome is Outcome.STALE:
            return []
        if outcome is Outcome.OPEN and self._changes_speaker(request, words, local):
            self._pieces.close_at_pause(request)
            outcome = Outcome.CLOSES
        if outcome is Outcome.CLOSES:
            self._open.close_piece(self._speakers.piece(words, local, request.context_offset))
            update = self._open.update(request.turn_order, [])
        else:
            named = self._speakers.name_open(words, local, request.context_offset)
            update = self._open.update(request.turn_order, named)
        self._turns.end_of_turn_confidence = update.end_of_turn_confidence
        return list(self._client_turns.partial(update, len(self._open.settled)))

    def _changes_speaker(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> bool:
        """Whether a PAUSE decode that does not close its piece shows the speaker changing:
        then it closes the piece anyway, and the turn before the change goes out now rather
        than once a piece of `min_piece_s` closes (seconds later)."""
        if request.kind is not DecodeKind.PAUSE or local is None or not words:
            return False
        named = self._speakers.name_as_closed(words, local, request.context_offset)
        return self._client_turns.would_split(request.turn_order, (*self._open.settled, *named))

    def _final_turn(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[SessionEvent]:
        ending = self._ending.pop(request.turn_order)
        pieces = ending.pieces
        if words:
            # speakers found by a reused PAUSE decode lie on that decode's context
            reused = self._pieces.reused_context_offset(local)
            offset = request.context_offset if reused is None else reused
            pieces.append(self._speakers.piece(words, local, offset))
        named = tuple(w for piece in pieces for w in piece.words)
        final = TurnUpdate(
            turn_order=request.turn_order,
            words=named,
            final_count=len(named),
            end_of_turn=True,
            formatted=self.config.format_turns,
            end_of_turn_confidence=ending.confidence,
        )
        events: list[SessionEvent] = list(self._client_turns.final(final))
        revision = self._speakers.turn_ended(request.turn_order, pieces)
        if revision is not None and (revised := self._client_turns.revision(revision)):
            events.append(revised)
        return events
