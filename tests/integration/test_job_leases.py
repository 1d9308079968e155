"""Leases are renewed while the models run: a real server with a 1 s lease and two workers
transcribes two 2-minute meetings at once, each many leases long; both complete on their
first attempt, so no lease ran out and nothing ran twice. A job deleted while it runs loses
its lease, and its worker stops."""

from __future__ import annotations

import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import API_KEY, AUTH, data_file, queue_jobs, running_server

pytestmark = pytest.mark.models

LEASE_S = 1


def _rows(data_dir: Path, ids: list[str]) -> list[tuple[str, float | None, int]]:
    """(status, lease_until, attempts) of each job, read from the server's database."""
    with sqlite3.connect(data_dir / "jobs.sqlite3", timeout=30) as db:
        rows = [
            db.execute(
                "SELECT status, lease_until, attempts FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            for job_id in ids
        ]
    return [(str(s), lu, int(a)) for s, lu, a in rows]


def test_leases_are_renewed_over_jobs_many_leases_long(tmp_path: Path) -> None:
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path),
        "STREAMER_JOB_LEASE_S": str(LEASE_S),
        "STREAMER_JOB_WORKERS": "2",
        "STREAMER_THREADS": "1",  # two workers on two cores, not four threads fighting
    }
    with running_server(env) as base:
        ids = queue_jobs(base, data_file("ami_meeting_a_2min.flac"), 2, language_code="en")
        leases: dict[str, set[float]] = {job_id: set() for job_id in ids}
        both_running = False
        deadline = time.monotonic() + 400
        while True:
            rows = _rows(tmp_path, ids)
            statuses = [status for status, _, _ in rows]
            if all(s in ("completed", "error") for s in statuses):
                break
            assert time.monotonic() < deadline, f"the jobs never finished: {rows}"
            both_running = both_running or statuses == ["processing", "processing"]
            for job_id, (status, lease_until, _) in zip(ids, rows, strict=True):
                if status == "processing" and lease_until is not None:
                    leases[job_id].add(lease_until)
            time.sleep(0.2)
        finished = [
            httpx.get(f"{base}/v2/transcript/{job_id}", headers=AUTH, timeout=30).json()
            for job_id in ids
        ]
    assert both_running, "the two jobs never ran at once"
    for job in finished:
        assert job["status"] == "completed", job["error"]
        assert len(job["words"]) > 100
    # first attempt each: no lease ran out, so no worker ever claimed the other's job
    assert [attempts for _, _, attempts in _rows(tmp_path, ids)] == [1, 1]
    # and the jobs were long enough to mean that: each ran many leases long, its worker
    # moving the lease on all the while
    for job_id, seen in leases.items():
        assert max(seen) - min(seen) >= 3 * LEASE_S, f"{job_id}: lease never renewed: {seen}"


class _Trickle(BaseHTTPRequestHandler):
    """/slow.wav: a 200 whose body comes 1 KB every 0.1 s, for a minute (within the 60 s
    download deadline all along); `hung_up` is set when the client stops reading. Anything
    else: a 30 s recording at once."""

    started = threading.Event()
    hung_up = threading.Event()

    def do_GET(self) -> None:
        if self.path != "/slow.wav":
            body = data_file("ami_trn02.flac").read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(600 * 1024))
        self.end_headers()
        _Trickle.started.set()
        try:
            for _ in range(600):
                self.wfile.write(b"\x00" * 1024)
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            _Trickle.hung_up.set()

    def log_message(self, *args: object) -> None:
        pass


def test_deleting_a_job_that_is_downloading_frees_its_worker_for_the_next(tmp_path: Path) -> None:
    """Before, the worker went on reading the deleted job's audio until the download deadline
    (60 s) while the next job waited."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{httpd.server_port}"
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path),
        "STREAMER_JOB_LEASE_S": "3",  # renewed every second: a deletion is noticed that soon
        "STREAMER_JOB_WORKERS": "1",
        "STREAMER_ALLOW_PRIVATE_URLS": "127.0.0.1",
    }
    try:
        with running_server(env) as base, httpx.Client(base_url=base, headers=AUTH) as client:
            slow = client.post("/v2/transcript", json={"audio_url": f"{origin}/slow.wav"})
            assert _Trickle.started.wait(30), "the worker never began the download"
            assert client.delete(f"/v2/transcript/{slow.json()['id']}").status_code == 200
            assert _Trickle.hung_up.wait(10), "the deleted job's download went on"
            queued = time.monotonic()
            quick = client.post("/v2/transcript", json={"audio_url": f"{origin}/quick.flac"})
            while (body := client.get(f"/v2/transcript/{quick.json()['id']}").json())[
                "status"
            ] not in ("completed", "error"):
                assert time.monotonic() - queued < 60, "the next job waited"
                time.sleep(0.2)
            assert body["status"] == "completed", body["error"]
            assert client.get(f"/v2/transcript/{slow.json()['id']}").json()["status"] == "error"
    finally:
        httpd.shutdown()
        httpd.server_close()
