"""`/v2`: uploads and transcript jobs in the AssemblyAI shapes, and `/v3/token`.

Only moves bytes and JSON: jobs live in the `JobStore`, audio in the `UploadStore`, and the
`JobRunner` transcribes off the event loop. Every error is `{"error": "..."}` with a 4xx.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from streamer.api.auth import caller_key, caller_scope
from streamer.api.errors import ApiError
from streamer.api.jobs.retention import delete_job
from streamer.api.jobs.store import Job, JobStore
from streamer.api.jobs.uploads import UploadStore, UploadTooLarge
from streamer.api.openapi import RAW_BODY
from streamer.api.outbound import unreachable
from streamer.api.voices import check_known_voices
from streamer.api.wire import (
    TranscriptRequest,
    TranscriptStatus,
    list_item,
    page_json,
    passages_json,
    token_json,
    transcript_from_body,
    transcript_object,
    upload_json,
    word_search_json,
)
from streamer.core import captions, passages, word_search
from streamer.core.words import Transcript
from streamer.files.media import MediaError, MediaTooLong, probe_audio

router = APIRouter()

_UPLOAD_PATH = re.compile(r"/v2/upload/([0-9a-f]{32})$")
MAX_PAGE = 200


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.jobs
    return store


def _uploads(request: Request) -> UploadStore:
    uploads: UploadStore = request.app.state.uploads
    return uploads


@router.post("/v2/upload", openapi_extra=RAW_BODY)
async def upload(request: Request) -> dict[str, str]:
    """The raw request body is the file; it is streamed to disk, checked to be audio, kept."""
    limit: int = request.app.state.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"uploads are limited to {limit} bytes")
    uploads = _uploads(request)
    try:
        upload_id, size = await uploads.save(request.stream(), limit)
    except UploadTooLarge as error:
        raise ApiError(413, str(error)) from error
    path = uploads.path(upload_id)
    assert path is not None
    try:
        if size == 0:
            raise MediaError("the upload is empty")
        max_s = request.app.state.settings.max_audio_hours * 3600
        await asyncio.to_thread(probe_audio, path, max_s)  # opens the file with FFmpeg
    except MediaTooLong as error:
        uploads.delete(upload_id)
        raise ApiError(400, error.reason) from error
    except MediaError as error:
        uploads.delete(upload_id)
        raise ApiError(400, f"not an audio file we can read: {error.reason}") from error
    return upload_json(f"{str(request.base_url).rstrip('/')}/v2/upload/{upload_id}")


@router.post("/v2/transcript")
async def create_transcript(request: Request, body: TranscriptRequest) -> dict[str, Any]:
    upload_id = None
    found = _UPLOAD_PATH.search(body.audio_url)
    if found is not None and _uploads(request).path(found.group(1)) is not None:
        upload_id = found.group(1)
    elif not body.audio_url.startswith(("http://", "https://")):
        raise ApiError(400, "audio_url must be an upload_url from /v2/upload or an http(s) URL")
    elif found is not None and body.audio_url.startswith(str(request.base_url)):
        raise ApiError(400, "no such upload: upload the file again")
    check_known_voices(request, body.known_voices)
    policy = request.app.state.outbound
    for name, url in (
        ("audio_url", None if upload_id else body.audio_url),
        ("webhook_url", body.webhook_url),
    ):
        if url is not None and (refused := await unreachable(policy, url)):
            raise ApiError(400, f"{name} refused: {refused}")
    key = caller_key(request)
    limit = request.app.state.settings.key_max_jobs
    if key is not None and limit and _store(request).active_jobs(key) >= limit:
        raise ApiError(429, f"at most {limit} queued or running transcripts per API key")
    job = _store(request).create(body.audio_url, upload_id, body.model_dump(exclude_none=True), key)
    request.app.state.runner.notify()
    return transcript_object(job)


@router.get("/v2/transcript")
async def list_transcripts(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    status: TranscriptStatus | None = None,
    created_on: date | None = None,
    before_id: str | None = None,
    after_id: str | None = None,
) -> dict[str, Any]:
    scope = caller_scope(request)
    jobs = _store(request).page(limit, status, created_on, before_id, after_id, scope)
    base = str(request.base_url).rstrip("/")
    items = [list_item(job, f"{base}/v2/transcript/{job.id}") for job in jobs]
    filters = {"limit": limit, "status": status, "created_on": created_on}
    page = f"{base}/v2/transcript?" + urlencode({k: v for k, v in filters.items() if v})
    return page_json(
        items,
        limit,
        current_url=str(request.url),
        prev_url=f"{page}&before_id={jobs[-1].id}" if jobs else None,
        next_url=f"{page}&after_id={jobs[0].id}" if jobs else None,
    )


def _job(request: Request, transcript_id: str) -> Job:
    """The caller's job (another key's is not found, as AssemblyAI answers)."""
    job = _store(request).get(transcript_id)
    scope = caller_scope(request)
    if job is None or (scope is not None and job.key_id != scope):
        raise ApiError(404, "Transcript not found")
    return job


@router.get("/v2/transcript/{transcript_id}")
async def get_transcript(request: Request, transcript_id: str) -> dict[str, Any]:
    return transcript_object(_job(request, transcript_id))


@router.delete("/v2/transcript/{transcript_id}")
async def delete_transcript(request: Request, transcript_id: str) -> dict[str, Any]:
    _job(request, transcript_id)  # the caller's, or 404
    if delete_job(_store(request), _uploads(request), transcript_id) is None:
        raise ApiError(404, "Transcript not found")
    deleted = _job(request, transcript_id)
    return transcript_object(deleted)


def _completed(request: Request, transcript_id: str) -> Transcript:
    job = _job(request, transcript_id)
    if job.status != "completed" or job.result is None:
        raise ApiError(400, f"Transcript is not completed (status: {job.status})")
    return transcript_from_body(job.result)


@router.get("/v2/transcript/{transcript_id}/sentences")
async def get_sentences(request: Request, transcript_id: str) -> dict[str, Any]:
    return _passages(request, transcript_id, "sentences")


@router.get("/v2/transcript/{transcript_id}/paragraphs")
async def get_paragraphs(request: Request, transcript_id: str) -> dict[str, Any]:
    return _passages(request, transcript_id, "paragraphs")


PASSAGES = {"sentences": passages.sentences, "paragraphs": passages.paragraphs}


def _passages(request: Request, transcript_id: str, kind: str) -> dict[str, Any]:
    transcript = _completed(request, transcript_id)
    return passages_json(transcript_id, kind, PASSAGES[kind](transcript.words), transcript)


@router.get("/v2/transcript/{transcript_id}/word-search")
async def search_words(
    request: Request, transcript_id: str, words: Annotated[str, Query(max_length=4096)]
) -> dict[str, Any]:
    """Where each of `words` (comma-separated words, numbers or phrases of up to five words)
    is spoken: counts, `[start, end]` in milliseconds, and indexes into `words`."""
    terms = words.split(",")
    if not any(term.strip() for term in terms):
        raise ApiError(400, "words must name at least one word")
    try:
        matches = word_search.search(_completed(request, transcript_id).words, terms)
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return word_search_json(transcript_id, matches)


CharsPerCaption = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/v2/transcript/{transcript_id}/{caption_format}", response_class=PlainTextResponse)
async def get_captions(
    request: Request,
    transcript_id: str,
    caption_format: Literal["srt", "vtt"],
    chars_per_caption: CharsPerCaption = captions.DEFAULT_CHARS_PER_CAPTION,
) -> str:
    """SRT or WebVTT subtitles, each caption one speaker's words."""
    render = captions.srt if caption_format == "srt" else captions.vtt
    return render(_completed(request, transcript_id), chars_per_caption)


@router.get("/v3/token")
async def temporary_token(
    request: Request,
    expires_in_seconds: Annotated[int, Query(ge=1, le=600)] = 60,
    max_session_duration_seconds: Annotated[int, Query(ge=60, le=10_800)] = 10_800,
) -> dict[str, str]:
    token = request.app.state.tokens.issue(
        expires_in_seconds, max_session_duration_seconds, caller_key(request)
    )
    return token_json(token)
