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
from dataclasses import dataclass, field

from streamer.api.inference import StreamingInference
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, float_to_pcm_s16le
from streamer.core.utterances import utterances
from streamer.core.words import Transcript
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
    """per turn: final Turn sent, after its last word ended"""
    finals_unsure: int = 0
    """final Turns whose words did not end a sentence: they waited for `max_turn_silence`
    (or were forced or split)"""
    word_final_lag_s: list[float] = field(default_factory=list)
    """per word: first sent as final, after it was spoken"""
    words_sent: int = 0
    label_flips: int = 0
    """words whose speaker a SpeakerRevision changed after the final Turn"""
    partials_skipped: int = 0
    compute_s: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamResult:
    transcript: Transcript
    stats: StreamStats


class _Run:
    def __init__(self, inference: StreamingInference, config: StreamConfig) -> None:
        self.inference = inference
        self.session = StreamSession(config, inference.grid)
        self.vad = inference.session_vad()
        self.queue: deque[DecodeRequest] = deque()
        self.busy_until: float | None = None
        self.completions: list[tuple[float, int, DecodeRequest, Decoded]] = []
        self.sent: list[tuple[float, SessionEvent]] = []
        self.compute_s = 0.0
        self._sequence = 0

    def send(self, now: float, events: list[SessionEvent]) -> None:
        self.sent.extend((now, event) for event in events)

    def enqueue(self, now: float, requests: list[DecodeRequest]) -> None:
        self.queue.extend(requests)
        self.start_next(now)

    def start_next(self, now: float) -> None:
        """The worker takes the next request if idle, by the session's plan for it (one
        stream: the worker is never crowded by others)."""
        while self.busy_until is None and self.queue:
            request = self.queue.popleft()
            plan = self.session.plan(request, crowded=False)
            if plan.action is Action.SKIP:
                continue
            started = time.perf_counter()
            result = plan.reused
            if result is None:
                result = self.inference.decode_blocking(request)
            spent = time.perf_counter() - started
            self.compute_s += spent
            self.busy_until = now + spent
            self._sequence += 1
            heapq.heappush(self.completions, (self.busy_until, self._sequence, request, result))

    def complete_until(self, now: float) -> None:
        while self.completions and self.completions[0][0] <= now:
            done, _, request, (words, local) = heapq.heappop(self.completions)
            self.busy_until = None
            self.send(done, self.session.on_decoded(request, words, local))
            self.start_next(done)

    def audio(self, now: float, samples: Float32Array) -> None:
        self.complete_until(now)
        self.session.add_audio(float_to_pcm_s16le(samples))
        started = time.perf_counter()
        probs = self.vad.probabilities_blocking(self.session.vad_input())
        self.compute_s += time.perf_counter() - started
        events, requests = self.session.on_vad(probs)
        self.send(now, events)
        self.enqueue(now, requests)

    def drain(self, now: float) -> None:
        self.enqueue(now, self.session.force_endpoint())
        while self.completions:
            self.complete_until(self.completions[0][0])


def simulate(
    inference: StreamingInference, config: StreamConfig, audio: Float32Array
) -> StreamResult:
    """Stream 16 kHz `audio` (sent as pcm_s16le at 16 kHz) and measure the session."""
    if config.sample_rate != MODEL_SAMPLE_RATE or config.encoding != "pcm_s16le":
        raise ValueError("the simulation sends 16 kHz pcm_s16le")
    run = _Run(inference, config)
    step = round(CHUNK_S * MODEL_SAMPLE_RATE)
    for start in range(0, len(audio), step):
        end = min(start + step, len(audio))
        run.audio(end / MODEL_SAMPLE_RATE, audio[start:end])
    run.drain(len(audio) / MODEL_SAMPLE_RATE)
    stats = measure(run.sent, config.turn.end_of_turn_confidence_threshold)
    stats.partials_skipped = run.session.partials_skipped
    stats.compute_s = run.compute_s
    held = HeldTranscript()
    for _, event in run.sent:
        held.apply(event)
    words = held.words
    return StreamResult(
        transcript=Transcript(
            words=words,
            utterances=utterances(words),
            audio_duration_s=len(audio) / MODEL_SAMPLE_RATE,
        ),
        stats=stats,
    )


def measure(sent: list[tuple[float, SessionEvent]], confidence_threshold: float) -> StreamStats:
    """What a client would feel, from the events sent and when (seconds)."""
    stats = StreamStats()
    speech_started: list[float] = []
    first_partial: dict[int, float] = {}
    final_seen: dict[tuple[int, int], float] = {}
    final_speaker: dict[tuple[int, int], str | None] = {}
    for now, event in sent:
        if isinstance(event, SpeechStarted):
            speech_started.append(event.timestamp_ms / 1000)
        elif isinstance(event, TurnUpdate):
            order, words = event.turn_order, event.words
            if words and not event.end_of_turn:
                first_partial.setdefault(order, now)
            for index, word in enumerate(words[: event.final_count]):
                final_seen.setdefault((order, index), now - word.end_ms / 1000)
            if event.end_of_turn:
                stats.words_sent += len(words)
                if words:
                    stats.final_after_speech_s.append(now - words[-1].end_ms / 1000)
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
    stats.first_partial_s = [
        first_partial[order] - speech_started[order]
        for order in sorted(first_partial)
        if order < len(speech_started)
    ]
    return stats
