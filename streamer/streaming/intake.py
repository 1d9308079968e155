"""A session's audio intake (pure): wire bytes in, 16 kHz model audio kept in a ring buffer
by absolute sample index, VAD frames out, and the VAD's verdicts kept to say where speech
was."""

from __future__ import annotations

from collections import deque

import numpy as np

from streamer.core.arrays import Float32Array
from streamer.core.audio import (
    MODEL_SAMPLE_RATE,
    VAD_FRAME_SAMPLES,
    StreamResampler,
    pcm_mulaw_to_float,
    pcm_s16le_to_float,
)
from streamer.core.ringbuffer import AudioRing

FRAMES_PER_S = MODEL_SAMPLE_RATE / VAD_FRAME_SAMPLES
SOFT_WINDOW = MODEL_SAMPLE_RATE // 50
SOFT_STEP = MODEL_SAMPLE_RATE // 100


class AudioIntake:
    def __init__(self, sample_rate: int, encoding: str, buffer_s: float) -> None:
        self.sample_rate = sample_rate
        self.encoding = encoding
        self._resampler = StreamResampler(sample_rate)
        self._ring = AudioRing(round(buffer_s * MODEL_SAMPLE_RATE))
        self._odd_byte = b""
        self.samples_received = 0
        self.vad_cursor = 0
        """end of the audio handed to the VAD (whole frames)"""
        self._probs: deque[float] = deque(maxlen=round(buffer_s * FRAMES_PER_S))
        """VAD probability of each recent frame, the last one ending at `vad_cursor`"""

    @property
    def start(self) -> int:
        """The oldest sample still held."""
        return self._ring.start

    @property
    def end(self) -> int:
        """One past the newest sample."""
        return self._ring.end

    @property
    def duration_s(self) -> float:
        """Audio received, in seconds."""
        return self.samples_received / self.sample_rate

    def add(self, data: bytes) -> None:
        """Append wire audio. A 16-bit sample cut between its two bytes keeps the odd byte for
        the next call, so clients may slice the byte stream anywhere."""
        if self.encoding == "pcm_mulaw":
            samples = pcm_mulaw_to_float(data)
        else:
            data = self._odd_byte + data
            whole = len(data) - len(data) % 2
            self._odd_byte = data[whole:]
            samples = pcm_s16le_to_float(data[:whole])
        self.samples_received += len(samples)
        self._ring.append(self._resampler.push(samples))

    def read(self, start: int, end: int) -> Float32Array:
        return self._ring.read(start, end)

    def vad_input(self) -> Float32Array:
        """Whole VAD frames received since the last call (the shell runs the VAD on them)."""
        whole = (self._ring.end - self.vad_cursor) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
        start = max(self.vad_cursor, self._ring.start)
        audio = self._ring.read(start, self.vad_cursor + whole)
        self.vad_cursor += whole
        return audio

    def heard(self, probabilities: list[float]) -> None:
        """Keep the VAD's verdicts on the frames `vad_input` gave out."""
        self._probs.extend(probabilities)

    def speech_spans(self, start: int, end: int, threshold: float) -> tuple[tuple[int, int], ...]:
        """Runs of frames the VAD heard speech in, within samples [start, end)."""
        spans: list[tuple[int, int]] = []
        for frame_start, prob in self._frames():
            a, b = max(frame_start, start), min(frame_start + VAD_FRAME_SAMPLES, end)
            if prob < threshold or a >= b:
                continue
            if spans and spans[-1][1] == a:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        return tuple(spans)

    def softest_point(self, start: int, end: int) -> int:
        """The middle of the 20 ms of samples [start, end) with the least energy (10 ms
        steps): between words even where the VAD hears speech throughout; `end` when the
        stretch is shorter than 20 ms or no longer held."""
        start = max(start, self._ring.start)
        if end - start < SOFT_WINDOW:
            return end
        audio = self._ring.read(start, end).astype(np.float64)  # float32 sums lose quiet bits
        power = np.concatenate(([0.0], np.cumsum(audio**2)))
        energy = (power[SOFT_WINDOW:] - power[:-SOFT_WINDOW])[::SOFT_STEP]
        return start + int(np.argmin(energy)) * SOFT_STEP + SOFT_WINDOW // 2

    def _frames(self) -> list[tuple[int, float]]:
        """(start sample, speech probability) of each recent frame."""
        first = self.vad_cursor - len(self._probs) * VAD_FRAME_SAMPLES
        return [(first + i * VAD_FRAME_SAMPLES, prob) for i, prob in enumerate(self._probs)]
