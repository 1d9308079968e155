"""Model calls for streaming sessions, off the event loop.

Two worker threads shared by all sessions: VAD (cheap, must stay prompt) and ASR + speaker
analysis. ASR requests are micro-batched: while the worker runs a batch, new requests wait,
and when it is free it takes every waiting request (up to `max_batch`) as one Moonshine
batch, whose cost grows far slower than its rows (one encoder call, one decoder step for all
rows at a time). Each session sends its requests one at a time, in order, so at most
`max_sessions` wait. Decodes that end a piece or a turn, and a turn's first partial, go
first; a later partial is skipped (and counted by its session) when one of those waits or the
next batch is full, so it never makes them wait longer; finals always run.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from streamer.audio import Float32Array, samples_to_ms
from streamer.diarization import LocalSpeakers
from streamer.events import Word, spread_words
from streamer.models.loader import ModelSet
from streamer.models.vad import VadState
from streamer.pipeline import LocalSpeakerFinder
from streamer.session import DecodeKind, DecodeRequest

Decoded = tuple[list[Word], LocalSpeakers | None]
MAX_BATCH = 4
"""Rows per Moonshine batch: 4 rows cost about 1.5 times one on 2 cores."""

_Waiting = tuple[DecodeRequest, "asyncio.Future[Decoded]"]


class StreamingInference:
    def __init__(
        self, models: ModelSet, speakers: LocalSpeakerFinder, max_batch: int = MAX_BATCH
    ) -> None:
        self._models = models
        self.speakers = speakers
        self.max_batch = max_batch
        self._vad_pool = ThreadPoolExecutor(1, thread_name_prefix="vad")
        self._asr_pool = ThreadPoolExecutor(1, thread_name_prefix="asr")
        self._waiting: list[_Waiting] = []
        self._running = False
        self.batch_sizes: list[int] = []
        """rows of each batch run so far (recent ones), for load tests"""

    def crowded(self, request: DecodeRequest) -> bool:
        """Whether a partial had better be skipped: the next batch is full, or (unless it is
        the first of its turn, short and what a user waits for most) it would delay a decode
        that ends a piece or a turn."""
        if request.kind is not DecodeKind.PARTIAL:
            return False
        if len(self._waiting) >= self.max_batch:
            return True
        return not request.opening and any(not _deferrable(r) for r, _ in self._waiting)

    async def vad(self, audio: Float32Array, state: VadState) -> list[float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._vad_pool, self.vad_blocking, audio, state)

    def vad_blocking(self, audio: Float32Array, state: VadState) -> list[float]:
        return [float(p) for p in self._models.vad.probabilities(audio, state)]

    async def decode(self, request: DecodeRequest, known: Decoded | None = None) -> Decoded:
        """The request's words and speakers, from the next batch (or `known` already)."""
        if known is not None:
            return known
        future: asyncio.Future[Decoded] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        self._start_batch()
        return await future

    def _start_batch(self) -> None:
        """On the event loop: hand the waiting requests to the worker if it is free."""
        if self._running or not self._waiting:
            return
        # pieces and turns that end, and first partials, go first; others fill what is left
        self._waiting.sort(key=lambda waiting: _deferrable(waiting[0]))
        batch = self._waiting[: self.max_batch]
        del self._waiting[: self.max_batch]
        self._running = True
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self._asr_pool, self.decode_batch_blocking, [request for request, _ in batch]
        )
        work.add_done_callback(lambda done: self._finish_batch(batch, done))

    def _finish_batch(self, batch: list[_Waiting], done: asyncio.Future[list[Decoded]]) -> None:
        self._running = False
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue  # its session has gone
            if done.cancelled():
                future.cancel()
            elif (error := done.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result()[index])
        self._start_batch()

    def decode_blocking(self, request: DecodeRequest, known: Decoded | None = None) -> Decoded:
        """One request in this thread (the streaming evaluation's clock times each call)."""
        return known if known is not None else self.decode_batch_blocking([request])[0]

    def decode_batch_blocking(self, requests: list[DecodeRequest]) -> list[Decoded]:
        """Words of each request's speech in one Moonshine batch, then the local speakers of
        each context that holds words."""
        speaking = [r for r in requests if r.speech]
        texts = iter(self._models.streaming_asr.transcribe_batch([r.audio for r in speaking]))
        results: list[Decoded] = []
        for request in requests:
            if not request.speech:
                results.append(([], None))
                continue
            spans = [(samples_to_ms(a), samples_to_ms(b)) for a, b in request.speech]
            words = list(spread_words(next(texts), spans))
            local = None
            if request.context is not None and words:
                local = self.speakers.find(request.context)
            results.append((words, local))
        return results

    def close(self) -> None:
        self._vad_pool.shutdown(wait=False, cancel_futures=True)
        self._asr_pool.shutdown(wait=False, cancel_futures=True)


def _deferrable(request: DecodeRequest) -> bool:
    """A partial that only refreshes words already shown."""
    return request.kind is DecodeKind.PARTIAL and not request.opening
