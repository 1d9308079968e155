"""Retention: the sweep deletes finished transcripts and uploads older than the retention,
keeps what is younger and what a queued or running job still needs (a real SQLite database and
upload folder, on a fake clock)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from streamer.api.jobs.retention import Swept, sweep, sweep_forever
from streamer.api.jobs.store import DELETED_AUDIO_URL, SqlJobStore
from streamer.api.jobs.uploads import STALE_PART_S, FolderUploadStore
from streamer.api.schema import open_database
from tests.integration.conftest import FakeClock

HOUR = 3600.0


async def _body() -> AsyncIterator[bytes]:
    yield b"RIFF not really audio"


def _store(tmp_path: Path, clock: FakeClock) -> SqlJobStore:
    return SqlJobStore(open_database(f"sqlite:///{tmp_path / 'jobs.sqlite3'}"), clock=clock)


def _upload(uploads: FolderUploadStore, saved_at: float) -> str:
    upload_id, _ = asyncio.run(uploads.save(_body(), 1024))
    path = uploads.path(upload_id)
    assert path is not None
    os.utime(path, (saved_at, saved_at))
    return upload_id


def _finished(store: SqlJobStore, upload_id: str | None, error: str | None = None) -> str:
    job = store.create(
        f"https://x.example/{upload_id}", upload_id, {"webhook_auth_header_value": "secret"}
    )
    claimed = store.claim("w", lease_s=60)
    assert claimed is not None and claimed.id == job.id
    store.finish(job.id, "w", None if error else {"text": "hello"}, error)
    return job.id


def test_the_sweep_deletes_what_is_older_than_the_retention_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    store = _store(tmp_path, clock)
    uploads = FolderUploadStore(tmp_path / "uploads")
    start = clock.now
    old_upload = _upload(uploads, start)
    old_done = _finished(store, old_upload)
    old_failed = _finished(store, None, error="not audio")
    orphan = _upload(uploads, start)  # uploaded, never transcribed
    waiting_upload = _upload(uploads, start)
    clock.advance(20 * HOUR)
    young_upload = _upload(uploads, clock.now)
    young = _finished(store, young_upload)
    waiting = store.create("https://x.example/w", waiting_upload, {}).id  # queued, not run
    clock.advance(5 * HOUR)  # the old ones are 25 h old, the young 5 h

    assert sweep(store, uploads, cutoff=clock.now - 24 * HOUR) == Swept(transcripts=2, uploads=1)
    for job_id in (old_done, old_failed):
        job = store.get(job_id)
        assert job is not None and job.result is None and job.audio_url == DELETED_AUDIO_URL
        assert "webhook_auth_header_value" not in job.request  # forgotten as DELETE forgets it
    assert uploads.path(old_upload) is None and uploads.path(orphan) is None
    kept = store.get(young)
    assert kept is not None and kept.result == {"text": "hello"}
    assert uploads.path(young_upload) is not None
    assert store.get(waiting).status == "queued"  # type: ignore[union-attr]
    assert uploads.path(waiting_upload) is not None  # its job still needs it
    assert sweep(store, uploads, cutoff=clock.now - 24 * HOUR) == Swept(0, 0)  # nothing twice


def test_the_server_sweeps_on_its_own(tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(tmp_path, clock)
    uploads = FolderUploadStore(tmp_path / "uploads")
    upload = _upload(uploads, clock.now)
    job_id = _finished(store, upload)
    clock.advance(2 * HOUR)

    async def run() -> None:
        task = asyncio.create_task(
            sweep_forever(store, uploads, retention_s=HOUR, clock=clock, interval_s=0.01)
        )
        for _ in range(200):
            await asyncio.sleep(0.01)
            if uploads.path(upload) is None:
                break
        task.cancel()

    asyncio.run(run())
    assert uploads.path(upload) is None
    assert store.get(job_id).audio_url == DELETED_AUDIO_URL  # type: ignore[union-attr]


def test_a_replica_starting_removes_only_stale_part_files(tmp_path: Path) -> None:
    """Replicas share the uploads folder: one starting must not delete another's upload in
    progress (a young part file), only what a crash left (one not written to for an hour)."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    stale, in_progress = folder / "a.part", folder / "b.part"
    for path in (stale, in_progress):
        path.write_bytes(b"half an upload")
    hours_ago = time.time() - STALE_PART_S - 60
    os.utime(stale, (hours_ago, hours_ago))
    FolderUploadStore(folder)
    assert not stale.exists() and in_progress.exists()
