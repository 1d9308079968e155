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
from typing import Any

from streamer.audio import MODEL_SAMPLE_RATE, Float32Array, float_to_pcm_s16le
from streamer.events import Transcript, Word
from streamer.inference import StreamingInference
from streamer.models.vad import VadState
from streamer.offline import utterances
from streamer.session import DecodeRequest, Message, StreamConfig, StreamSession

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
        self.session = StreamSession(config, inference.speakers.grid)
        self.vad_state = VadState()
        self.queue: deque[DecodeRequest] = deque()
        self.busy_until: float | None = None
        self.completions: list[tuple[float, int, DecodeRequest, Any]] = []
        self.sent: list[tuple[float, Message]] = []
        self.compute_s = 0.0
        self._sequence = 0

    def send(self, now: float, messages: list[Message]) -> None:
        self.sent.extend((now, m) for m in messages)

    def enqueue(self, now: float, requests: list[DecodeRequest]) -> None:
        self.queue.extend(requests)
        self.start_next(now)

    def start_next(self, now: float) -> None:
        """The worker takes the next request if idle, dropping partials of ended turns."""
        while self.busy_until is None and self.queue:
            request = self.queue.popleft()
            if not request.final and not self.session.still_useful(request):
                self.session.partial_dropped(request)
                continue
            started = time.perf_counter()
            result = self.inference.decode_blocking(request, self.session.reusable(request))
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
        probs = self.inference.vad_blocking(self.session.vad_input(), self.vad_state)
        self.compute_s += time.perf_counter() - started
        messages, requests = self.session.on_vad(probs)
        self.send(now, messages)
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
    words = final_words(run.sent)
    return StreamResult(
        transcript=Transcript(
            words=words,
            utterances=utterances(words),
            audio_duration_s=len(audio) / MODEL_SAMPLE_RATE,
        ),
        stats=stats,
    )


def _words(message: Message) -> list[dict[str, Any]]:
    words = message.get("words", [])
    assert isinstance(words, list)
    return words


def final_words(sent: list[tuple[float, Message]]) -> tuple[Word, ...]:
    """The transcript a client holds at the end: final Turns with revisions applied."""
    latest: dict[int, list[dict[str, Any]]] = {}
    for _, message in sent:
        if message["type"] == "Turn" and message["end_of_turn"]:
            latest[int(str(message["turn_order"]))] = _words(message)
        elif message["type"] == "SpeakerRevision":
            for revision in message["revisions"]:  # type: ignore[attr-defined]
                latest[int(revision["turn_order"])] = revision["words"]
    return tuple(
        Word(w["text"], w["start"], w["end"], w["confidence"], w.get("speaker"))
        for order in sorted(latest)
        for w in latest[order]
    )


def measure(sent: list[tuple[float, Message]], confidence_threshold: float) -> StreamStats:
    stats = StreamStats()
    speech_started: list[float] = []
    first_partial: dict[int, float] = {}
    final_seen: dict[tuple[int, int], float] = {}
    final_speaker: dict[tuple[int, int], str | None] = {}
    for now, message in sent:
        kind = message["type"]
        if kind == "SpeechStarted":
            speech_started.append(int(str(message["timestamp"])) / 1000)
        elif kind == "Turn":
            order = int(str(message["turn_order"]))
            words = _words(message)
            if words and not message["end_of_turn"]:
                first_partial.setdefault(order, now)
            for index, word in enumerate(words):
                if word["word_is_final"]:
                    final_seen.setdefault((order, index), now - word["end"] / 1000)
            if message["end_of_turn"]:
                stats.words_sent += len(words)
                if words:
                    stats.final_after_speech_s.append(now - words[-1]["end"] / 1000)
                    if float(str(message["end_of_turn_confidence"])) < confidence_threshold:
                        stats.finals_unsure += 1
                for index, word in enumerate(words):
                    final_speaker[(order, index)] = word.get("speaker")
        elif kind == "SpeakerRevision":
            for revision in message["revisions"]:  # type: ignore[attr-defined]
                for index, word in enumerate(revision["words"]):
                    key = (int(revision["turn_order"]), index)
                    if final_speaker.get(key) != word.get("speaker"):
                        stats.label_flips += 1
                        final_speaker[key] = word.get("speaker")
    stats.word_final_lag_s = list(final_seen.values())
    stats.first_partial_s = [
        first_partial[order] - speech_started[order]
        for order in sorted(first_partial)
        if order < len(speech_started)
    ]
    return stats
