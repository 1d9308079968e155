"""Retention (`STREAMER_RETENTION_HOURS`): finished transcripts and uploads older than it are
deleted, as `DELETE /v2/transcript/{id}` deletes them (the record stays, its text, audio URL,
webhook secret and upload go), by a sweep that runs off the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamer.api.jobs.store import Job, JobStore
from streamer.api.jobs.uploads import UploadStore

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
BATCH = 500
"""Jobs deleted per store call (a long-idle server catches up over several)."""


@dataclass(frozen=True, slots=True)
class Swept:
    transcripts: int
    uploads: int


def delete_job(jobs: JobStore, uploads: UploadStore, job_id: str) -> Job | None:
    """Forget a job's text, audio URL and webhook secret, and its upload unless another job
    uses it; the job as it was, or None when unknown."""
    job = jobs.delete(job_id)
    if job is not None and job.upload_id is not None and not jobs.upload_in_use(job.upload_id):
        uploads.delete(job.upload_id)
    return job


def sweep(jobs: JobStore, uploads: UploadStore, cutoff: float) -> Swept:
    """Delete what ended or was uploaded before `cutoff` (seconds since the epoch): the
    transcripts first, then every upload that old that no job still needs (a queued or
    running job keeps its upload, however old)."""
    transcripts = 0
    while ids := jobs.finished_before(cutoff, BATCH):
        for job_id in ids:
            delete_job(jobs, uploads, job_id)
            transcripts += 1
    removed = 0
    for upload_id in uploads.saved_before(cutoff):
        if not jobs.upload_in_use(upload_id):
            uploads.delete(upload_id)
            removed += 1
    return Swept(transcripts, removed)


async def sweep_forever(
    jobs: JobStore,
    uploads: UploadStore,
    retention_s: float,
    clock: Callable[[], float] = time.time,
    interval_s: float = SWEEP_INTERVAL_S,
) -> None:
    """Sweep every `interval_s` until cancelled (each sweep in a thread: it touches files)."""
    while True:
        try:
            swept = await asyncio.to_thread(sweep, jobs, uploads, clock() - retention_s)
            if swept.transcripts or swept.uploads:
                log.info(
                    "retention: deleted %d transcripts, %d uploads",
                    swept.transcripts,
                    swept.uploads,
                )
        except Exception:  # a locked store or a full disk: the next sweep tries again
            log.exception("retention sweep failed")
        await asyncio.sleep(interval_s)
