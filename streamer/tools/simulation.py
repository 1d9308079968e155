"""Run a file through the real streaming session and models on a virtual clock.

Audio "arrives" in 100 ms chunks at its own pace; each model call really runs and takes its
measured time on the virtual clock of one ASR worker, so the session sees results when a
real-time run of one stream on this machine would, yet the run only takes the compute time.
(A real server also runs the VAD beside the worker on the same cores; `load_tests/` measures
that.) Events are processed in time order (chunk arrivals and decode completions), as the
server's event loop would. From the messages sent we measure what a client would feel.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from streamer.api.inference import StreamingInference
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, float_to_pcm_s16le
from streamer.core.utterances import utterances
from streamer.core.words import Transcript, Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import (
    HeldTranscript,
    SessionEvent,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
)
from streamer.streaming.pieces import Action, Decoded, DecodeRequest
from streamer.streaming.session import StreamSession

CHUNK_S = 0.1


@dataclass(slots=True)
class StreamStats:
    """Latencies in seconds of virtual (= real-time-equivalent) time."""

    first_partial_s: list[float] = field(default_factory=list)
    """per turn: first partial with words, after the turn's speech started"""
    final_after_speech_s: list[float] = field(default_factory=list)
    """per turn ended by a pause: final Turn sent, after its last word ended"""
    speaker_change_final_s: list[float] = field(default_factory=list)
    """per turn ended by the next speaker: final Turn sent, after its last word ended (the
    next speaker's words up to the change had to be heard and analysed first)"""
    finals_unsure: int = 0
    """final Turns whose words did not end a sentence: they waited for `max_turn_silence`
    (or were forced or split)"""
    word_final_lag_s: list[float] = field(default_factory=list)
    """per word: first sent as final (in whichever turn), after it was spoken"""
    words_sent: int = 0
    finals: int = 0
    """final Turns with words"""
    finals_mixed_sent: int = 0
    """...whose words carried two or more speakers when sent (a one-word back-channel stays
    inside a turn)..."""
    finals_mixed_held: int = 0
    """...and as the client holds them at the end (a revision may relabel part of a turn)"""
    label_flips: int = 0
    """words whose speaker a SpeakerRevision changed after the final Turn"""
    partials_skipped: int = 0
    compute_s: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamResult:
    transcript: Transcript
    stats: StreamStats
    turns: tuple[tuple[Word, ...], ...] = ()
    """the final turns as the client holds them at the end (revisions applied)"""


class SimulatedStream:
    """One stream on the virtual clock, fed chunk by chunk (`feed`), so a caller can watch a
    long call as it goes; `sent` holds the events sent and when, until the caller takes them
    (`take_sent`).

    `clock` times each call: wall time by default; `time.process_time` (CPU seconds of all
    threads) keeps a long run on time on a machine busy with other work, where wall time
    would make the stream fall behind real time and its decodes queue up without end."""

    def __init__(
        self,
        inference: StreamingInference,
        config: StreamConfig,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if config.sample_rate != MODEL_SAMPLE_RATE or config.encoding != "pcm_s16le":
            raise ValueError("the simulation sends 16 kHz pcm_s16le")
        self.inference = inference
        self.session = StreamSession(config, inference.grid)
        self.vad = inference.session_vad()
        self.queue: deque[DecodeRequest] = deque()
        self.busy_until: float | None = None
        self.completions: list[tuple[float, int, DecodeRequest, Decoded]] = []
        self.sent: list[tuple[float, SessionEvent]] = []
        self.compute_s = 0.0
        """seconds the models took"""
        self.session_s = 0.0
        """seconds the session's own calls took (a server runs them on its event loop)"""
        self.samples_fed = 0
        self._clock = clock
        self._sequence = 0

    @property
    def now(self) -> float:
        """Virtual seconds: the end of the audio fed so far."""
        return self.samples_fed / MODEL_SAMPLE_RATE

    @property
    def lag_s(self) -> float:
        """How far past the audio fed the worker's decode runs (0 when idle): it grows when
        the stream falls behind real time."""
        return 0.0 if self.busy_until is None else max(0.0, self.busy_until - self.now)

    def feed(self, audio: Float32Array) -> None:
        """Audio arriving next, in `CHUNK_S` chunks at its own pace (the last may be shorter)."""
        step = round(CHUNK_S * MODEL_SAMPLE_RATE)
        for start in range(0, len(audio), step):
            chunk = audio[start : start + step]
            self.samples_fed += len(chunk)
            self._audio(self.now, chunk)

    def finish(self) -> None:
        """End the open turn and let every decode complete."""
        self._enqueue(self.now, self.session.force_endpoint())
        while self.completions:
            self._complete_until(self.completions[0][0])

    def take_sent(self) -> list[tuple[float, SessionEvent]]:
        """The events sent since the last call (a long run need not hold them all)."""
        sent, self.sent = self.sent, []
        return sent

    def _send(self, now: float, events: list[SessionEvent]) -> None:
        self.sent.extend((now, event) for event in events)

    def _enqueue(self, now: float, requests: list[DecodeRequest]) -> None:
        self.queue.extend(requests)
        self._start_next(now)

    def _start_next(self, now: float) -> None:
        """The worker takes the next request if idle, by the session's plan for it (one
        stream: the worker is never crowded by others)."""
        while self.busy_until is None and self.queue:
            request = self.queue.popleft()
            plan = self.session.plan(request, crowded=False)
            if plan.action is Action.SKIP:
                continue
            started = self._clock()
            result = plan.reused
            if result is None:
                result = self.inference.decode_blocking(request)
            spent = self._clock() - started
            self.compute_s += spent
            self.busy_until = now + spent
            self._sequence += 1
            heapq.heappush(self.completions, (self.busy_until, self._sequence, request, result))

    def _complete_until(self, now: float) -> None:
        while self.completions and self.completions[0][0] <= now:
            done, _, request, decoded = heapq.heappop(self.completions)
            self.busy_until = None
            started = self._clock()
            events = self.session.on_decoded(request, *decoded)
            self.session_s += self._clock() - started
            self._send(done, events)
            self._start_next(done)

    def _audio(self, now: float, samples: Float32Array) -> None:
        self._complete_until(now)
        self.session.add_audio(float_to_pcm_s16le(samples))
        started = self._clock()
        probs = self.vad.probabilities_blocking(self.session.vad_input())
        self.compute_s += self._clock() - started
        started = self._clock()
        pressure = (self.busy_until is not None) + len(self.queue)  # one worker
        events, requests = self.session.on_vad(probs, pressure)
        self.session_s += self._clock() - started
        self._send(now, events)
        self._enqueue(now, requests)


def simulate(
    inference: StreamingInference, config: StreamConfig, audio: Float32Array
) -> StreamResult:
    """Stream 16 kHz `audio` (sent as pcm_s16le at 16 kHz) and measure the session."""
    stream = SimulatedStream(inference, config)
    stream.feed(audio)
    stream.finish()
    stats = measure(stream.sent, config.turn.end_of_turn_confidence_threshold)
    stats.partials_skipped = stream.session.partials_skipped
    stats.compute_s = stream.compute_s
    held = HeldTranscript()
    for _, event in stream.sent:
        held.apply(event)
    words = held.words
    return StreamResult(
        transcript=Transcript(
            words=words,
            utterances=utterances(words),
            audio_duration_s=len(audio) / MODEL_SAMPLE_RATE,
        ),
        stats=stats,
        turns=tuple(held.turns[order] for order in sorted(held.turns)),
    )


def measure(sent: list[tuple[float, SessionEvent]], confidence_threshold: float) -> StreamStats:
    """What a client would feel, from the events sent and when (seconds)."""
    stats = StreamStats()
    started: float | None = None  # a turn the VAD opened, whose first partial is awaited
    first_word: dict[int, int] = {}
    """each turn's first word, counted over the session: a turn split at a change of speaker
    goes on as the next turn, so its words keep their place (and their first final time)"""
    ended_words = 0
    final_seen: dict[int, float] = {}
    final_speaker: dict[tuple[int, int], str | None] = {}
    held = HeldTranscript()
    for now, event in sent:
        held.apply(event)
        if isinstance(event, SpeechStarted):
            started = event.timestamp_ms / 1000
        elif isinstance(event, TurnUpdate):
            order, words = event.turn_order, event.words
            if order not in first_word:
                first_word[order] = ended_words
                if words and not event.end_of_turn and started is not None:
                    stats.first_partial_s.append(now - started)
                    started = None  # (a turn begun by a change of speaker has no start)
            for index, word in enumerate(words[: event.final_count]):
                final_seen.setdefault(first_word[order] + index, now - word.end_ms / 1000)
            if event.end_of_turn:
                ended_words = first_word[order] + len(words)
                stats.words_sent += len(words)
                if words:
                    stats.finals += 1
                    stats.finals_mixed_sent += _speakers(words) > 1
                    after = now - words[-1].end_ms / 1000
                    if event.speaker_changed:
                        stats.speaker_change_final_s.append(after)
                    else:
                        stats.final_after_speech_s.append(after)
                    if event.end_of_turn_confidence < confidence_threshold:
                        stats.finals_unsure += 1
                for index, word in enumerate(words):
                    final_speaker[(order, index)] = word.speaker
        elif isinstance(event, SpeakerRevision):
            for turn in event.turns:
                for index, word in enumerate(turn.words):
                    key = (turn.turn_order, index)
                    if final_speaker.get(key) != word.speaker:
                        stats.label_flips += 1
                        final_speaker[key] = word.speaker
    stats.word_final_lag_s = list(final_seen.values())
    stats.finals_mixed_held = sum(_speakers(words) > 1 for words in held.turns.values())
    return stats


def _speakers(words: tuple[Word, ...]) -> int:
    return len({word.speaker for word in words})
