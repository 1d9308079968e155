"""End-of-turn detection over per-frame VAD probabilities (pure).

A turn opens when speech starts and ends after enough trailing silence: `min_turn_silence_ms`
when the end-of-turn confidence (set by the session from the words so far) reaches the
threshold, `max_turn_silence_ms` otherwise, or at `max_turn_s` of speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EndReason(Enum):
    SILENCE = "silence"
    MAX_LENGTH = "max_length"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class TurnParams:
    vad_threshold: float = 0.5
    end_of_turn_confidence_threshold: float = 0.4
    min_turn_silence_ms: int = 400
    max_turn_silence_ms: int = 1280
    max_turn_s: float = 28.0
    """Longer turns are split: a client waits at most this long for a final."""
    min_speech_ms: int = 160
    """Speech shorter than this (a click, a cough) does not open a turn."""


@dataclass(frozen=True, slots=True)
class TurnStarted:
    start_frame: int


@dataclass(frozen=True, slots=True)
class TurnEnded:
    start_frame: int
    end_frame: int
    """One past the last speech frame of the turn."""
    reason: EndReason
    confidence: float
    """the end-of-turn confidence the words had given when the turn ended"""


TurnEvent = TurnStarted | TurnEnded


class TurnDetector:
    """Feed VAD probabilities frame by frame (frames of `frame_ms`); get turn events."""

    def __init__(self, params: TurnParams, frame_ms: float) -> None:
        self.params = params
        self._frame_ms = frame_ms
        self._frame = 0
        self._speech_run = 0
        self._turn_start: int | None = None
        self._last_speech_end = 0
        self.end_of_turn_confidence = 0.0
        """Set by the session: how sure the words so far make it that the turn is over."""

    @property
    def trailing_silence_ms(self) -> float:
        """Silence since the open turn's last speech frame."""
        return (self._frame - self._last_speech_end) * self._frame_ms

    def feed(self, probabilities: list[float]) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        min_speech = max(1, round(self.params.min_speech_ms / self._frame_ms))
        max_frames = round(self.params.max_turn_s * 1000 / self._frame_ms)
        for prob in probabilities:
            speech = prob >= self.params.vad_threshold
            self._speech_run = self._speech_run + 1 if speech else 0
            self._frame += 1
            if self._turn_start is None:
                if self._speech_run >= min_speech:
                    self._turn_start = self._frame - self._speech_run
                    self._last_speech_end = self._frame
                    events.append(TurnStarted(self._turn_start))
                continue
            if speech:
                self._last_speech_end = self._frame
            silence_ms = (self._frame - self._last_speech_end) * self._frame_ms
            limit = (
                self.params.min_turn_silence_ms
                if self.end_of_turn_confidence >= self.params.end_of_turn_confidence_threshold
                else self.params.max_turn_silence_ms
            )
            if silence_ms >= limit:
                events.append(self._end(EndReason.SILENCE))
            elif self._frame - self._turn_start >= max_frames:
                events.append(self._end(EndReason.MAX_LENGTH))
        return events

    def force_end(self) -> TurnEnded | None:
        """End the open turn now (ForceEndpoint, Terminate); None when no turn is open."""
        return self._end(EndReason.FORCED) if self._turn_start is not None else None

    def _end(self, reason: EndReason) -> TurnEnded:
        assert self._turn_start is not None
        end = self._frame if reason is not EndReason.SILENCE else self._last_speech_end
        event = TurnEnded(self._turn_start, end, reason, self.end_of_turn_confidence)
        self._turn_start = None
        self._speech_run = 0
        self.end_of_turn_confidence = 0.0
        return event
