"""Moonshine base (English) on onnxruntime: the recognizer of live streams.

Unlike Whisper, whose every call pads to a 30 s window, its cost grows with the audio: a few
seconds of speech decode in a few tenths of a second, which is what re-decoding an open turn
needs. It punctuates and capitalizes, but gives no word times. Several buffers decode as one
batch: one encoder call, then the greedy decoder a step at a time for all rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.repeat_loops import loop_free

START_TOKEN, END_TOKEN = 1, 2
LAYERS, HEADS, HEAD_DIM = 8, 8, 52
MIN_SAMPLES = MODEL_SAMPLE_RATE // 10
"""Shorter input holds no word (and the encoder needs a few frames)."""
TOKENS_PER_SECOND = 6.5
"""Cap on decoder steps per second of audio (speech runs about 4): a row that never ends
its text cannot run away."""
SPACE = "\u2581"

Word = tuple[str, float]
"""A recognized word and its confidence (the mean probability of its tokens)."""


class MoonshineAsr:
    def __init__(
        self,
        encoder: Path,
        decoder: Path,
        tokenizer: Path,
        options: ort.SessionOptions,
        providers: list[str],
    ) -> None:
        self._encoder = ort.InferenceSession(str(encoder), options, providers=providers)
        self._decoder = ort.InferenceSession(str(decoder), options, providers=providers)
        self._pieces = _read_pieces(tokenizer)
        self._cache_names = [
            o.name.replace("present", "past_key_values") for o in self._decoder.get_outputs()[1:]
        ]
        self._warm_up()

    def transcribe_batch(self, audios: Sequence[npt.NDArray[np.float32]]) -> list[list[Word]]:
        """The words of each 16 kHz input, in input order; [] for input under 0.1 s."""
        rows = [i for i, audio in enumerate(audios) if len(audio) >= MIN_SAMPLES]
        results: list[list[Word]] = [[] for _ in audios]
        if not rows:
            return results
        longest = max(len(audios[i]) for i in rows)
        batch = np.zeros((len(rows), longest), dtype=np.float32)
        for row, index in enumerate(rows):
            batch[row, : len(audios[index])] = audios[index]
        (hidden,) = self._encoder.run(None, {"input_values": batch})
        limits = [
            math.ceil(len(audios[i]) / MODEL_SAMPLE_RATE * TOKENS_PER_SECOND) + 4 for i in rows
        ]
        tokens = self._greedy(hidden, limits)
        for row, index in enumerate(rows):
            words = self._words(tokens[row])
            results[index] = [words[i] for i in loop_free([text for text, _ in words])]
        return results

    def _greedy(
        self, hidden: npt.NDArray[np.float32], limits: list[int]
    ) -> list[list[tuple[int, float]]]:
        """(token, probability) of each row until its end token or its step limit."""
        count = len(limits)
        past = self._empty_cache(count)
        current = np.full((count, 1), START_TOKEN, dtype=np.int64)
        tokens: list[list[tuple[int, float]]] = [[] for _ in range(count)]
        done = np.zeros(count, dtype=bool)
        for step in range(max(limits)):
            logits = self._step(current, hidden, past, step)
            best = logits.argmax(axis=1)
            probabilities = 1.0 / np.exp(logits - logits[np.arange(count), best][:, None]).sum(1)
            for row in range(count):
                if done[row]:
                    continue
                if best[row] == END_TOKEN or step >= limits[row]:
                    done[row] = True
                else:
                    tokens[row].append((int(best[row]), float(probabilities[row])))
            if done.all():
                break
            current = best[:, None].astype(np.int64)
        return tokens

    def _step(
        self,
        current: npt.NDArray[np.int64],
        hidden: npt.NDArray[np.float32],
        past: dict[str, npt.NDArray[np.float32]],
        step: int,
    ) -> npt.NDArray[np.float64]:
        """One decoder step for every row: the next token's logits; `past` is updated."""
        outputs = self._decoder.run(
            None,
            {
                "input_ids": current,
                "encoder_hidden_states": hidden,
                "use_cache_branch": np.array([step > 0]),
                **past,
            },
        )
        for name, value in zip(self._cache_names, outputs[1:], strict=True):
            # the encoder half of the cache is computed on the first step only
            if step == 0 or ".decoder." in name:
                past[name] = value
        return np.asarray(outputs[0][:, -1, :], dtype=np.float64)

    @staticmethod
    def _empty_cache(count: int) -> dict[str, npt.NDArray[np.float32]]:
        empty = np.zeros((count, HEADS, 0, HEAD_DIM), dtype=np.float32)
        return {
            f"past_key_values.{layer}.{side}.{kind}": empty
            for layer in range(LAYERS)
            for side in ("decoder", "encoder")
            for kind in ("key", "value")
        }

    def _warm_up(self) -> None:
        """Run both decoder branches once: onnxruntime's first calls are several times slower,
        and the first partial of the first session should not pay for that."""
        (hidden,) = self._encoder.run(
            None, {"input_values": np.zeros((1, MODEL_SAMPLE_RATE), np.float32)}
        )
        past = self._empty_cache(1)
        current = np.full((1, 1), START_TOKEN, dtype=np.int64)
        for step in range(2):
            self._step(current, hidden, past, step)

    def _words(self, tokens: list[tuple[int, float]]) -> list[Word]:
        """Join token pieces into words; a word's confidence is its tokens' mean probability."""
        words: list[tuple[str, list[float]]] = []
        for token, probability in tokens:
            piece = self._pieces[token] if token < len(self._pieces) else ""
            if piece.startswith(SPACE) or not words:
                words.append((piece.lstrip(SPACE), [probability]))
            else:
                text, probabilities = words[-1]
                words[-1] = (text + piece, [*probabilities, probability])
        return [(text, round(float(np.mean(p)), 4)) for text, p in words if text.strip()]


def _read_pieces(path: Path) -> list[str]:
    """tokenizer.bin: for each token id, a length byte and then that many bytes of UTF-8."""
    data = path.read_bytes()
    pieces: list[str] = []
    position = 0
    while position < len(data):
        length = data[position]
        pieces.append(data[position + 1 : position + 1 + length].decode("utf-8", "replace"))
        position += 1 + length
    return pieces
