"""Model calls for streaming sessions, off the event loop.

A VAD thread (cheap, must stay prompt) and `asr_workers` ASR workers (ASR + speaker analysis,
each a thread with model sessions of its own), shared by all sessions. ASR requests are
micro-batched: while the workers run, new requests wait, and a worker that comes free takes
every waiting request (up to `max_batch`) as one Moonshine batch, whose cost grows far slower
than its rows (one encoder call, one decoder step for all rows at a time). Each session sends
its requests one at a time, in order, so at most `max_sessions` wait. Decodes that end a piece
or a turn, and a turn's first partial, go first; a later partial is skipped (and counted by its
session) when one of those waits or the next batch is full, so it never makes them wait longer;
finals always run. onnxruntime releases the GIL while a model runs, so worker threads scale
until the Python between model calls does not.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from streamer.api.metrics import ServiceMetrics
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, samples_to_ms
from streamer.core.words import Word, spread_words
from streamer.models.loader import ModelSet, StreamWorkerModels
from streamer.models.moonshine import Word as MoonshineWord
from streamer.models.vad import VadState
from streamer.streaming.pieces import Decoded, DecodeKind, DecodeRequest, HeardLanguage

log = logging.getLogger(__name__)

MAX_BATCH = 4
"""Requests per batch: 4 Moonshine rows of 3 s cost about twice one on 2 cores."""
MAX_BATCH_PAD_S = 0.5
"""Rows longer than the shortest of their batch by more than this decode in another batch."""

_Waiting = tuple[DecodeRequest, "asyncio.Future[Decoded]"]


class SessionVad:
    """One stream's VAD: the shared model, run with this stream's recurrent state."""

    def __init__(self, inference: StreamingInference) -> None:
        self._inference = inference
        self._state = VadState()

    async def probabilities(self, audio: Float32Array) -> list[float]:
        """Speech probability of each frame of `audio`, on the VAD thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._inference.vad_pool, self.probabilities_blocking, audio
        )

    def probabilities_blocking(self, audio: Float32Array) -> list[float]:
        """The same in this thread (the streaming evaluation's clock times each call)."""
        started = time.perf_counter()
        probabilities = self._inference.models.vad.probabilities(audio, self._state)
        self._inference.metrics.vad_busy_s.inc(time.perf_counter() - started)
        return [float(p) for p in probabilities]


@dataclass(frozen=True, slots=True)
class _Worker:
    models: StreamWorkerModels
    pool: ThreadPoolExecutor
    openings_only: bool = False


class StreamingInference:
    def __init__(
        self,
        models: ModelSet,
        max_batch: int = MAX_BATCH,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.models = models
        self.grid = models.speaker_finder.grid
        self.max_batch = max_batch
        self.metrics = metrics or ServiceMetrics()
        self.vad_pool = ThreadPoolExecutor(1, thread_name_prefix="vad")
        self._workers = [
            _Worker(worker, ThreadPoolExecutor(1, thread_name_prefix=f"asr{index}"))
            for index, worker in enumerate(models.stream_workers)
        ]
        # A turn's first partial is short (about 40 ms to decode) and what a user waits for
        # most: a lane of its own, on the first worker's sessions (they may run from two
        # threads), so that it never waits behind a batch with speaker analysis.
        opening_lane = _Worker(
            models.stream_workers[0], ThreadPoolExecutor(1, "asr-opening"), openings_only=True
        )
        self._lanes = [opening_lane, *self._workers]
        self._free = list(self._lanes)
        self._waiting: list[_Waiting] = []
        self.metrics.asr_queue_depth.set_function(lambda: len(self._waiting))

    def crowded(self, request: DecodeRequest) -> bool:
        """Whether a partial had better be skipped: the next batch is full, or (unless it is
        the first of its turn, short and what a user waits for most) it would delay a decode
        that ends a piece or a turn."""
        if request.kind is not DecodeKind.PARTIAL:
            return False
        if len(self._waiting) >= self.max_batch:
            return True
        return not request.opening and any(not _deferrable(r) for r, _ in self._waiting)

    @property
    def pressure(self) -> float:
        """Decodes running or waiting, per worker: above 1 the workers cannot keep up."""
        busy = len(self._workers) - sum(not w.openings_only for w in self._free)
        return (busy + len(self._waiting)) / len(self._workers)

    def session_vad(self) -> SessionVad:
        """The VAD of a new stream."""
        return SessionVad(self)

    async def decode(self, request: DecodeRequest) -> Decoded:
        """The request's words and speakers, from the next batch."""
        if not request.speech:
            return [], None, None  # nothing to decode: no need to wait for the worker
        future: asyncio.Future[Decoded] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        self._start_batch()
        return await future

    def _start_batch(self) -> None:
        """On the event loop: hand the waiting requests to the workers that are free."""
        # requests of sessions that have gone are not decoded
        self._waiting = [waiting for waiting in self._waiting if not waiting[1].done()]
        # pieces and turns that end, and first partials, go first; others fill what is left
        self._waiting.sort(key=lambda waiting: _deferrable(waiting[0]))
        loop = asyncio.get_running_loop()
        for worker in sorted(self._free, key=lambda w: not w.openings_only):
            eligible = [w for w in self._waiting if w[0].opening or not worker.openings_only]
            if not eligible:
                continue
            batch = eligible[: self.max_batch]
            taken = {id(waiting) for waiting in batch}
            self._waiting = [w for w in self._waiting if id(w) not in taken]
            self._free.remove(worker)
            self.metrics.asr_batch_rows.observe(len(batch))
            requests = [request for request, _ in batch]
            try:
                work = loop.run_in_executor(worker.pool, self._decode_each, worker.models, requests)
            except RuntimeError as error:  # the pool is shut down
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                return
            work.add_done_callback(functools.partial(self._finish_batch, worker, batch))

    def _finish_batch(
        self,
        worker: _Worker,
        batch: list[_Waiting],
        done: asyncio.Future[list[Decoded | Exception]],
    ) -> None:
        self._free.append(worker)
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue  # its session has gone
            if done.cancelled():
                future.cancel()
            elif (error := done.exception()) is not None:
                future.set_exception(error)
            elif isinstance(result := done.result()[index], Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
        self._start_batch()

    def _decode_each(
        self, models: StreamWorkerModels, requests: list[DecodeRequest]
    ) -> list[Decoded | Exception]:
        """The batch; if it fails, each request alone, so that one bad request fails only
        its own session."""
        started = time.perf_counter()
        try:
            return list(decode_batch(models, requests))
        except Exception:
            log.exception("a batch of %d decodes failed; decoding them one by one", len(requests))
            results: list[Decoded | Exception] = []
            for request in requests:
                try:
                    results.append(decode_batch(models, [request])[0])
                except Exception as error:
                    results.append(error)
            return results
        finally:
            self.metrics.asr_busy_s.inc(time.perf_counter() - started)

    def decode_blocking(self, request: DecodeRequest) -> Decoded:
        """One request in this thread, by the first worker's models (the streaming
        evaluation's clock times each call)."""
        if not request.speech:
            return [], None, None
        return decode_batch(self._workers[0].models, [request])[0]

    def close(self) -> None:
        self.vad_pool.shutdown(wait=False, cancel_futures=True)
        for lane in self._lanes:
            lane.pool.shutdown(wait=False, cancel_futures=True)


def decode_batch(models: StreamWorkerModels, requests: list[DecodeRequest]) -> list[Decoded]:
    """Words of each request's speech: English ones by Moonshine, those of about the same
    length in one batch (words spread over the speech the VAD heard); the others by the
    multilingual Whisper one by one, in the language they are told or the one it finds (its
    own word times). Then the local speakers of each context that holds words."""
    english = [r.audio if r.speech and r.language == "en" else None for r in requests]
    texts = _transcribe_alike(models, english)
    results: list[Decoded] = []
    for request, found in zip(requests, texts, strict=True):
        words: list[Word] = []
        heard = None
        if request.speech and request.language == "en":
            spans = [(samples_to_ms(a), samples_to_ms(b)) for a, b in request.speech]
            words = list(spread_words(found, spans))
        elif request.speech:
            whisper = models.whisper.get()
            decoded = whisper.transcribe_clip(
                request.audio,
                request.language,
                samples_to_ms(request.offset),
                candidates=request.languages,
            )
            words = list(decoded.words)
            if request.language is None and decoded.language is not None:
                heard = HeardLanguage(decoded.language, decoded.language_probability or 0.0)
        local = None
        if request.context is not None and words:
            local = models.speaker_finder.find(request.context)
        results.append((words, local, heard))
    return results


def _transcribe_alike(
    models: StreamWorkerModels, audios: list[Float32Array | None]
) -> list[list[MoonshineWord]]:
    """Transcribe each audio (None: nothing to hear). The encoder has no padding mask, so a
    short row batched with a long one hears seconds of silence after its speech and decodes
    differently (lower case, no punctuation): only rows within `MAX_BATCH_PAD_S` of each
    other's length share a batch."""
    found: list[list[MoonshineWord]] = [[] for _ in audios]
    pending = sorted(
        ((i, audio) for i, audio in enumerate(audios) if audio is not None),
        key=lambda item: len(item[1]),
    )
    max_pad = round(MAX_BATCH_PAD_S * MODEL_SAMPLE_RATE)
    while pending:
        shortest = len(pending[0][1])
        group = [item for item in pending if len(item[1]) - shortest <= max_pad]
        pending = pending[len(group) :]
        rows = models.asr.transcribe_batch([audio for _, audio in group])
        for (index, _), words in zip(group, rows, strict=True):
            found[index] = words
    return found


def _deferrable(request: DecodeRequest) -> bool:
    """A partial that only refreshes words already shown."""
    return request.kind is DecodeKind.PARTIAL and not request.opening
