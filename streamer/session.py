"""The streaming session state machine (sans-I/O).

It takes audio bytes and model results and returns what to do next: model work for the shell
to run (`DecodeRequest`) and messages to send (`dict`s in the v3 wire shape, built by
`streamer.wire`). It never sleeps, reads a clock or touches a socket, so a test can drive it at
any speed and get the same events as a real-time run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streamer.agreement import StablePrefix
from streamer.audio import (
    MODEL_SAMPLE_RATE,
    Float32Array,
    StreamResampler,
    pcm_mulaw_to_float,
    pcm_s16le_to_float,
)
from streamer.clustering import (
    ClusteringParams,
    OnlineParams,
    OnlineSpeakers,
    SpeakerCount,
    agglomerative,
    match_labels,
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
SENTENCE_END = (".", "?", "!")


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
    revision_every_turns: int = 1
    """Re-cluster all speaker windows after this many final turns."""
    revision_clustering: ClusteringParams = field(
        default_factory=lambda: ClusteringParams(min_cluster_speech_s=6.0)
    )
    """Windows overlap by half, so 6 s of windows is about 3 s of one voice."""
    buffer_s: float = 60.0
    """Audio kept per session: the longest turn plus margin."""
    window_s: float = 1.5
    hop_s: float = 0.75


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """Run ASR on `audio` (which starts at absolute sample `offset`) and embed `windows`."""

    turn_order: int
    final: bool
    audio: Float32Array
    offset: int
    windows: list[tuple[int, int]]
    """absolute [start, end) sample spans to embed, inside the audio"""


@dataclass(slots=True)
class _FinalTurn:
    order: int
    words: tuple[Word, ...]
    windows: list[tuple[int, int]]
    embeddings: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]


class StreamSession:
    def __init__(self, config: StreamConfig) -> None:
        self.config = config
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
        self._speakers = OnlineSpeakers(OnlineParams(), config.max_speakers)
        self._finals: list[_FinalTurn] = []
        self.samples_received = 0
        self.partials_skipped = 0

    # ---- audio in -------------------------------------------------------------------------
    def add_audio(self, data: bytes) -> None:
        samples = (
            pcm_mulaw_to_float(data)
            if self.config.encoding == "pcm_mulaw"
            else pcm_s16le_to_float(data)
        )
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
                messages.append(speech_started_message(_ms(self._open_start)))
            elif isinstance(event, TurnEnded):
                requests.append(self._final_request(event))
        partial = self._partial_request()
        if partial is not None:
            requests.append(partial)
        return messages, requests

    def force_endpoint(self) -> list[DecodeRequest]:
        event = self._turns.force_end()
        return [self._final_request(event)] if event is not None else []

    def partial_dropped(self) -> None:
        """The shell skipped a partial decode (overloaded): allow the next one."""
        self._partial_in_flight = False
        self.partials_skipped += 1

    def is_open_turn(self, turn_order: int) -> bool:
        return self._open_start is not None and turn_order == self._turn_order

    def _partial_request(self) -> DecodeRequest | None:
        if self._open_start is None or self._partial_in_flight:
            return None
        end = self._vad_cursor
        interval = round(self.config.partial_interval_s * MODEL_SAMPLE_RATE)
        if end - self._last_partial_end < interval:
            return None
        self._last_partial_end = end
        self._partial_in_flight = True
        start = max(self._open_start, self._ring.start)
        return DecodeRequest(
            self._turn_order, False, self._ring.read(start, end), start, self._windows(start, end)
        )

    def _final_request(self, event: TurnEnded) -> DecodeRequest:
        pad = VAD_FRAME_SAMPLES * 3  # keep word onsets/tails the VAD frame edges may clip
        start = max(event.start_frame * VAD_FRAME_SAMPLES - pad, self._ring.start)
        end = min(event.end_frame * VAD_FRAME_SAMPLES + pad, self._ring.end)
        request = DecodeRequest(
            self._turn_order, True, self._ring.read(start, end), start, self._windows(start, end)
        )
        self._turn_order += 1
        self._open_start = None
        self._partial_in_flight = False
        self._prefix = StablePrefix()
        self._committed = []
        return request

    def _windows(self, start: int, end: int) -> list[tuple[int, int]]:
        if not self.config.speaker_labels:
            return []
        window = round(self.config.window_s * MODEL_SAMPLE_RATE)
        hop = round(self.config.hop_s * MODEL_SAMPLE_RATE)
        if end - start <= window:
            return [(start, end)]
        starts = list(range(start, end - window + 1, hop))
        if starts[-1] + window < end:
            starts.append(end - window)
        return [(s, s + window) for s in starts]

    # ---- model results --------------------------------------------------------------------
    def on_decoded(
        self, request: DecodeRequest, words: list[Word], embeddings: npt.NDArray[np.float64]
    ) -> list[Message]:
        if not request.final:
            self._partial_in_flight = False
            if request.turn_order != self._turn_order or self._open_start is None:
                return []  # the turn ended while this partial was decoding
            return [self._partial_turn(request, words, embeddings)]
        return self._final_turn(request, words, embeddings)

    def _partial_turn(
        self, request: DecodeRequest, words: list[Word], embeddings: npt.NDArray[np.float64]
    ) -> Message:
        texts = [w.text for w in words]
        committed = self._prefix.update(texts)
        if committed > len(self._committed):
            self._committed = list(words[:committed])
        self._turns.sentence_complete = bool(texts) and texts[-1].endswith(SENTENCE_END)
        labels, _ = self._label_words(request, words, embeddings, learn=False)
        named = [w.with_speaker(n) for w, n in zip(words, labels, strict=True)]
        finals = [True] * len(self._committed) + [False] * (len(named) - len(self._committed))
        return turn_message(
            turn_order=request.turn_order,
            words=named,
            word_is_final=finals[: len(named)],
            end_of_turn=False,
            formatted=False,
            end_of_turn_confidence=0.9 if self._turns.sentence_complete else 0.1,
            transcript=join_words(named[: len(self._committed)]),
        )

    def _final_turn(
        self, request: DecodeRequest, words: list[Word], embeddings: npt.NDArray[np.float64]
    ) -> list[Message]:
        labels, window_labels = self._label_words(request, words, embeddings, learn=True)
        named = [w.with_speaker(n) for w, n in zip(words, labels, strict=True)]
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
        if self.config.speaker_labels and embeddings.size:
            self._finals.append(
                _FinalTurn(
                    request.turn_order,
                    tuple(named),
                    request.windows,
                    embeddings,
                    window_labels,
                )
            )
            if len(self._finals) % self.config.revision_every_turns == 0:
                revision = self._revise()
                if revision is not None:
                    messages.append(revision)
        return messages

    # ---- speakers -------------------------------------------------------------------------
    def _label_words(
        self,
        request: DecodeRequest,
        words: list[Word],
        embeddings: npt.NDArray[np.float64],
        learn: bool,
    ) -> tuple[list[str | None], npt.NDArray[np.int64]]:
        """Speaker names of the words and the speaker of each embedding window; `learn`
        lets the windows shape the speakers (finals), otherwise they only look (partials)."""
        if not self.config.speaker_labels or not len(embeddings):
            return [None] * len(words), np.zeros(0, dtype=np.int64)
        window_labels = []
        for (start, end), embedding in zip(request.windows, embeddings, strict=True):
            speech_s = (end - start) / MODEL_SAMPLE_RATE
            label = (
                self._speakers.assign(embedding, speech_s)
                if learn
                else self._speakers.nearest(embedding)
            )
            window_labels.append(0 if label is None else label)
        per_window = np.array(window_labels, dtype=np.int64)
        if not words:
            return [], per_window
        labels = _word_labels(words, request.windows, per_window)
        return [speaker_name(int(label)) for label in labels], per_window

    def _revise(self) -> Message | None:
        """Re-cluster every window heard so far; relabel past turns whose labels changed."""
        embeddings = np.concatenate([t.embeddings for t in self._finals])
        old = np.concatenate([t.labels for t in self._finals])
        speech = np.concatenate(
            [[(e - s) / MODEL_SAMPLE_RATE for s, e in t.windows] for t in self._finals]
        )
        count = SpeakerCount(maximum=self.config.max_speakers)
        fresh = agglomerative(embeddings, speech, count, self.config.revision_clustering)
        new = match_labels(fresh, old)
        self._speakers.reset(embeddings, new)
        revisions = []
        offset = 0
        for turn in self._finals:
            labels = new[offset : offset + len(turn.labels)]
            offset += len(turn.labels)
            if np.array_equal(labels, turn.labels):
                continue
            turn.labels = labels
            names = _word_labels(list(turn.words), turn.windows, labels)
            revised = tuple(
                w.with_speaker(speaker_name(int(n))) for w, n in zip(turn.words, names, strict=True)
            )
            if revised != turn.words:
                turn.words = revised
                revisions.append((turn.order, list(revised)))
        return speaker_revision_message(revisions) if revisions else None


def _word_labels(
    words: list[Word], windows: list[tuple[int, int]], window_labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each word takes the speaker of the windows covering it most (10 ms frames)."""
    origin = min(s for s, _ in windows)
    frames = (max(e for _, e in windows) - origin) // 160 + 1
    scores = np.zeros((frames, int(window_labels.max()) + 1))
    for (start, end), label in zip(windows, window_labels.tolist(), strict=True):
        scores[(start - origin) // 160 : (end - origin) // 160, label] += 1.0
    timeline = SpeakerTimeline(scores=scores, step_s=0.01, offset_s=origin / MODEL_SAMPLE_RATE)
    labels = word_speakers(words, timeline)
    return smooth_islands(words, np.maximum(labels, 0), SmoothingParams())


def _ms(sample: int) -> int:
    return round(sample * 1000 / MODEL_SAMPLE_RATE)
