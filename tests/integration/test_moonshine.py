"""Moonshine, the recognizer of live streams, with the real model."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import numpy as np
import onnxruntime as ort
import pytest

from streamer.config import settings_from_env
from streamer.core.words import spread_words
from streamer.models.loader import MOONSHINE_FILES, STREAMING_ASR_MODEL, ModelSet, model_file
from streamer.models.manifest import load_manifest, package_file
from streamer.models.moonshine import MoonshineAsr
from tests.integration.conftest import telephone_segments

pytestmark = pytest.mark.models

RATE = 16000


def reference_words(start_s: float, end_s: float) -> str:
    """Reference text of the telephone call's segments that lie inside [start_s, end_s]."""
    segments = telephone_segments()
    inside = [s["text"] for s in segments if start_s <= s["start"] and s["end"] <= end_s]
    return normalize(" ".join(inside))


def normalize(text: str) -> str:
    return re.sub(r"[^\w' ]+", "", text.lower()).strip()


def test_recognizes_telephone_speech_and_batches_alike(
    models: ModelSet, telephone_audio: np.ndarray
) -> None:
    spans = [(8.3, 10.9), (12.4, 21.6)]
    clips = [telephone_audio[round(a * RATE) : round(b * RATE)] for a, b in spans]
    one_by_one = [models.streaming_asr.transcribe_batch([clip])[0] for clip in clips]
    for (start, end), words in zip(spans, one_by_one, strict=True):
        found = normalize(" ".join(text for text, _ in words))
        assert jiwer.wer(reference_words(start, end), found) < 0.2, found
        assert all(0.0 < confidence <= 1.0 for _, confidence in words)
    batched = models.streaming_asr.transcribe_batch(clips)
    # zero padding of the shorter clip may move a word's confidence, never its text much
    for alone, together in zip(one_by_one, batched, strict=True):
        alone_text = " ".join(t for t, _ in alone)
        together_text = " ".join(t for t, _ in together)
        assert jiwer.wer(normalize(alone_text), normalize(together_text)) < 0.2


def test_silence_and_too_short_input_give_no_words(models: ModelSet) -> None:
    silence, blip = np.zeros(RATE, dtype=np.float32), np.zeros(100, dtype=np.float32)
    assert models.streaming_asr.transcribe_batch([silence, blip]) == [[], []]
    assert models.streaming_asr.transcribe_batch([]) == []


def test_untimed_words_are_spread_over_speech_by_length() -> None:
    words = spread_words([("a", 0.5), ("longer", 0.9)], [(1000, 1900)])
    assert [(w.start_ms, w.end_ms) for w in words] == [(1000, 1200), (1200, 1900)]
    assert words[1].confidence == 0.9
    # a pause between two speech spans gets no word time
    words = spread_words([("one", 0.9), ("two", 0.9)], [(0, 400), (1000, 1400)])
    assert [(w.start_ms, w.end_ms) for w in words] == [(0, 400), (1000, 1400)]
    assert spread_words([], [(0, 100)]) == () and spread_words([("a", 1.0)], []) == ()


def test_converted_onnx_files_decode_like_the_shipped_ort_files(
    models: ModelSet, telephone_audio: np.ndarray
) -> None:
    """The set-up re-saves Moonshine's .ort files as ONNX (faster): the float32 files (for
    GPUs) give the very same words; the int8 ones the server runs on CPUs (activations
    quantized per call) the same text up to a word here and there."""
    files = load_manifest(Path("models"))[STREAMING_ASR_MODEL].files
    sources = [files[name].converted_from or files[name] for name in MOONSHINE_FILES]

    def asr(paths: list[Path]) -> MoonshineAsr:
        return MoonshineAsr(*paths, ort.SessionOptions(), ["CPUExecutionProvider"])

    shipped = asr([package_file(str(f.module), str(f.path)) for f in sources])
    folder = model_file(settings_from_env(), STREAMING_ASR_MODEL)
    converted = asr([folder / name for name in MOONSHINE_FILES])
    spans = [(0.5, 3.0), (3.0, 6.5), (8.3, 10.9), (12.4, 21.6), (22.0, 27.0)]
    clips = [telephone_audio[round(a * RATE) : round(b * RATE)] for a, b in spans]
    for clip in clips:
        assert shipped.transcribe_batch([clip]) == converted.transcribe_batch([clip])

    def text(words: list[tuple[str, float]]) -> str:
        return " ".join(word for word, _ in words).lower()

    reference = [text(shipped.transcribe_batch([clip])[0]) for clip in clips]
    int8 = [text(models.streaming_asr.transcribe_batch([clip])[0]) for clip in clips]
    assert jiwer.wer(reference, int8) < 0.1
