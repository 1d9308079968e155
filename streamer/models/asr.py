"""Whisper through faster-whisper (CTranslate2): punctuated words with timestamps."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.tokenizer import _LANGUAGE_CODES

from streamer.core.audio import MODEL_SAMPLE_RATE, seconds_to_ms
from streamer.core.repeat_loops import loop_free
from streamer.core.words import Word

LANGUAGES = frozenset(_LANGUAGE_CODES)
"""What the multilingual Whisper decodes (faster-whisper keeps the list under a private name;
the package is pinned)."""
DEFAULT_LANGUAGE = "en"
"""What a request that names no language and asks for no detection is decoded in, as
AssemblyAI's default `en_us`."""


def whisper_language(language_code: str) -> str:
    """An AssemblyAI language code ("en_us", "en_au", "fr") as Whisper names it ("en", "fr"):
    Whisper has no regional variants."""
    return language_code.split("_", 1)[0]


BATCH_SIZE = 8
"""Regions decoded together; on 2 cores this more than halves whole-file time vs one by one."""
CLIP_TOKENS_PER_S = 15
"""Tokens a live clip's decode may write per second of audio (fast speech needs under 10,
punctuation and timestamps included)..."""
MAX_CLIP_TOKENS = 224
"""...and at most: half of Whisper's 448-token context, what faster-whisper allows a
decode with no prompt."""


@dataclass(frozen=True, slots=True)
class AsrResult:
    words: tuple[Word, ...]
    language: str | None
    language_probability: float | None = None
    """how sure Whisper was of `language`, when it detected it"""


class _LanguageHeard(threading.local):
    language: str | None = None
    probability: float = 0.0
    allowed: tuple[str, ...] = ()
    """the languages the next detection may find (empty: any)"""


class _DetectionRecorder:
    """CTranslate2's Whisper with every call passed through, keeping (per thread) what its
    last language detection found. With `multilingual`, faster-whisper finds each window's
    language on the encoder output it then decodes (one encoder pass; its separate detection
    costs a second), but reports only the language it was given: this is where the found one
    is read."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.heard = _LanguageHeard()

    def detect_language(self, encoder_output: Any, *args: Any, **kwargs: Any) -> Any:
        results = self._model.detect_language(encoder_output, *args, **kwargs)
        if self.heard.allowed:
            results = [_among(found, self.heard.allowed) for found in results]
        token, probability = results[0][0]
        self.heard.language, self.heard.probability = token[2:-2], probability
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _among(found: list[tuple[str, float]], allowed: tuple[str, ...]) -> list[tuple[str, float]]:
    """A detection's (token, probability) pairs, best first, kept to `allowed` languages
    with their probabilities shared out again (Whisper scores every language it knows)."""
    kept = [(token, p) for token, p in found if token[2:-2] in allowed]
    total = sum(p for _, p in kept) or 1.0
    return [(token, p / total) for token, p in kept]


class WhisperAsr:
    def __init__(
        self, model_dir: Path, device: str, threads: int, english_only: bool, workers: int = 1
    ):
        """`workers`: calls that may run at once, from as many threads."""
        self._model = WhisperModel(
            str(model_dir),
            device=device,
            compute_type="int8" if device == "cpu" else "int8_float16",
            cpu_threads=threads,
            num_workers=workers,
            local_files_only=True,
        )
        self._detections = _DetectionRecorder(self._model.model)
        self._model.model = self._detections
        self._batched = BatchedInferencePipeline(self._model)
        self.english_only = english_only

    def transcribe_regions(
        self,
        audio: npt.NDArray[np.float32],
        regions_s: Sequence[tuple[float, float]],
        language: str | None,
        offset_s: float = 0.0,
        hotwords: str | None = None,
    ) -> AsrResult:
        """Decode each (start, end) region (each at most 30 s) of 16 kHz audio; word times are
        those in `audio` plus `offset_s` (where it starts in the file). `hotwords`: terms
        Whisper reads before each window, and decodes toward (its prompt holds 223 tokens of
        them; the rest is cut)."""
        if not regions_s:
            return AsrResult(words=(), language=language)
        if self.english_only:
            language = "en"
        segments, info = self._batched.transcribe(
            audio,
            language=language,
            clip_timestamps=[{"start": s, "end": e} for s, e in regions_s],
            word_timestamps=True,
            batch_size=BATCH_SIZE,
            beam_size=1,
            hotwords=hotwords,
        )
        words = tuple(
            Word(
                text=w.word.strip(),
                start_ms=seconds_to_ms(offset_s + w.start),
                end_ms=seconds_to_ms(offset_s + max(w.end, w.start)),
                confidence=round(float(w.probability), 4),
            )
            for segment in segments
            for w in _looped_out(segment.words)
        )
        detected = language is None
        probability = round(float(info.language_probability), 4) if detected else None
        return AsrResult(words=words, language=info.language, language_probability=probability)

    def transcribe_clip(
        self,
        audio: npt.NDArray[np.float32],
        language: str | None,
        offset_ms: int = 0,
        candidates: Sequence[str] = (),
    ) -> AsrResult:
        """Decode one short clip of 16 kHz audio (a live stream's piece) in `language`, or
        the language Whisper finds in it (None), among `candidates` when there are some;
        word times from `offset_ms`."""
        finding = language is None and not self.english_only
        self._detections.heard.language = None
        self._detections.heard.allowed = tuple(candidates)
        segments, info = self._model.transcribe(
            audio,
            # A language to start from: `multilingual` finds the clip's own on the encoder
            # output it decodes.
            language=DEFAULT_LANGUAGE if finding else language,
            multilingual=finding,
            word_timestamps=True,
            beam_size=1,
            temperature=0.0,  # no fallback decodes: on a short clip they tripled its cost
            condition_on_previous_text=False,
            # a decode caught in a loop stops where the clip's speech would have to
            max_new_tokens=min(
                MAX_CLIP_TOKENS, ceil(len(audio) / MODEL_SAMPLE_RATE * CLIP_TOKENS_PER_S) + 8
            ),
        )
        words = tuple(
            Word(
                text=w.word.strip(),
                start_ms=offset_ms + seconds_to_ms(w.start),
                end_ms=offset_ms + seconds_to_ms(max(w.end, w.start)),
                confidence=round(float(w.probability), 4),
            )
            for segment in segments
            for w in _looped_out(segment.words)
        )
        heard = self._detections.heard
        if not finding:
            return AsrResult(words=words, language=info.language)
        if heard.language is None:  # no window was decoded, so none was heard
            return AsrResult(words=words, language=None)
        return AsrResult(
            words=words, language=heard.language, language_probability=round(heard.probability, 4)
        )


def _looped_out(words: Sequence[Any] | None) -> list[Any]:
    """A segment's words (faster-whisper's) that hold text, less the repeats of a loop
    (`core.repeat_loops`)."""
    spoken = [w for w in words or () if w.word.strip()]
    return [spoken[i] for i in loop_free([w.word.strip() for w in spoken])]
