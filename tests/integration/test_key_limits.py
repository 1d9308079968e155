"""Per-key limits on a real server with two keys: concurrent streams (3009, a key's temporary
tokens counted with it) and queued or running transcripts (429), each key on its own."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import data_file, running_server, ws_url

KEY_1, KEY_2 = "key-one", "key-two"


def _begins(url: str, key: str | None = None) -> tuple[bool, object]:
    """Open a stream; (whether it began, the open socket or the refusal's error message)."""
    headers = {"Authorization": key} if key else {}
    ws = connect(url, additional_headers=headers)
    first = json.loads(ws.recv(timeout=10))
    if first["type"] == "Begin":
        return True, ws
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)
    ws.close()
    return False, first


def _end(ws: object) -> None:
    ws.send(json.dumps({"type": "Terminate"}))  # type: ignore[attr-defined]
    while json.loads(ws.recv(timeout=30))["type"] != "Termination":  # type: ignore[attr-defined]
        pass
    ws.close()  # type: ignore[attr-defined]


def test_each_key_holds_its_own_streams_and_jobs(tmp_path: Path) -> None:
    env = {
        "STREAMER_DATA_DIR": str(tmp_path),  # no jobs of an earlier run
        "STREAMER_API_KEYS": f"{KEY_1},{KEY_2}",
        "STREAMER_KEY_MAX_SESSIONS": "1",
        "STREAMER_KEY_MAX_JOBS": "2",
        "STREAMER_JOB_WORKERS": "1",
    }
    with running_server(env) as base:
        url = ws_url(base, "sample_rate=16000")
        began, first = _begins(url, KEY_1)
        assert began
        began, refusal = _begins(url, KEY_1)
        assert not began and refusal == {
            "type": "Error",
            "error": "at most 1 concurrent sessions per API key",
            "error_code": 3009,
        }
        token = httpx.get(f"{base}/v3/token", headers={"authorization": KEY_1}).json()["token"]
        began, refusal = _begins(ws_url(base, f"sample_rate=16000&token={token}"))
        assert not began and refusal["error_code"] == 3009  # type: ignore[index]
        began, other = _begins(url, KEY_2)  # the other key is not held back
        assert began
        _end(first)
        began, again = _begins(ws_url(base, f"sample_rate=16000&token={token}"))
        assert began  # the token was not used up by its refusal
        _end(again)
        _end(other)

        audio = data_file("ami_meeting_a_2min.flac").read_bytes()
        upload = httpx.post(
            f"{base}/v2/upload", content=audio, headers={"authorization": KEY_1}, timeout=60
        ).json()["upload_url"]
        statuses = []
        for key in (KEY_1, KEY_1, KEY_1, KEY_2):
            response = httpx.post(
                f"{base}/v2/transcript",
                json={"audio_url": upload},
                headers={"authorization": key},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json() == {
                    "error": "at most 2 queued or running transcripts per API key"
                }
        # two minutes of audio take seconds to transcribe: the first two are still active
        assert statuses == [200, 200, 429, 200]
