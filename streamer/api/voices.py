"""`/v2/voices`: enrol known voices, list and delete them.

`POST /v2/voices?name=NAME` takes 5-60 s of one person's speech as the raw body (any format
FFmpeg reads) and keeps a voiceprint of it in the `VoiceStore`; transcripts and streams that
name the voice's id in `known_voices` give that person's words their name. Enrolment runs the
VAD and CAM++ on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from streamer.api.auth import caller_key, caller_scope
from streamer.api.errors import ApiError
from streamer.api.openapi import RAW_BODY, error_response
from streamer.api.voice_store import UnknownVoices, Voice, VoiceStore
from streamer.api.wire import voice_json, voice_list_json
from streamer.core.voices import MAX_NAME_CHARS, voice_name
from streamer.files.media import MediaError, MediaTooLong, decode_file
from streamer.files.voiceprints import MAX_ENROL_S, Enrolment, EnrolmentError, enrol
from streamer.models.loader import ModelSet

log = logging.getLogger(__name__)
router = APIRouter()

MAX_VOICE_BYTES = 64 * 1024**2
"""A minute of audio is far less, in any format short of 96 kHz 24-bit multichannel."""


ENROL_ERRORS: dict[int | str, dict[str, Any]] = {
    413: error_response("The audio is larger than the server accepts"),
    503: error_response("The models are still loading"),
}
NO_SUCH_VOICE: dict[int | str, dict[str, Any]] = {404: error_response("No such voice")}


def voice_store(request: Request) -> VoiceStore:
    store: VoiceStore = request.app.state.voices
    return store


def check_known_voices(request: Request, ids: Sequence[str] | None) -> None:
    """`ApiError` 400 unless every id names a voice the caller may use."""
    if ids:
        try:
            voice_store(request).get_many(ids, caller_scope(request))
        except UnknownVoices as error:
            raise ApiError(400, f"invalid known_voices: {error}") from error


def _json(voice: Voice) -> dict[str, Any]:
    return voice_json(voice.id, voice.name, voice.created)


async def _body(request: Request) -> bytes:
    limit = min(request.app.state.settings.max_upload_bytes, MAX_VOICE_BYTES)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"a voice's audio is limited to {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"a voice's audio is limited to {limit} bytes")
    if not body:
        raise ApiError(400, "the body is empty: send 5-60 s of one person's speech")
    return bytes(body)


def _enrol(models: ModelSet, body: bytes) -> Enrolment:
    with tempfile.NamedTemporaryFile(suffix=".voice") as file:
        file.write(body)
        file.flush()
        audio = decode_file(file.name, MAX_ENROL_S + 1)  # a longer one is not decoded whole
    return enrol(models, audio)


@router.post("/v2/voices", openapi_extra=RAW_BODY, responses=ENROL_ERRORS)
async def add_voice(
    request: Request, name: Annotated[str, Query(min_length=1, max_length=MAX_NAME_CHARS)]
) -> dict[str, Any]:
    """Enrol a voice: the raw body is 5-60 s of one person's speech; `{"id", "name"}`."""
    try:
        name = voice_name(name)
    except ValueError as error:
        raise ApiError(400, f"invalid name: {error}") from error
    models: ModelSet | None = request.app.state.models
    if models is None:
        raise ApiError(503, "the models are still loading: try again shortly")
    body = await _body(request)
    try:
        enrolment = await asyncio.to_thread(_enrol, models, body)
    except MediaTooLong as error:
        refusal = f"a voice needs 5-{MAX_ENROL_S:.0f} s of audio of one person; this holds more"
        raise ApiError(400, refusal) from error
    except MediaError as error:
        raise ApiError(400, f"not an audio file we can read: {error.reason}") from error
    except EnrolmentError as error:
        raise ApiError(400, str(error)) from error
    store = voice_store(request)
    return _json(store.add(name, enrolment.embedding, enrolment.speech_s, caller_key(request)))


@router.get("/v2/voices")
async def list_voices(request: Request) -> dict[str, Any]:
    voices = voice_store(request).voices(caller_scope(request))
    return voice_list_json([_json(voice) for voice in voices])


@router.get("/v2/voices/{voice_id}", responses=NO_SUCH_VOICE)
async def get_voice(request: Request, voice_id: str) -> dict[str, Any]:
    return _found(voice_store(request).get(voice_id, caller_scope(request)))


@router.delete("/v2/voices/{voice_id}", responses=NO_SUCH_VOICE)
async def delete_voice(request: Request, voice_id: str) -> dict[str, Any]:
    """Forget a voice; the voice as it was. Transcripts already made keep its name."""
    return _found(voice_store(request).delete(voice_id, caller_scope(request)))


def _found(voice: Voice | None) -> dict[str, Any]:
    if voice is None:
        raise ApiError(404, "Voice not found")
    return _json(voice)
