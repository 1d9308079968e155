"""The worker pool that runs transcript jobs, on threads of its own (never the event loop).

Each worker claims a job with a lease, renews the lease while the models run, and records the
outcome; a finished job with a `webhook_url` gets a webhook queued in the store, which the
server's webhook sender delivers. Workers that die leave their job to be claimed again once
the lease runs out, by this process after a restart or by another replica.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from streamer.api.jobs.store import Job, JobStore
from streamer.api.jobs.uploads import UploadStore
from streamer.api.logs import log_context
from streamer.api.outbound import AddressPolicy, guarded_client
from streamer.api.voice_store import UnknownVoices, VoiceStore
from streamer.api.wire import TranscriptRequest, transcript_body
from streamer.files.media import (
    DecodedFile,
    MediaError,
    MediaLimit,
    decode_channels_to_files,
    decode_to_file,
)
from streamer.files.pipeline import FileTranscriber, Refused
from streamer.files.word_lists import profane_words
from streamer.models.priority import lower_this_thread

log = logging.getLogger(__name__)

FETCH_FAILED = "could not fetch audio_url"
IDLE_POLL_S = 1.0
"""How often an idle worker looks for jobs another process queued (its own are signalled)."""


class AudioUnavailable(Exception):
    """The job's audio cannot be had: gone, too large, too slow, or not audio."""


class JobLost(Exception):
    """The job was deleted, or its lease lost, while it ran: stop, keep nothing."""


@dataclass(frozen=True, slots=True)
class RunnerLimits:
    workers: int = 1
    lease_s: float = 30.0
    fetch_timeout_s: float = 60.0
    max_audio_bytes: int = 2 * 1024**3
    max_audio_s: float = 10 * 3600.0
    max_channels: int = 8
    """channels a `multichannel` job transcribes apart at most (each costs a transcription)"""
    niceness: int = 10
    """how much lower than live streams the workers run (`lower_this_thread`)"""


class RunnerSlot:
    """Where the runner sits once the models are loaded; jobs queued before that wait in the
    store and are claimed when it starts."""

    def __init__(self) -> None:
        self._runner: JobRunner | None = None

    def attach(self, runner: JobRunner) -> None:
        runner.start()
        self._runner = runner

    def notify(self) -> None:
        if self._runner is not None:
            self._runner.notify()


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        uploads: UploadStore,
        transcriber: FileTranscriber,
        limits: RunnerLimits,
        scratch: Path,
        outbound: AddressPolicy,
        voices: VoiceStore | None = None,
    ) -> None:
        self._store = store
        self._outbound = outbound
        self._voices = voices
        self._uploads = uploads
        self._transcriber = transcriber
        self._limits = limits
        self._scratch = scratch
        self._work = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)  # downloads of workers that died
        self._scratch.mkdir(parents=True, exist_ok=True)
        for index in range(self._limits.workers):
            name = f"job-worker-{index}-{uuid.uuid4().hex[:8]}"
            thread = threading.Thread(target=self._loop, args=(name,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        """A job was queued: wake an idle worker now rather than at its next poll."""
        self._work.set()

    def stop(self) -> None:
        """Stop claiming, and put the jobs still running back in the queue without counting
        the attempt (a deploy is not a crash): the process exits without waiting for them."""
        self._stopping.set()
        self._work.set()
        for thread in self._threads:
            self._store.release(thread.name)

    def _loop(self, worker: str) -> None:
        lower_this_thread(self._limits.niceness)
        while not self._stopping.is_set():
            try:
                job = self._store.claim(worker, self._limits.lease_s)
                if job is None:
                    self._work.wait(IDLE_POLL_S)
                    self._work.clear()
                elif job.status != "error":  # an errored one ran out of attempts: reported
                    self._run(job, worker)
            except Exception:  # the store failed (disk full, locked): the job's lease runs out
                log.exception("job worker %s: store failed; retrying", worker)
                self._stopping.wait(IDLE_POLL_S)

    def _run(self, job: Job, worker: str) -> None:
        log_context.set(f"job={job.id}")  # this thread's lines name the job until the next
        log.info("transcribing (attempt %d)", job.attempts)
        started = time.monotonic()
        renewing, lost = threading.Event(), threading.Event()
        renewer = threading.Thread(
            target=self._renew,
            args=(job.id, worker, renewing, lost),
            name=f"{worker}-lease",
            daemon=True,
        )
        renewer.start()
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = self._transcribe(job, lost)
        except JobLost:
            log.info("stopped: the job was deleted or its lease lost")
            return
        except (AudioUnavailable, UnknownVoices, Refused) as problem:  # said as it is
            error = str(problem)
        except Exception:
            log.exception("job %s failed", job.id)
            error = "internal error while transcribing"
        finally:
            renewing.set()
            renewer.join()
            log_context.set("-")
        self._store.finish(job.id, worker, result, error)
        log.info(
            "job %s %s in %.1f s", job.id, "failed" if error else "done", time.monotonic() - started
        )

    def _renew(
        self, job_id: str, worker: str, done: threading.Event, lost: threading.Event
    ) -> None:
        """Renew the lease every third of its length; when the job is gone (deleted, or
        released by `stop`), set `lost`: the work stops at its next step."""
        while not done.wait(self._limits.lease_s / 3):
            try:
                if not self._store.renew(job_id, worker, self._limits.lease_s):
                    lost.set()
                    return
            except Exception:  # a later renewal may still make it in time
                log.exception("could not renew the lease of job %s", job_id)

    def _transcribe(self, job: Job, lost: threading.Event) -> dict[str, Any]:
        request = TranscriptRequest.model_validate(job.request)  # validated when created
        known = []
        if request.known_voices and self._voices is not None:
            known = [voice.known() for voice in self._voices.get_many(request.known_voices, None)]

        def still_wanted(_share: float = 0.0) -> None:
            if lost.is_set():
                raise JobLost

        with tempfile.TemporaryDirectory(dir=self._scratch) as scratch:
            channels = self._audio(job, Path(scratch), request.channels_apart, still_wanted)
            count, language = request.speaker_count(), request.language
            options = request.file_options(profane_words())
            if request.channels_apart:
                transcript = self._transcriber.transcribe_channels(
                    channels, count, language, request.speaker_labels, still_wanted, known, options
                )
            else:
                transcript = self._transcriber.transcribe(
                    channels[0],
                    count,
                    language,
                    request.speaker_labels,
                    still_wanted,
                    known,
                    options=options,
                )
        return transcript_body(transcript, request.speaker_labels).model_dump()

    def _audio(
        self, job: Job, scratch: Path, channels_apart: bool, still_wanted: Callable[[], None]
    ) -> list[DecodedFile]:
        """The job's audio decoded into `scratch` (read back a stretch at a time: a file of
        hours is never held in memory): one channel mixed down, or each apart."""
        if job.upload_id is not None:
            path = self._uploads.path(job.upload_id)
            if path is None:
                raise AudioUnavailable("the uploaded file is gone")
        else:
            path = scratch / "download"
            with path.open("wb") as file:
                self._download(job.audio_url, file, still_wanted)
        still_wanted()
        limits = self._limits
        try:
            if channels_apart:
                return decode_channels_to_files(
                    path, scratch, limits.max_channels, limits.max_audio_s
                )
            return [decode_to_file(path, scratch / "decoded.f32", limits.max_audio_s)]
        except MediaLimit as error:
            raise AudioUnavailable(error.reason) from error
        except MediaError as error:  # its reason: the path is the server's, not the client's
            raise AudioUnavailable(f"not an audio file we can read: {error.reason}") from error

    def _download(self, url: str, file: BinaryIO, still_wanted: Callable[[], None]) -> None:
        """Fetch `url` into `file`, within the size limit and the time limit (the whole
        download, headers included, not each read: a slow trickle must not hold a worker),
        from addresses the outbound policy permits (checked on each connection). Whatever
        went wrong, the job says only "could not fetch audio_url": a status, a refused
        connection or a timeout would let a caller probe what the server can reach (the
        cause is logged)."""
        size = 0
        limit_s = self._limits.fetch_timeout_s
        try:
            with (
                guarded_client(self._outbound, limit_s, total_s=limit_s) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    log.info("audio_url answered HTTP %d", response.status_code)
                    raise AudioUnavailable(FETCH_FAILED)
                for chunk in response.iter_bytes():
                    still_wanted()  # a job deleted meanwhile frees its worker now
                    size += len(chunk)
                    if size > self._limits.max_audio_bytes:
                        raise AudioUnavailable("the file at audio_url is too large")
                    file.write(chunk)
            file.flush()
        except httpx.HTTPError as error:
            log.info("could not fetch audio_url: %s", type(error).__name__)
            raise AudioUnavailable(FETCH_FAILED) from error
