"""AssemblyAI JSON shapes: the only module that knows wire field names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from streamer.events import Transcript, Utterance, Word

TranscriptStatus = Literal["queued", "processing", "completed", "error"]


class WireWord(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    start: int
    end: int
    confidence: float
    speaker: str | None = None


class WireUtterance(BaseModel):
    model_config = ConfigDict(frozen=True)
    speaker: str
    start: int
    end: int
    confidence: float
    text: str
    words: list[WireWord]


class TranscriptBody(BaseModel):
    """The result part of a v2 transcript object."""

    status: TranscriptStatus
    text: str | None = None
    words: list[WireWord] | None = None
    utterances: list[WireUtterance] | None = None
    confidence: float | None = None
    audio_duration: int | None = None
    language_code: str | None = None
    error: str | None = None


def wire_word(word: Word) -> WireWord:
    return WireWord(
        text=word.text,
        start=word.start_ms,
        end=word.end_ms,
        confidence=word.confidence,
        speaker=word.speaker,
    )


def wire_utterance(utterance: Utterance) -> WireUtterance:
    return WireUtterance(
        speaker=utterance.speaker,
        start=utterance.start_ms,
        end=utterance.end_ms,
        confidence=utterance.confidence,
        text=utterance.text,
        words=[wire_word(w) for w in utterance.words],
    )


def transcript_body(transcript: Transcript, speaker_labels: bool = True) -> TranscriptBody:
    return TranscriptBody(
        status="completed",
        text=transcript.text,
        words=[wire_word(w) for w in transcript.words],
        utterances=[wire_utterance(u) for u in transcript.utterances] if speaker_labels else None,
        confidence=round(transcript.confidence, 4),
        audio_duration=round(transcript.audio_duration_s),
        language_code=transcript.language_code,
    )


def transcript_json(transcript: Transcript, **request_fields: Any) -> dict[str, Any]:
    """The v2 transcript object as JSON-ready data, with the request's fields echoed."""
    return {**request_fields, **transcript_body(transcript).model_dump()}
