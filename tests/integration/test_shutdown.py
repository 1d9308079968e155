"""A deploy stops the server with SIGTERM: a stream mid-turn still gets its final `Turn` and
`Termination` before the close (1012, service restart), the running job goes back in the
queue, and the process exits."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from streamer.tools.local_server import LocalServer
from tests.integration.conftest import API_KEY, AUTH, data_file, pcm16, queue_jobs
from tests.integration.test_job_restart import status_in_db

pytestmark = pytest.mark.models

CHUNK = 3200  # 100 ms of 16 kHz pcm_s16le


def stream_until_words(websocket: ClientConnection, audio: bytes) -> None:
    """Send speech at real time until a partial has words (the turn is open)."""
    for start in range(0, len(audio), CHUNK):
        websocket.send(audio[start : start + CHUNK])
        time.sleep(0.1)
        while True:
            try:
                message = json.loads(websocket.recv(timeout=0))
            except TimeoutError:
                break
            if message["type"] == "Turn" and message["words"] and not message["end_of_turn"]:
                return
    raise AssertionError("no partial with words")


def test_sigterm_ends_open_turns_and_puts_jobs_back(tmp_path: Path) -> None:
    """Also: with `STREAMER_LOG_FORMAT=json` every line is one JSON object, and a session's
    and a job's lines carry their id."""
    server = LocalServer(
        {
            "STREAMER_API_KEYS": API_KEY,
            "STREAMER_DATA_DIR": str(tmp_path),
            "STREAMER_LOG_FORMAT": "json",
        },
        log=tmp_path / "server.log",
    )
    try:
        server.wait_ready()
        [job] = queue_jobs(server.url, data_file("ami_meeting_a_2min.flac"), 1)
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/v2/transcript/{job}", headers=AUTH).json()["status"] != (
            "processing"
        ):
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
        url = f"{server.ws_url}/v3/ws?sample_rate=16000&encoding=pcm_s16le&token={API_KEY}"
        with connect(url, additional_headers=AUTH) as websocket:
            assert json.loads(websocket.recv(timeout=10))["type"] == "Begin"
            stream_until_words(websocket, pcm16(data_file("ami_trn03.flac")))
            signalled = time.monotonic()
            server.process.terminate()
            # audio keeps coming while the server shuts down, as a live call's would
            sender = threading.Thread(target=_keep_sending, args=(websocket,), daemon=True)
            sender.start()
            received = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    received.append(json.loads(websocket.recv(timeout=15)))
        ended_s = time.monotonic() - signalled
        # uvicorn shuts down, then raises the signal again: the exit says what stopped it
        assert server.process.wait(timeout=30) == -signal.SIGTERM
    finally:
        server.stop()
    kinds = [m["type"] for m in received]
    assert kinds[-1] == "Termination", kinds
    finals = [m for m in received if m["type"] == "Turn" and m["end_of_turn"]]
    assert finals and finals[-1]["words"], "the open turn's words were lost"
    assert all(w["speaker"] for w in finals[-1]["words"])
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert ended_s < 10, f"the stream took {ended_s:.1f} s to end"
    assert status_in_db(tmp_path, [job]) == ["queued"]  # not failed: it runs after the deploy

    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
    assert {"time", "level", "name", "context", "message"} <= set(lines[0])

    def context_of(message_start: str) -> str:
        [line] = [line for line in lines if line["message"].startswith(message_start)]
        return str(line["context"])

    session = context_of("opened: ")
    assert session.startswith("session=") and context_of("closed 1012 after ") == session
    assert context_of("transcribing (attempt 1)") == f"job={job}"
    assert context_of("shutting down: ending 1 live streams") == "-"


def _keep_sending(websocket: ClientConnection) -> None:
    silence = bytes(CHUNK)
    try:
        while True:
            websocket.send(silence)
            time.sleep(0.1)
    except ConnectionClosed:
        return
