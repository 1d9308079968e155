"""A session's audio intake (pure): wire bytes in, 16 kHz model audio kept in a ring buffer
by absolute sample index, VAD frames out, and the VAD's verdicts kept to say where speech
was."""

from __future__ import annotations

from collections import deque

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

    def quietest_point(self, start: int, end: int) -> int:
        """The start of the frame with the lowest speech probability in samples [start, end)."""
        frames = [(prob, at) for at, prob in self._frames() if start <= at < end]
        return min(frames)[1] if frames else end

    def _frames(self) -> list[tuple[int, float]]:
        """(start sample, speech probability) of each recent frame."""
        first = self.vad_cursor - len(self._probs) * VAD_FRAME_SAMPLES
        return [(first + i * VAD_FRAME_SAMPLES, prob) for i, prob in enumerate(self._probs)]
