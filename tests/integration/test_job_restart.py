"""Jobs survive a crash: a real server is killed (SIGKILL) mid-job and started again on the
same data dir; the interrupted and the queued jobs complete, each exactly once, and the upload
is still there."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import API_KEY, AUTH, data_file, free_port, queue_jobs, wait_healthy

pytestmark = pytest.mark.models

LEASE_S = 4


def start(data_dir: Path, log: object) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(data_dir),
        "STREAMER_JOB_LEASE_S": str(LEASE_S),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer.tools.cli", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(process, base, log)  # type: ignore[arg-type]
    return process, base


def status(base: str, transcript_id: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(
        f"{base}/v2/transcript/{transcript_id}", headers=AUTH
    ).json()
    return body


def test_jobs_complete_after_the_server_is_killed_mid_job(tmp_path: Path) -> None:
    with tempfile.TemporaryFile(mode="w+") as log:
        first, base = start(tmp_path, log)
        try:
            meeting = data_file("ami_meeting_a_2min.flac")
            ids = queue_jobs(base, meeting, 2, speaker_labels=True)
            deadline = time.monotonic() + 60
            while status(base, ids[0])["status"] != "processing":
                assert time.monotonic() < deadline, "the first job never started"
                time.sleep(0.2)
            time.sleep(1.0)  # well inside the model calls
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        assert status_in_db(tmp_path, ids) == ["processing", "queued"]

        second, base = start(tmp_path, log)
        try:
            deadline = time.monotonic() + 300
            while any(status(base, i)["status"] not in ("completed", "error") for i in ids):
                assert time.monotonic() < deadline, "the jobs never finished after the restart"
                time.sleep(0.5)
            finished = [status(base, i) for i in ids]
        finally:
            second.terminate()
            second.wait(timeout=30)
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
