"""The streaming session state machine (sans-I/O).

It takes audio bytes and model results and returns what to do next: model work for the shell
to run (`DecodeRequest`) and messages to send (`dict`s in the v3 wire shape, built by
`streamer.wire`). It never sleeps, reads a clock or touches a socket, so a test or the
streaming evaluation can drive it at any speed and get the events a real-time run would.

Speakers: each decode comes back with the segmentation of the last few seconds (up to three
local speakers per 10 s window) and an embedding per local speaker; online clustering maps
them to session speakers, and the offline stitching gives every word the speaker most active
over it. After each final turn, everything heard so far is re-clustered with the offline
algorithm; turns whose words change speaker are sent again as a `SpeakerRevision`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

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
from streamer.speakers import SmoothingParams, smooth_islands, speaker_name, word_speakers
from streamer.turns import TurnDetector, TurnEnded, TurnParams, TurnStarted
from streamer.wire import speaker_revision_message, speech_started_message, turn_message

Message = dict[str, object]
"""A server message in the v3 wire shape, ready for JSON."""

VAD_FRAME_SAMPLES = 512
PAUSE_MS = 150
"""Trailing silence after which the open turn is decoded through its end."""
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
    partial_interval_s: float = 0.6
    """Re-decode the open turn after this much new audio (if the last decode is back)."""
    first_partial_s: float = 0.4
    """A turn's first partial after this much audio, from the cheap model (more of them
    would delay the Whisper decodes that follow: one stream keeps the worker busy)."""
    speaker_context_s: float = 10.0
    """Audio before a turn's end that the segmentation sees (one model window)."""
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
    """Audio kept per session: the longest turn plus the speaker context, with margin."""


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """Transcribe `audio` (absolute sample `offset`); find local speakers in `context`
    (absolute sample `context_offset`, ending where `audio` ends)."""

    turn_order: int
    final: bool
    audio: Float32Array
    offset: int
    context: Float32Array | None
    context_offset: int
    speech_end: int = 0
    """absolute sample where the turn's speech ended (finals)"""
    through_pause: bool = False
    """a partial that decodes through the end of the speech so far: worth running even once
    its turn has ended, since the final can reuse its words"""
    quick: bool = False
    """a turn's first partial: decoded by the cheap model (no word times, no speaker
    analysis), since Whisper costs a second however short the audio"""


@dataclass(slots=True)
class _FinalTurn:
    order: int
    words: tuple[Word, ...]
    local: LocalSpeakers
    context_offset: int
    row_speakers: npt.NDArray[np.int64]


class StreamSession:
    def __init__(self, config: StreamConfig, grid: FrameGrid) -> None:
        self.config = config
        self._grid = grid
        self._resampler = StreamResampler(config.sample_rate)
        self._ring = AudioRing(round(config.buffer_s * MODEL_SAMPLE_RATE))
        self._vad_cursor = 0
        self._turns = TurnDetector(config.turn, 1000 * VAD_FRAME_SAMPLES / MODEL_SAMPLE_RATE)
        self._turn_order = 0
        self._open_start: int | None = None
        self._last_partial_end = 0
        self._partial_in_flight = False
        self._prefix = StablePrefix()
        self._committed: list[Word] = []
        self._speakers = OnlineSpeakers(config.online, config.max_speakers)
        self._finals: deque[_FinalTurn] = deque(maxlen=config.revision_turns)
        self.samples_received = 0
        self.partials_skipped = 0
        self._odd_byte = b""
        self._current_speaker = speaker_name(0)
        """the speaker heard last: words decoded without speaker analysis take it"""
        self._heard: tuple[int, int, list[Word]] | None = None
        """(turn, absolute end sample, words) of the latest partial decode"""

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
        messages: list[Message] = []
        requests: list[DecodeRequest] = []
        for event in self._turns.feed(probabilities):
            if isinstance(event, TurnStarted):
                self._open_start = event.start_frame * VAD_FRAME_SAMPLES
                self._last_partial_end = self._open_start
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

    def partial_dropped(self) -> None:
        """The shell skipped a partial decode (overloaded or stale): allow the next one."""
        self._partial_in_flight = False
        self.partials_skipped += 1

    def reusable_words(self, request: DecodeRequest) -> list[Word] | None:
        """For a final: the words of a partial decode of the same turn that already heard all
        of its speech (no need to decode again), else None."""
        if self._heard is None or not request.final:
            return None
        turn, heard_until, words = self._heard
        if turn != request.turn_order or heard_until < request.speech_end - REUSE_SLACK:
            return None
        return words or None

    def is_open_turn(self, turn_order: int) -> bool:
        return self._open_start is not None and turn_order == self._turn_order

    def still_useful(self, request: DecodeRequest) -> bool:
        """Whether a queued partial is still worth running: its turn is open, or it decodes
        through the pause that ended its turn (the final will reuse it)."""
        return self.is_open_turn(request.turn_order) or (
            request.through_pause and request.turn_order == self._turn_order - 1
        )

    def _request(self, final: bool, start: int, end: int) -> DecodeRequest:
        start = max(start, self._ring.start)
        # Finals analyse the whole turn (every word needs a speaker) and at least the last
        # `speaker_context_s`; partials only the last `speaker_context_s`, to stay cheap.
        context = end - round(self.config.speaker_context_s * MODEL_SAMPLE_RATE)
        context_start = max(self._ring.start, min(start, context) if final else context)
        return DecodeRequest(
            turn_order=self._turn_order,
            final=final,
            audio=self._ring.read(start, end),
            offset=start,
            context=self._ring.read(context_start, end) if self.config.speaker_labels else None,
            context_offset=context_start,
        )

    def _partial_request(self) -> DecodeRequest | None:
        """Re-decode the open turn every `partial_interval_s` of new audio while speech goes
        on, one decode at a time; when the speaker pauses, once more through the end of the
        speech, so that when the pause turns out to end the turn the final can reuse those
        words instead of decoding again."""
        if self._open_start is None or self._partial_in_flight:
            return None
        end = self._vad_cursor
        silence_ms = self._turns.trailing_silence_ms
        first = self._last_partial_end == self._open_start
        interval = self.config.first_partial_s if first else self.config.partial_interval_s
        speech_end = end - round(silence_ms * MODEL_SAMPLE_RATE / 1000)
        if silence_ms >= PAUSE_MS:
            if self._last_partial_end >= speech_end:
                return None  # a decode already hears everything said
        elif end - self._last_partial_end < round(interval * MODEL_SAMPLE_RATE):
            return None
        self._last_partial_end = end
        self._partial_in_flight = True
        request = self._request(False, self._open_start, end)
        if first and silence_ms < PAUSE_MS:
            return replace(request, quick=True, context=None, speech_end=speech_end)
        return replace(request, through_pause=silence_ms >= PAUSE_MS)

    def _final_request(self, event: TurnEnded) -> DecodeRequest:
        pad = VAD_FRAME_SAMPLES * 3  # keep word onsets/tails the VAD frame edges may clip
        start = event.start_frame * VAD_FRAME_SAMPLES - pad
        end = min(event.end_frame * VAD_FRAME_SAMPLES + pad, self._ring.end)
        request = replace(
            self._request(True, start, end), speech_end=event.end_frame * VAD_FRAME_SAMPLES
        )
        self._turn_order += 1
        self._open_start = None
        self._partial_in_flight = False
        self._prefix = StablePrefix()
        self._committed = []
        return request

    # ---- model results --------------------------------------------------------------------
    def on_decoded(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[Message]:
        if request.final:
            return self._final_turn(request, words, local)
        self._partial_in_flight = False
        if not request.quick:
            self._heard = (request.turn_order, request.offset + len(request.audio), words)
        if not self.is_open_turn(request.turn_order):
            return []  # the turn ended while this partial was decoding
        return [self._partial_turn(request, words, local)]

    def _partial_turn(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> Message:
        texts = [w.text for w in words]
        committed = self._prefix.update(texts)
        if committed > len(self._committed):
            self._committed = list(words[:committed])
        # Only Whisper punctuates reliably: its sentence end is our end-of-turn signal.
        ends_sentence = bool(texts) and texts[-1].endswith(SENTENCE_END) and not request.quick
        self._turns.end_of_turn_confidence = CONFIDENT if ends_sentence else UNSURE
        rows = self._row_speakers(local, learn=False)
        named = self._name_words(words, local, request.context_offset, rows)
        self._note_speaker(named)
        final_count = min(len(self._committed), len(named))
        return turn_message(
            turn_order=request.turn_order,
            words=named,
            word_is_final=[i < final_count for i in range(len(named))],
            end_of_turn=False,
            formatted=False,
            end_of_turn_confidence=self._turns.end_of_turn_confidence,
            transcript=join_words(named[:final_count]),
        )

    def _final_turn(
        self, request: DecodeRequest, words: list[Word], local: LocalSpeakers | None
    ) -> list[Message]:
        rows = self._row_speakers(local, learn=True)
        named = self._name_words(words, local, request.context_offset, rows)
        self._note_speaker(named)
        messages: list[Message] = [
            turn_message(
                turn_order=request.turn_order,
                words=named,
                word_is_final=[True] * len(named),
                end_of_turn=True,
                formatted=self.config.format_turns,
                end_of_turn_confidence=1.0,
                transcript=join_words(named),
            )
        ]
        if local is not None and local.owners:
            self._finals.append(
                _FinalTurn(request.turn_order, tuple(named), local, request.context_offset, rows)
            )
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
        timeline, _ = global_timeline(
            local,
            chunk_assignment(local, rows),
            int(rows.max()) + 1,
            self._grid,
            self.config.diarization,
            offset_s=context_offset / MODEL_SAMPLE_RATE,
        )
        found = word_speakers(words, timeline)
        # words the segmentation heard no one in take the turn's main speaker
        main = int(rows[np.argmax(local.speech_s)])
        labels = smooth_islands(words, np.where(found < 0, main, found), SmoothingParams())
        return [
            w.with_speaker(speaker_name(int(label))) for w, label in zip(words, labels, strict=True)
        ]

    def _revise(self) -> Message | None:
        """Re-cluster the local speakers of the latest final turns; resend the turns whose
        labels changed."""
        everything = concatenate([t.local for t in self._finals])
        old = np.concatenate([t.row_speakers for t in self._finals])
        count = SpeakerCount(maximum=self.config.max_speakers)
        fresh, _ = cluster_rows(
            everything, count, self.config.revision, self.config.diarization.min_clustering_speech_s
        )
        new = match_labels(fresh, old, first_fresh=self._speakers.num_speakers)
        self._speakers.reset(everything.embeddings, new)
        revisions = []
        offset = 0
        for turn in self._finals:
            rows = new[offset : offset + len(turn.row_speakers)]
            offset += len(turn.row_speakers)
            if np.array_equal(rows, turn.row_speakers):
                continue
            turn.row_speakers = rows
            revised = tuple(
                self._name_words(list(turn.words), turn.local, turn.context_offset, rows)
            )
            if revised != turn.words:
                turn.words = revised
                revisions.append((turn.order, list(revised)))
        return speaker_revision_message(revisions) if revisions else None
