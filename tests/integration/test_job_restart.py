"""Jobs survive a crash: a real server is killed (SIGKILL) mid-job and started again on the
same data dir; the interrupted and the queued jobs complete, each exactly once, and the upload
is still there."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from streamer.tools.local_server import LocalServer
from tests.integration.conftest import API_KEY, AUTH, data_file, queue_jobs

pytestmark = pytest.mark.models

LEASE_S = 4


def start(data_dir: Path, log: Path) -> LocalServer:
    server = LocalServer(
        {
            "STREAMER_API_KEYS": API_KEY,
            "STREAMER_DATA_DIR": str(data_dir),
            "STREAMER_JOB_LEASE_S": str(LEASE_S),
        },
        log=log,
    )
    server.wait_ready()
    return server


def status(base: str, transcript_id: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(
        f"{base}/v2/transcript/{transcript_id}", headers=AUTH
    ).json()
    return body


def test_jobs_complete_after_the_server_is_killed_mid_job(tmp_path: Path) -> None:
    log = tmp_path / "server.log"  # both runs, for the failure message
    first = start(tmp_path, log)
    try:
        meeting = data_file("ami_meeting_a_2min.flac")
        ids = queue_jobs(first.url, meeting, 2, speaker_labels=True)
        deadline = time.monotonic() + 60
        while status(first.url, ids[0])["status"] != "processing":
            assert time.monotonic() < deadline, "the first job never started"
            time.sleep(0.2)
        time.sleep(1.0)  # well inside the model calls
    finally:
        first.kill()
    assert status_in_db(tmp_path, ids) == ["processing", "queued"]

    with start(tmp_path, log) as second:
        deadline = time.monotonic() + 300
        while any(status(second.url, i)["status"] not in ("completed", "error") for i in ids):
            assert time.monotonic() < deadline, "the jobs never finished after the restart"
            time.sleep(0.5)
        finished = [status(second.url, i) for i in ids]
    for job in finished:
        assert job["status"] == "completed", job["error"]
        assert job["utterances"] and len(job["words"]) > 100  # type: ignore[arg-type]
    assert attempts_in_db(tmp_path, ids) == [2, 1]  # the killed run, then one more; never both


def _query(data_dir: Path, column: str, ids: list[str]) -> list[object]:
    with sqlite3.connect(data_dir / "jobs.sqlite3") as db:
        return [
            db.execute(f"SELECT {column} FROM jobs WHERE id = ?", (i,)).fetchone()[0] for i in ids
        ]


def status_in_db(data_dir: Path, ids: list[str]) -> list[object]:
    return _query(data_dir, "status", ids)


def attempts_in_db(data_dir: Path, ids: list[str]) -> list[object]:
    return _query(data_dir, "attempts", ids)
