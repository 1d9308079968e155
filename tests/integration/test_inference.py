"""The streaming model worker with the real models: requests of several sessions that wait at
the same time decode as one batch, with the words each would get alone; requests in another
language, or whose language is to be found, go to Whisper."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import jiwer
import numpy as np
import pytest

from streamer.api.inference import StreamingInference
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.streaming.pieces import Decoded, DecodeKind, DecodeRequest, HeardLanguage
from streamer.tools.speech_samples import SPANISH

pytestmark = pytest.mark.models

RATE = 16000


def request(audio: np.ndarray, start_s: float, end_s: float, kind: DecodeKind) -> DecodeRequest:
    a, b = round(start_s * RATE), round(end_s * RATE)
    clip = audio[a:b]
    return DecodeRequest(
        turn_order=0,
        kind=kind,
        audio=clip,
        offset=a,
        speech=((a, b),) if b > a else (),
        context=clip if kind is not DecodeKind.PARTIAL else None,
        context_offset=a,
    )


def test_waiting_requests_share_one_batch(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    inference = StreamingInference(transcriber.models, max_batch=4)
    requests = [
        request(telephone_audio, 8.3, 10.9, DecodeKind.PARTIAL),
        request(telephone_audio, 12.4, 16.0, DecodeKind.PAUSE),
        request(telephone_audio, 16.0, 21.6, DecodeKind.FINAL),
        request(telephone_audio, 0.0, 0.0, DecodeKind.FINAL),  # no speech: nothing to decode
    ]
    alone = [inference.decode_blocking(r) for r in requests]

    async def all_at_once() -> list[Decoded]:
        return list(await asyncio.gather(*(inference.decode(r) for r in requests)))

    together = asyncio.run(all_at_once())
    # the first request found the worker free; two waited and went as one batch, and the
    # final without speech needed no worker at all
    registry = inference.metrics.registry
    assert registry.get_sample_value("streamer_asr_batch_rows_count") == 2
    assert registry.get_sample_value("streamer_asr_batch_rows_sum") == 3
    for (words_alone, local_alone, _), (words, local, heard) in zip(alone, together, strict=True):
        assert heard is None  # English, as told: nothing to find
        # zero padding in a batch may move a confidence, never the text much
        text_alone = " ".join(w.text for w in words_alone).lower()
        assert jiwer.wer(text_alone or "-", " ".join(w.text for w in words).lower() or "-") < 0.2
        assert (local is None) == (local_alone is None)
    assert together[0][1] is None and together[1][1] is not None  # partials: no speakers
    assert together[3] == ([], None, None)
    assert all(w.start_ms >= 16000 and w.end_ms <= 21600 for w in together[2][0])

    # while a final waits, a partial that only refreshes shown words is better skipped; a
    # turn's first partial is not
    opening = replace(requests[0], opening=True)
    assert not inference.crowded(requests[0])  # nothing waits

    async def while_a_final_waits() -> tuple[bool, bool]:
        running = asyncio.ensure_future(inference.decode(requests[1]))
        await asyncio.sleep(0)  # it took the free worker
        waiting = asyncio.ensure_future(inference.decode(requests[2]))
        await asyncio.sleep(0)
        verdict = inference.crowded(requests[0]), inference.crowded(opening)
        await asyncio.gather(running, waiting)
        return verdict

    assert asyncio.run(while_a_final_waits()) == (True, False)
    inference.close()


def test_each_free_worker_takes_a_batch(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    """With two workers, two requests decode at once and the third waits for whichever is
    free first: three batches where one worker would run two ([1], then [2, 3])."""
    one = transcriber.models.stream_workers[0]
    models = replace(transcriber.models, stream_workers=(one, one))  # sessions may be shared
    inference = StreamingInference(models, max_batch=4)
    requests = [
        request(telephone_audio, 12.4, 16.0, DecodeKind.PAUSE),
        request(telephone_audio, 16.0, 21.6, DecodeKind.FINAL),
        request(telephone_audio, 8.3, 10.9, DecodeKind.FINAL),
    ]

    async def all_at_once() -> list[Decoded]:
        return list(await asyncio.gather(*(inference.decode(r) for r in requests)))

    results = asyncio.run(all_at_once())
    registry = inference.metrics.registry
    assert registry.get_sample_value("streamer_asr_batch_rows_count") == 3
    assert all(words for words, _, _ in results)
    assert all(local is not None for _, local, _ in results)  # each analysed its speakers
    inference.close()


def test_a_first_partial_does_not_wait_behind_a_running_final(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    """A turn's first partial has a lane of its own: with the only worker busy on a final
    (words and speaker analysis of 5.6 s), it comes back first."""
    inference = StreamingInference(transcriber.models, max_batch=4)
    final = request(telephone_audio, 16.0, 21.6, DecodeKind.FINAL)
    opening = replace(request(telephone_audio, 8.3, 8.9, DecodeKind.PARTIAL), opening=True)

    async def race() -> tuple[bool, list[object]]:
        running = asyncio.ensure_future(inference.decode(final))
        await asyncio.sleep(0)  # it took the worker
        first = asyncio.ensure_future(inference.decode(opening))
        done, _ = await asyncio.wait({running, first}, return_when=asyncio.FIRST_COMPLETED)
        words, _, _ = await first
        await running
        return done == {first}, words

    came_first, words = asyncio.run(race())
    assert came_first and words
    inference.close()


def test_other_languages_are_decoded_by_whisper_told_or_finding_the_language(
    transcriber: FileTranscriber,
) -> None:
    """Spanish told, Spanish found (with how sure, among any language or those named): words
    on the file's clock (the request's offset added to Whisper's own word times)."""
    spanish = decode_file(SPANISH.audio_path())
    inference = StreamingInference(transcriber.models)
    offset_s = 100.0
    padded = np.concatenate([np.zeros(round(offset_s * RATE), np.float32), spanish])
    told = replace(request(padded, offset_s, offset_s + 4.0, DecodeKind.PAUSE), language="es")
    found = replace(told, language=None)
    words, local, heard = inference.decode_blocking(told)
    assert heard is None and local is not None
    assert "sorpresa" in " ".join(w.text.lower() for w in words)
    assert all(100_000 <= w.start_ms <= w.end_ms <= 104_200 for w in words), words
    words, _, heard = inference.decode_blocking(found)
    assert heard is not None and heard.code == "es" and 0.5 < heard.confidence <= 1.0
    assert isinstance(heard, HeardLanguage) and "sorpresa" in " ".join(
        w.text.lower() for w in words
    )
    # found among languages a client named: the likelier of those, however unlike the speech
    _, _, heard = inference.decode_blocking(replace(found, languages=("fr", "es")))
    assert heard is not None and heard.code == "es" and heard.confidence > 0.9
    _, _, heard = inference.decode_blocking(replace(found, languages=("de", "sv")))
    assert heard is not None and heard.code in ("de", "sv") and heard.confidence <= 1.0
    inference.close()
