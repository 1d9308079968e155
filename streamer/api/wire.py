"""AssemblyAI JSON shapes: the only module that knows wire field names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from streamer.api.errors import first_problem
from streamer.core.clustering import SpeakerCount
from streamer.core.passages import Passage
from streamer.core.utterances import utterances
from streamer.core.word_rules import Spelling, WordRules, bare
from streamer.core.word_search import WordMatch
from streamer.core.words import Transcript, Utterance, Word
from streamer.files.pipeline import FileOptions
from streamer.models.asr import DEFAULT_LANGUAGE, LANGUAGES, whisper_language
from streamer.streaming.events import (
    RevisedTurn,
    SessionEvent,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
)
from streamer.streaming.protocol import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    CloseCode,
    ProtocolError,
    TurnChanges,
)
from streamer.streaming.speaker_turns import SPEAKER_CHANGE_CONFIDENCE

MAX_SPEAKERS = 35
"""The most speakers a request may ask for or cap at (`speakers_expected`, `max_speakers`):
labels run A..Z, then AA, AB, ..."""

TranscriptStatus = Literal["queued", "processing", "completed", "error"]


class JobView(Protocol):
    """What the wire shapes read of a stored job (`streamer.api.jobs.store.Job`)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> TranscriptStatus: ...
    @property
    def created(self) -> float: ...
    @property
    def completed(self) -> float | None: ...
    @property
    def audio_url(self) -> str: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> str | None: ...


class WireWord(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    start: int
    end: int
    confidence: float
    speaker: str | None = None
    channel: str | None = None
    """only where channels were transcribed apart (`multichannel`)"""

    @model_serializer(mode="wrap")
    def _channel_when_known(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_missing_channel(dump(self))


class WireUtterance(BaseModel):
    model_config = ConfigDict(frozen=True)
    speaker: str
    start: int
    end: int
    confidence: float
    text: str
    words: list[WireWord]
    channel: str | None = None

    @model_serializer(mode="wrap")
    def _channel_when_known(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_missing_channel(dump(self))


def _without_missing_channel(fields: dict[str, Any]) -> dict[str, Any]:
    """A word or utterance of a mono transcript has no `channel` key (as before channels)."""
    if fields.get("channel") is None:
        fields.pop("channel", None)
    return fields


class TranscriptBody(BaseModel):
    """The result part of a v2 transcript object."""

    status: TranscriptStatus
    text: str | None = None
    words: list[WireWord] | None = None
    utterances: list[WireUtterance] | None = None
    confidence: float | None = None
    audio_duration: int | None = None
    language_code: str | None = None
    language_confidence: float | None = None
    audio_channels: int | None = None
    error: str | None = None


# ---- async v2: requests --------------------------------------------------------------------


def _decodable(code: str) -> str:
    if whisper_language(code) not in LANGUAGES:
        raise ValueError(f"unsupported language_code {code!r}")
    return code


LanguageCode = Annotated[
    str, Field(pattern=r"^[a-z]{2,3}(_[a-z]{2})?$"), AfterValidator(_decodable)
]
"""An AssemblyAI language code ("en_us", "fr") of a language Whisper decodes."""

MAX_LANGUAGE_CODES = 20


def _listed(value: Any) -> Any:
    """A list param as a query string carries it: JSON (`["en","es"]`) or `en,es`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


MAX_KNOWN_VOICES = 32
VoiceId = Annotated[str, Field(min_length=1, max_length=64)]


class SpeakerOptions(BaseModel):
    model_config = ConfigDict(extra="allow")  # the SDK knows more options: kept, echoed
    min_speakers_expected: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    max_speakers_expected: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)


MAX_TERMS = 1000
"""`keyterms_prompt` / `word_boost` entries (as AssemblyAI allows); Whisper's prompt holds
the first 223 tokens of them"""
Term = Annotated[str, Field(min_length=1, max_length=100)]


class CustomSpelling(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: list[Term] = Field(alias="from", min_length=1, max_length=32)
    """words or phrases (whatever their case) written as `to`"""
    to: Term

    @field_validator("from_")
    @classmethod
    def _has_words(cls, said: list[str]) -> list[str]:
        if any(not bare_words(phrase) for phrase in said):
            raise ValueError("each 'from' needs a word")
        return said


def bare_words(phrase: str) -> tuple[str, ...]:
    """A phrase as word rules compare it (`core.word_rules.bare`)."""
    return tuple(word for word in map(bare, phrase.split()) if word)


UNSUPPORTED_FEATURES = (
    "auto_chapters",
    "auto_highlights",
    "content_safety",
    "entity_detection",
    "iab_categories",
    "redact_pii",
    "redact_pii_audio",
    "sentiment_analysis",
    "speech_understanding",
    "summarization",
)
"""AssemblyAI features this server does not have: a request that turns one on is refused
(400) rather than answered without it."""


class TranscriptRequest(BaseModel):
    """What we act on; other fields are accepted, kept and echoed back, except those that
    turn on a feature we lack (`UNSUPPORTED_FEATURES`)."""

    model_config = ConfigDict(extra="allow")
    audio_url: str = Field(min_length=1, max_length=4096)
    speaker_labels: bool = False
    speakers_expected: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    speaker_options: SpeakerOptions | None = None
    language_code: LanguageCode | None = None
    language_detection: bool = False
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=4096)
    webhook_auth_header_name: str | None = Field(
        default=None, max_length=256, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
    )
    webhook_auth_header_value: str | None = Field(
        default=None, max_length=4096, pattern=r"^[\x20-\x7e]*$"
    )
    known_voices: list[VoiceId] | None = Field(default=None, max_length=MAX_KNOWN_VOICES)
    """ids of enrolled voices (`/v2/voices`) whose words take the person's name"""
    multichannel: bool = False
    dual_channel: bool = False
    """the older name of `multichannel` (for two channels)"""
    audio_start_from: int | None = Field(default=None, ge=0)
    """ms: transcribe from here (word times stay the file's)"""
    audio_end_at: int | None = Field(default=None, ge=1)
    """ms: ...to here"""
    speech_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    language_confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    punctuate: bool = True
    format_text: bool = True
    disfluencies: bool = False
    filter_profanity: bool = False
    custom_spelling: list[CustomSpelling] | None = Field(default=None, max_length=MAX_TERMS)
    keyterms_prompt: list[Term] | None = Field(default=None, max_length=MAX_TERMS)
    word_boost: list[Term] | None = Field(default=None, max_length=MAX_TERMS)
    boost_param: Literal["default"] | None = None
    """Whisper's prompt has no weight: "low" and "high" cannot be honoured (400)"""

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
    def _supported(self) -> TranscriptRequest:
        asked = [name for name in UNSUPPORTED_FEATURES if (self.model_extra or {}).get(name)]
        if asked:
            raise ValueError(f"{asked[0]} is not supported by this server")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> TranscriptRequest:
        self.speaker_count()  # raises ValueError on contradictions
        start, end = self.audio_start_from, self.audio_end_at
        if start is not None and end is not None and end <= start:
            raise ValueError("audio_end_at must be after audio_start_from")
        if self.known_voices and not self.speaker_labels:
            raise ValueError("known_voices names speakers: it needs speaker_labels")
        return self

    def file_options(self, profane: frozenset[str]) -> FileOptions:
        """What the pipeline is to do beyond speakers and language; `profane`: the words
        `filter_profanity` masks."""
        terms = [*(self.keyterms_prompt or ()), *(self.word_boost or ())]
        spellings = tuple(
            Spelling(bare_words(said), item.to)
            for item in self.custom_spelling or ()
            for said in item.from_
        )
        return FileOptions(
            rules=WordRules(
                disfluencies=self.disfluencies,
                spellings=spellings,
                profane=profane if self.filter_profanity else frozenset(),
                format_text=self.format_text,
                punctuate=self.punctuate,
            ),
            hotwords=", ".join(terms) or None,
            start_s=(self.audio_start_from or 0) / 1000,
            end_s=None if self.audio_end_at is None else self.audio_end_at / 1000,
            min_speech_share=self.speech_threshold or 0.0,
            min_language_confidence=self.language_confidence_threshold or 0.0,
        )

    def speaker_count(self) -> SpeakerCount:
        options = self.speaker_options or SpeakerOptions()
        return SpeakerCount(
            expected=self.speakers_expected,
            minimum=options.min_speakers_expected or 1,
            maximum=options.max_speakers_expected,
        )

    @property
    def channels_apart(self) -> bool:
        """Each channel is transcribed on its own (its words tagged with it)."""
        return self.multichannel or self.dual_channel

    @property
    def language(self) -> str | None:
        """The language to decode in; None: detect it."""
        if self.language_detection:
            return None
        return whisper_language(self.language_code) if self.language_code else DEFAULT_LANGUAGE


def wire_word(word: Word) -> WireWord:
    return WireWord(
        text=word.text,
        start=word.start_ms,
        end=word.end_ms,
        confidence=word.confidence,
        speaker=word.speaker,
        channel=word.channel,
    )


def wire_utterance(utterance: Utterance) -> WireUtterance:
    return WireUtterance(
        speaker=utterance.speaker,
        start=utterance.start_ms,
        end=utterance.end_ms,
        confidence=utterance.confidence,
        text=utterance.text,
        words=[wire_word(w) for w in utterance.words],
        channel=utterance.channel,
    )


def transcript_body(transcript: Transcript, speaker_labels: bool = True) -> TranscriptBody:
    """The result of a job; utterances with `speaker_labels`, or when channels were
    transcribed apart (their words then carry their channel's speaker)."""
    speaker_labels = speaker_labels or transcript.audio_channels is not None
    return TranscriptBody(
        status="completed",
        text=transcript.text,
        words=[wire_word(w) for w in transcript.words],
        utterances=[wire_utterance(u) for u in transcript.utterances] if speaker_labels else None,
        confidence=round(transcript.confidence, 4),
        audio_duration=round(transcript.audio_duration_s),
        language_code=transcript.language_code,
        language_confidence=transcript.language_confidence,
        audio_channels=transcript.audio_channels,
    )


def words_from_body(body: dict[str, Any]) -> tuple[Word, ...]:
    """The words of a stored transcript body (as `transcript_body` made it)."""
    return tuple(
        Word(w["text"], w["start"], w["end"], w["confidence"], w.get("speaker"), w.get("channel"))
        for w in body.get("words") or ()
    )


def transcript_from_body(body: dict[str, Any]) -> Transcript:
    """A stored transcript body as the value exports are made from (utterances only when
    every word has a speaker)."""
    words = words_from_body(body)
    with_speakers = all(w.speaker is not None for w in words)
    return Transcript(
        words=words,
        utterances=utterances(words) if with_speakers else (),
        audio_duration_s=float(body.get("audio_duration") or 0),
        audio_channels=body.get("audio_channels"),
    )


def passages_json(
    transcript_id: str, kind: str, found: list[Passage], t: Transcript
) -> dict[str, Any]:
    """The body of `/sentences` (`kind` "sentences") or `/paragraphs`."""
    return {
        "id": transcript_id,
        kind: [passage_json(p) for p in found],
        "confidence": round(t.confidence, 4),
        "audio_duration": round(t.audio_duration_s),
    }


def page_json(
    items: list[dict[str, Any]],
    limit: int,
    current_url: str,
    prev_url: str | None,
    next_url: str | None,
) -> dict[str, Any]:
    """A page of `GET /v2/transcript`."""
    return {
        "page_details": {
            "limit": limit,
            "result_count": len(items),
            "current_url": current_url,
            "prev_url": prev_url,
            "next_url": next_url,
        },
        "transcripts": items,
    }


def upload_json(upload_url: str) -> dict[str, str]:
    return {"upload_url": upload_url}


def token_json(token: str) -> dict[str, str]:
    return {"token": token}


def voice_json(voice_id: str, name: str, created: float) -> dict[str, str]:
    """An enrolled voice as `/v2/voices` shows it (never its print)."""
    return {"id": voice_id, "name": name, "created": _iso(created)}


def voice_list_json(voices: list[dict[str, str]]) -> dict[str, Any]:
    """The body of `GET /v2/voices`."""
    return {"voices": voices}


def health_json(status: Literal["ok", "loading"]) -> dict[str, str]:
    return {"status": status}


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    headers: dict[str, str]


def webhook_target(request: dict[str, Any]) -> WebhookTarget | None:
    """Where a job's request asks its webhook to go, with its auth header; None for none."""
    url = request.get("webhook_url")
    if not url:
        return None
    name, value = request.get("webhook_auth_header_name"), request.get("webhook_auth_header_value")
    headers = {str(name): str(value)} if name and value is not None else {}
    return WebhookTarget(str(url), headers)


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


def word_search_json(transcript_id: str, matches: list[WordMatch]) -> dict[str, Any]:
    """The body of `/word-search`: per term, its count, `[start, end]` pairs and indexes."""
    return {
        "id": transcript_id,
        "total_count": sum(len(m.indexes) for m in matches),
        "matches": [
            {
                "text": m.term,
                "count": len(m.indexes),
                "timestamps": [list(span) for span in m.spans_ms],
                "indexes": list(m.indexes),
            }
            for m in matches
        ],
    }


def transcript_object(job: JobView) -> dict[str, Any]:
    """The v2 transcript object of a job: the request's fields (the webhook secret only as a
    flag), then the job's state and result."""
    result = job.result or {}
    echoed = {k: v for k, v in job.request.items() if k != "webhook_auth_header_value"}
    return {
        **echoed,
        "webhook_auth": "webhook_auth_header_value" in job.request,
        "id": job.id,
        "audio_url": job.audio_url,
        "status": job.status,
        "error": job.error,
        "text": result.get("text"),
        "words": result.get("words"),
        "utterances": result.get("utterances"),
        "confidence": result.get("confidence"),
        "audio_duration": result.get("audio_duration"),
        "language_code": result.get("language_code") or job.request.get("language_code"),
        "language_confidence": result.get("language_confidence"),
        "audio_channels": result.get("audio_channels"),
    }


class TranscriptListItem(BaseModel):
    id: str
    resource_url: str
    status: TranscriptStatus
    created: str
    completed: str | None
    audio_url: str
    error: str | None


def list_item(job: JobView, resource_url: str) -> dict[str, Any]:
    """A job as `GET /v2/transcript` lists it."""
    return TranscriptListItem(
        id=job.id,
        resource_url=resource_url,
        status=job.status,
        created=_iso(job.created),
        completed=_iso(job.completed) if job.completed is not None else None,
        audio_url=job.audio_url,
        error=job.error,
    ).model_dump()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def webhook_body(transcript_id: str, status: TranscriptStatus) -> dict[str, Any]:
    """What a webhook POSTs when a job ends."""
    return {"transcript_id": transcript_id, "status": status}


def transcript_json(transcript: Transcript, **request_fields: Any) -> dict[str, Any]:
    """The v2 transcript object as JSON-ready data, with the request's fields echoed."""
    return {**request_fields, **transcript_body(transcript).model_dump()}


# ---- streaming v3 -----------------------------------------------------------------------------


def _stream_word(word: Word, is_final: bool) -> dict[str, Any]:
    """A v3 word: the v2 word (speaker left out when unknown) plus `word_is_final`."""
    return {**wire_word(word).model_dump(exclude_none=True), "word_is_final": is_final}


def stream_message(event: SessionEvent) -> dict[str, Any]:
    """A session event as the v3 server message."""
    if isinstance(event, SpeechStarted):
        return {"type": "SpeechStarted", "timestamp": event.timestamp_ms}
    if isinstance(event, TurnUpdate):
        message: dict[str, Any] = {
            "type": "Turn",
            "turn_order": event.turn_order,
            "turn_is_formatted": event.formatted,
            "end_of_turn": event.end_of_turn,
            "transcript": event.transcript,
            "end_of_turn_confidence": event.end_of_turn_confidence,
            "words": [
                _stream_word(w, f) for w, f in zip(event.words, event.word_is_final, strict=True)
            ],
        }
        if event.speaker_label is not None:
            message["speaker_label"] = event.speaker_label
        if event.language_code is not None:
            message["language_code"] = event.language_code
            message["language_confidence"] = event.language_confidence
        return message
    return {
        "type": "SpeakerRevision",
        "revisions": [
            {
                "turn_order": turn.turn_order,
                "speaker_label": turn.speaker_label,
                "words": [_stream_word(w, True) for w in turn.words],
            }
            for turn in event.turns
        ],
    }


def _read_words(words: list[dict[str, Any]]) -> tuple[Word, ...]:
    return tuple(
        Word(w["text"], w["start"], w["end"], w["confidence"], w.get("speaker")) for w in words
    )


def read_stream_message(message: dict[str, Any]) -> SessionEvent | None:
    """A v3 server message as the session event it carries; None for the messages that carry
    none (Begin, Termination, Error: `read_server_message` reads those too)."""
    kind = message.get("type")
    if kind == "SpeechStarted":
        return SpeechStarted(int(message["timestamp"]))
    if kind == "Turn":
        finals = [bool(w["word_is_final"]) for w in message["words"]]
        end_of_turn = bool(message["end_of_turn"])
        confidence = float(message["end_of_turn_confidence"])
        return TurnUpdate(
            turn_order=int(message["turn_order"]),
            words=_read_words(message["words"]),
            final_count=finals.index(False) if False in finals else len(finals),
            end_of_turn=end_of_turn,
            formatted=bool(message["turn_is_formatted"]),
            end_of_turn_confidence=confidence,
            # the one sign on the wire of a turn the next speaker ended
            speaker_changed=end_of_turn and confidence == SPEAKER_CHANGE_CONFIDENCE,
        )
    if kind == "SpeakerRevision":
        return SpeakerRevision(
            tuple(
                RevisedTurn(int(r["turn_order"]), _read_words(r["words"]))
                for r in message["revisions"]
            )
        )
    return None


@dataclass(frozen=True, slots=True)
class Begun:
    """`Begin`: the session is open."""

    session_id: str
    expires_at_unix_s: int


@dataclass(frozen=True, slots=True)
class Terminated:
    """`Termination`: the session ended after `Terminate`."""

    audio_duration_s: int
    session_duration_s: int


@dataclass(frozen=True, slots=True)
class Refused:
    """`Error`: the server is closing the session (with `code`, when it says one)."""

    error: str
    code: int | None


ServerMessage = SessionEvent | Begun | Terminated | Refused


def read_server_message(message: dict[str, Any]) -> ServerMessage | None:
    """A v3 server message as a client reads it; None for a type it does not know."""
    kind = message.get("type")
    if kind == "Begin":
        return Begun(str(message["id"]), int(message["expires_at"]))
    if kind == "Termination":
        return Terminated(
            int(message["audio_duration_seconds"]), int(message["session_duration_seconds"])
        )
    if kind == "Error":
        return Refused(str(message["error"]), message.get("error_code"))
    return read_stream_message(message)


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


def terminate_message() -> dict[str, Any]:
    """What a client sends to end its session."""
    return {"type": "Terminate"}


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

    def changes(self) -> TurnChanges:
        min_silence = self.min_turn_silence
        if min_silence is None:
            min_silence = self.min_end_of_turn_silence_when_confident
        return TurnChanges(
            format_turns=self.format_turns,
            end_of_turn_confidence_threshold=self.end_of_turn_confidence_threshold,
            min_turn_silence_ms=min_silence,
            max_turn_silence_ms=self.max_turn_silence,
            vad_threshold=self.vad_threshold,
        )


def turn_changes(body: dict[str, Any]) -> TurnChanges:
    """An `UpdateConfiguration` message's settings; `ProtocolError` 4101 when one is invalid."""
    try:
        return TurnSettings.model_validate(body).changes()
    except ValidationError as error:
        reason = f"UpdateConfiguration: {first_problem(error)}"
        raise ProtocolError(CloseCode.INVALID_MESSAGE, reason) from error


StreamingModel = Literal[
    "universal-streaming-english", "universal-streaming-multilingual", "whisper-rt"
]
ENGLISH_MODEL: StreamingModel = "universal-streaming-english"


class StreamParams(TurnSettings):
    """`/v3/ws` query parameters we act on; unknown ones are ignored (clients send many)."""

    sample_rate: int = Field(ge=8000, le=MAX_SAMPLE_RATE)
    encoding: Literal["pcm_s16le", "pcm_mulaw"] = "pcm_s16le"
    speaker_labels: bool = True
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    inactivity_timeout: int | None = Field(default=None, ge=5, le=3600)
    token: str | None = None
    known_voices: str | None = Field(default=None, max_length=MAX_KNOWN_VOICES * 65)
    """comma-separated ids of enrolled voices"""
    channels: int = Field(default=1, ge=1, le=MAX_CHANNELS)
    """channels interleaved in the audio, each transcribed apart"""
    speech_model: StreamingModel = ENGLISH_MODEL
    """English (Moonshine), or any language Whisper decodes (the other two)"""
    language_detection: bool = False
    language_code: LanguageCode | None = None
    language_codes: Annotated[
        list[LanguageCode] | None,
        BeforeValidator(_listed),
        Field(min_length=1, max_length=MAX_LANGUAGE_CODES),
    ] = None
    """the languages the session's speech may be in (a JSON list or comma-separated): one is
    as `language_code`; among several, the session finds its own"""

    @model_validator(mode="after")
    def _model_speaks_it(self) -> StreamParams:
        if self.language_code is not None and self.language_codes is not None:
            raise ValueError("give language_code or language_codes, not both")
        named = [self.language_code or "en", *(self.language_codes or ())]
        asked = self.language_detection or {whisper_language(code) for code in named} != {"en"}
        if asked and not self.multilingual:
            raise ValueError(
                "language_code(s) other than English and language_detection need"
                " speech_model=universal-streaming-multilingual"
            )
        return self

    @property
    def multilingual(self) -> bool:
        return self.speech_model != ENGLISH_MODEL

    @property
    def language(self) -> str | None:
        """What the session decodes as (Whisper's code); None: find it (among `languages`)."""
        if len(self.languages) == 1:
            return self.languages[0]
        if self.language_detection or (self.multilingual and self.language_code is None):
            return None
        return whisper_language(self.language_code or "en")

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages `language_codes` allows (Whisper's codes); empty: any."""
        return tuple(dict.fromkeys(whisper_language(c) for c in self.language_codes or ()))

    def voice_ids(self) -> list[str]:
        return [part.strip() for part in (self.known_voices or "").split(",") if part.strip()]
