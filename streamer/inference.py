"""Model calls for streaming sessions, off the event loop.

One worker thread per model kind, shared by all sessions: VAD (cheap, must stay prompt) and
ASR (Whisper; Moonshine for a turn's first partial) + speaker analysis (expensive; each
session sends its requests one at a time, in order, so at most one per session waits: the
session limit bounds the queue). A partial decode only
starts when the ASR worker is idle, otherwise it is skipped and counted by the session; finals
always run.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from streamer.audio import MODEL_SAMPLE_RATE, Float32Array, samples_to_ms
from streamer.diarization import LocalSpeakers
from streamer.events import Word, spread_words
from streamer.models.loader import ModelSet
from streamer.models.vad import VadState
from streamer.pipeline import LocalSpeakerFinder
from streamer.session import DecodeRequest


class StreamingInference:
    def __init__(
        self,
        models: ModelSet,
        speakers: LocalSpeakerFinder,
        language: str = "en",
    ) -> None:
        self._models = models
        self.speakers = speakers
        self._vad_pool = ThreadPoolExecutor(1, thread_name_prefix="vad")
        self._asr_pool = ThreadPoolExecutor(1, thread_name_prefix="asr")
        self._pending = 0
        self.language = language

    @property
    def busy(self) -> bool:
        """True while any decode is queued or running: a partial then waits for nothing and
        is skipped, so finals (never skipped) never queue behind other sessions' partials."""
        return self._pending > 0

    async def vad(self, audio: Float32Array, state: VadState) -> list[float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._vad_pool, self.vad_blocking, audio, state)

    def vad_blocking(self, audio: Float32Array, state: VadState) -> list[float]:
        return [float(p) for p in self._models.vad.probabilities(audio, state)]

    async def decode(
        self, request: DecodeRequest, words: list[Word] | None = None
    ) -> tuple[list[Word], LocalSpeakers | None]:
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._asr_pool, self.decode_blocking, request, words)
        finally:
            self._pending -= 1

    def decode_blocking(
        self, request: DecodeRequest, words: list[Word] | None = None
    ) -> tuple[list[Word], LocalSpeakers | None]:
        """ASR on the request's audio (unless its `words` are known already) and the local
        speakers of its context, in this thread."""
        local = self.speakers.find(request.context) if request.context is not None else None
        if words is not None:
            return words, local
        if request.quick:
            # the cheap model has no word times: its words are spread over the speech
            speech = request.audio[: max(0, request.speech_end - request.offset)]
            (texts,) = self._models.partial_asr.transcribe_batch([speech])
            start_ms, end_ms = samples_to_ms(request.offset), samples_to_ms(request.speech_end)
            return list(spread_words(texts, start_ms, end_ms)), local
        duration_s = len(request.audio) / MODEL_SAMPLE_RATE
        result = self._models.asr.transcribe_regions(
            request.audio, [(0.0, duration_s)], self.language
        )
        shift_ms = samples_to_ms(request.offset)
        shifted = [
            replace(w, start_ms=w.start_ms + shift_ms, end_ms=w.end_ms + shift_ms)
            for w in result.words
        ]
        return shifted, local

    def close(self) -> None:
        self._vad_pool.shutdown(wait=False, cancel_futures=True)
        self._asr_pool.shutdown(wait=False, cancel_futures=True)
