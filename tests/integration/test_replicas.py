"""Two `streamer serve` replicas on one PostgreSQL database and one uploads folder, as a
deployment behind a load balancer runs them: jobs queued on either are spread over both and
none runs twice; a replica killed with SIGKILL mid-job has its job finished by the other; a
temporary token issued by one opens a stream on the other, once; every webhook arrives once.

Which replica ran a job is read from each one's log (`[job=ID]: transcribing (attempt N)`)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streamer.tools.local_server import LocalServer
from tests.integration.conftest import API_KEY, AUTH, telephone_file
from tests.integration.postgres import PostgresServer

pytestmark = pytest.mark.models

LEASE_S = 4
QUICK_JOBS = 8
SECRET = "replicas-share-this-secret-of-32+chars"
_RAN = re.compile(r"\[job=([0-9a-f-]{36})\]: transcribing \(attempt (\d+)\)")


class _Hooks(BaseHTTPRequestHandler):
    received: Counter[str]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received[body["transcript_id"]] += 1
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # the quick jobs' audio_url: not found, so they end at once
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, Counter[str]]]:
    """A loopback server counting the webhooks it gets, per transcript id."""
    handler = type("Hooks", (_Hooks,), {"received": Counter()})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", handler.received
    httpd.shutdown()
    httpd.server_close()


def _replica(name: str, database_url: str, tmp_path: Path) -> LocalServer:
    return LocalServer(
        {
            "STREAMER_API_KEYS": API_KEY,
            "STREAMER_DATABASE_URL": database_url,
            "STREAMER_UPLOADS": str(tmp_path / "shared-uploads"),  # the volume both mount
            "STREAMER_DATA_DIR": str(tmp_path / name),
            "STREAMER_TOKEN_SECRET": SECRET,
            "STREAMER_JOB_LEASE_S": str(LEASE_S),
        },
        log=tmp_path / f"{name}.log",
    )


def _runs(replicas: dict[str, LocalServer]) -> dict[str, list[tuple[str, int]]]:
    """Per job id: (replica, attempt) of each time a replica started it, by attempt."""
    runs: dict[str, list[tuple[str, int]]] = {}
    for name, replica in replicas.items():
        for job_id, attempt in _RAN.findall(replica.log.read_text(errors="replace")):
            runs.setdefault(job_id, []).append((name, int(attempt)))
    return {job_id: sorted(started, key=lambda run: run[1]) for job_id, started in runs.items()}


def _wait_finished(base: str, ids: list[str], timeout_s: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [httpx.get(f"{base}/v2/transcript/{i}", headers=AUTH).json() for i in ids]
        if all(job["status"] in ("completed", "error") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, [job["status"] for job in jobs]
        time.sleep(0.3)


def _wait_hooks(received: Counter[str], ids: list[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while any(received[i] == 0 for i in ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a second delivery, were there one, would come within this


def test_two_replicas_share_the_jobs_the_uploads_and_the_tokens(
    postgres: PostgresServer, tmp_path: Path, receiver: tuple[str, Counter[str]]
) -> None:
    hooks_url, received = receiver
    database_url = postgres.new_database()
    replicas = {name: _replica(name, database_url, tmp_path) for name in ("a", "b")}
    try:
        for replica in replicas.values():
            replica.wait_ready()
        a, b = replicas["a"].url, replicas["b"].url
        hook = {"webhook_url": f"{hooks_url}/hook"}

        # quick jobs (their audio is not found: each ends in error as soon as it runs),
        # queued on both replicas in turn
        quick = [
            httpx.post(
                f"{(a, b)[n % 2]}/v2/transcript",
                headers=AUTH,
                json={"audio_url": f"{hooks_url}/missing-{n}.wav", **hook},
            ).json()["id"]
            for n in range(QUICK_JOBS)
        ]
        for job in _wait_finished(b, quick, timeout_s=60):
            assert job["status"] == "error" and job["error"] == "could not fetch audio_url"
        runs = _runs(replicas)
        assert all(len(runs[i]) == 1 for i in quick), runs  # none ran twice
        assert {runs[i][0][0] for i in quick} == {"a", "b"}  # spread over both

        # a real job, uploaded to one replica and queued on the other (the shared folder),
        # whose replica is killed mid-job: the other finishes it once the lease runs out
        upload_url = httpx.post(
            f"{a}/v2/upload", content=telephone_file().read_bytes(), headers=AUTH, timeout=60
        ).json()["upload_url"]
        assert upload_url.startswith(a)
        long_job = httpx.post(
            f"{b}/v2/transcript",
            headers=AUTH,
            json={"audio_url": upload_url, "speaker_labels": True, **hook},
        ).json()["id"]
        deadline = time.monotonic() + 60
        while long_job not in _runs(replicas):
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        time.sleep(1.0)  # inside the model calls
        ((holder, _),) = _runs(replicas)[long_job]
        replicas[holder].kill()
        survivor = "b" if holder == "a" else "a"
        (finished,) = _wait_finished(replicas[survivor].url, [long_job], timeout_s=240)
        assert finished["status"] == "completed", finished["error"]
        assert len(finished["words"]) > 20  # type: ignore[arg-type]
        assert _runs(replicas)[long_job] == [(holder, 1), (survivor, 2)]

        _wait_hooks(received, [*quick, long_job])
        assert {i: received[i] for i in [*quick, long_job]} == dict.fromkeys(
            [*quick, long_job], 1
        )  # each webhook arrived, once

        # the killed replica, started again, opens a stream with a token the other issued;
        # the token is then used up on both
        token = httpx.get(f"{replicas[survivor].url}/v3/token", headers=AUTH).json()["token"]
        replicas[holder] = _replica(holder, database_url, tmp_path)
        replicas[holder].wait_ready()
        other = replicas[holder].ws_url + "/v3/ws?sample_rate=16000&token=" + quote(token)
        with connect(other) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
            ws.send(json.dumps({"type": "Terminate"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "Termination"
        again = replicas[survivor].ws_url + "/v3/ws?sample_rate=16000&token=" + quote(token)
        with connect(again) as ws:  # used on the other replica: refused here
            assert json.loads(ws.recv(timeout=10))["error_code"] == 4001
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
    finally:
        for replica in replicas.values():
            replica.stop()
