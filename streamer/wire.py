"""AssemblyAI JSON shapes: the only module that knows wire field names."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streamer.clustering import SpeakerCount
from streamer.events import Transcript, Utterance, Word
from streamer.exports import Passage

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


# ---- async v2: requests --------------------------------------------------------------------


class SpeakerOptions(BaseModel):
    model_config = ConfigDict(extra="allow")  # the SDK knows more options: kept, echoed
    min_speakers_expected: int | None = Field(default=None, ge=1, le=26)
    max_speakers_expected: int | None = Field(default=None, ge=1, le=26)


class TranscriptRequest(BaseModel):
    """What we act on; other AssemblyAI fields are accepted, kept and echoed back."""

    model_config = ConfigDict(extra="allow")
    audio_url: str = Field(min_length=1, max_length=4096)
    speaker_labels: bool = False
    speakers_expected: int | None = Field(default=None, ge=1, le=26)
    speaker_options: SpeakerOptions | None = None
    language_code: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(_[a-z]{2})?$")
    language_detection: bool = False
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=4096)
    webhook_auth_header_name: str | None = Field(
        default=None, max_length=256, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
    )
    webhook_auth_header_value: str | None = Field(
        default=None, max_length=4096, pattern=r"^[\x20-\x7e]*$"
    )

    @field_validator("webhook_url")
    @classmethod
    def _parsable(cls, url: str | None) -> str | None:
        if url is not None:
            try:
                httpx.URL(url)
            except httpx.InvalidURL as error:
                raise ValueError(f"not a URL: {error}") from error
        return url

    @model_validator(mode="after")
    def _consistent(self) -> TranscriptRequest:
        self.speaker_count()  # raises ValueError on contradictions
        return self

    def speaker_count(self) -> SpeakerCount:
        options = self.speaker_options or SpeakerOptions()
        return SpeakerCount(
            expected=self.speakers_expected,
            minimum=options.min_speakers_expected or 1,
            maximum=options.max_speakers_expected,
        )

    @property
    def language(self) -> str | None:
        """The language to decode in; None: detect it."""
        return None if self.language_detection else self.language_code


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


def words_from_body(body: dict[str, Any]) -> tuple[Word, ...]:
    """The words of a stored transcript body (as `transcript_body` made it)."""
    return tuple(
        Word(w["text"], w["start"], w["end"], w["confidence"], w.get("speaker"))
        for w in body.get("words") or ()
    )


def passage_json(passage: Passage) -> dict[str, Any]:
    """A sentence or paragraph of `/sentences` and `/paragraphs`."""
    return {
        "text": passage.text,
        "start": passage.words[0].start_ms,
        "end": passage.words[-1].end_ms,
        "confidence": round(passage.confidence, 4),
        "speaker": passage.speaker,
        "words": [wire_word(w).model_dump() for w in passage.words],
    }


def transcript_json(transcript: Transcript, **request_fields: Any) -> dict[str, Any]:
    """The v2 transcript object as JSON-ready data, with the request's fields echoed."""
    return {**request_fields, **transcript_body(transcript).model_dump()}


# ---- streaming v3 -----------------------------------------------------------------------------


def _stream_word(word: Word, is_final: bool) -> dict[str, Any]:
    """A v3 word: the v2 word (speaker left out when unknown) plus `word_is_final`."""
    return {**wire_word(word).model_dump(exclude_none=True), "word_is_final": is_final}


def _majority_speaker(words: list[Word]) -> str | None:
    counts: dict[str, int] = {}
    for word in words:
        if word.speaker is not None:
            counts[word.speaker] = counts.get(word.speaker, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


def turn_message(
    *,
    turn_order: int,
    words: list[Word],
    word_is_final: list[bool],
    end_of_turn: bool,
    formatted: bool,
    end_of_turn_confidence: float,
    transcript: str,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "Turn",
        "turn_order": turn_order,
        "turn_is_formatted": formatted,
        "end_of_turn": end_of_turn,
        "transcript": transcript,
        "end_of_turn_confidence": end_of_turn_confidence,
        "words": [_stream_word(w, f) for w, f in zip(words, word_is_final, strict=True)],
    }
    speaker = _majority_speaker(words)
    if speaker is not None:
        message["speaker_label"] = speaker
    return message


def speaker_revision_message(revisions: list[tuple[int, list[Word]]]) -> dict[str, Any]:
    return {
        "type": "SpeakerRevision",
        "revisions": [
            {
                "turn_order": order,
                "speaker_label": _majority_speaker(words),
                "words": [_stream_word(w, True) for w in words],
            }
            for order, words in revisions
        ],
    }


def speech_started_message(timestamp_ms: int) -> dict[str, Any]:
    return {"type": "SpeechStarted", "timestamp": timestamp_ms}


def begin_message(session_id: str, expires_at_unix_s: int) -> dict[str, Any]:
    return {
        "type": "Begin",
        "id": session_id,
        "expires_at": expires_at_unix_s,
        "configuration": {"model": "streamer", "mode": "streaming", "api_version": "v3"},
    }


def termination_message(audio_duration_s: float, session_duration_s: float) -> dict[str, Any]:
    return {
        "type": "Termination",
        "audio_duration_seconds": round(audio_duration_s),
        "session_duration_seconds": round(session_duration_s),
    }


def error_message(error: str, code: int | None = None) -> dict[str, Any]:
    return {"type": "Error", "error": error, "error_code": code}


class TurnSettings(BaseModel):
    """End-of-turn settings a client may give when connecting or in `UpdateConfiguration`;
    None leaves the current value."""

    model_config = ConfigDict(extra="ignore")
    format_turns: bool | None = None
    end_of_turn_confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    min_turn_silence: int | None = Field(default=None, ge=0, le=10_000)
    min_end_of_turn_silence_when_confident: int | None = Field(default=None, ge=0, le=10_000)
    """the older name of `min_turn_silence`"""
    max_turn_silence: int | None = Field(default=None, ge=0, le=10_000)
    vad_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)


class StreamParams(TurnSettings):
    """`/v3/ws` query parameters we act on; unknown ones are ignored (clients send many)."""

    sample_rate: int = Field(ge=8000, le=48000)
    encoding: Literal["pcm_s16le", "pcm_mulaw"] = "pcm_s16le"
    speaker_labels: bool = True
    max_speakers: int | None = Field(default=None, ge=1, le=26)
    inactivity_timeout: int | None = Field(default=None, ge=5, le=3600)
    token: str | None = None
