"""Transcripts and voices belong to the API key that made them: another key neither sees,
lists, uses nor deletes them (404 as for an unknown id, 400 / 3006 for a voice it names),
and an admin key (`STREAMER_ADMIN_KEYS`) sees every key's. A real server and real models
(the voice is enrolled from the telephone call)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.conftest import running_server, telephone_float, ws_url
from tests.integration.test_voices import ENROL_S, wav

pytestmark = pytest.mark.models

OWNER, OTHER, ADMIN = "key-owner", "key-other", "key-admin"


def _as(key: str) -> dict[str, str]:
    return {"authorization": key}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, nowhere: str) -> Iterator[str]:
    env = {
        "STREAMER_API_KEYS": f"{OWNER},{OTHER}",
        "STREAMER_ADMIN_KEYS": ADMIN,
        "STREAMER_DATA_DIR": str(tmp_path_factory.mktemp("ownership")),
    }
    with running_server(env) as url:
        yield url


def test_a_transcript_is_its_keys(server: str, nowhere: str) -> None:
    made = httpx.post(
        f"{server}/v2/transcript",
        headers=_as(OWNER),
        json={"audio_url": f"{nowhere}/a.wav"},  # answers 404: the job ends in error at once
    ).json()
    url = f"{server}/v2/transcript/{made['id']}"
    assert httpx.get(url, headers=_as(OWNER)).status_code == 200
    for path in ("", "/sentences", "/srt", "/word-search?words=hi"):
        response = httpx.get(url + path, headers=_as(OTHER))
        assert response.status_code == 404, path
        assert response.json() == {"error": "Transcript not found"}  # as for an unknown id
    assert httpx.delete(url, headers=_as(OTHER)).status_code == 404
    assert httpx.get(url, headers=_as(OWNER)).json()["audio_url"] == f"{nowhere}/a.wav"

    def listed(key: str) -> list[str]:
        page = httpx.get(f"{server}/v2/transcript", headers=_as(key), params={"limit": 200})
        return [item["id"] for item in page.json()["transcripts"]]

    assert made["id"] in listed(OWNER) and made["id"] not in listed(OTHER)
    assert made["id"] in listed(ADMIN)
    assert httpx.get(url, headers=_as(ADMIN)).status_code == 200
    assert httpx.delete(url, headers=_as(ADMIN)).status_code == 200  # an operator's delete


def test_a_voice_is_its_keys(server: str, nowhere: str, tmp_path: Path) -> None:
    enrolment = wav(tmp_path / "voice.wav", telephone_float(*ENROL_S)).read_bytes()
    response = httpx.post(
        f"{server}/v2/voices",
        params={"name": "Grace"},
        content=enrolment,
        headers=_as(OWNER),
        timeout=120,
    )
    assert response.status_code == 200, response.text
    voice_id = response.json()["id"]
    url = f"{server}/v2/voices/{voice_id}"

    def listed(key: str) -> list[str]:
        voices = httpx.get(f"{server}/v2/voices", headers=_as(key)).json()["voices"]
        return [voice["id"] for voice in voices]

    assert voice_id in listed(OWNER) and voice_id not in listed(OTHER)
    assert voice_id in listed(ADMIN)
    assert httpx.get(url, headers=_as(OTHER)).status_code == 404
    assert httpx.delete(url, headers=_as(OTHER)).status_code == 404
    named = httpx.post(
        f"{server}/v2/transcript",
        headers=_as(OTHER),
        json={"audio_url": f"{nowhere}/a.wav", "speaker_labels": True, "known_voices": [voice_id]},
    )
    assert named.status_code == 400 and "no voice with id" in named.json()["error"]
    stream = ws_url(server, f"sample_rate=16000&known_voices={voice_id}")
    with connect(stream, additional_headers=_as(OTHER)) as ws:
        assert json.loads(ws.recv(timeout=10))["error_code"] == 3006
    with connect(stream, additional_headers=_as(OWNER)) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"
    assert httpx.get(url, headers=_as(OWNER)).status_code == 200
    assert httpx.delete(url, headers=_as(OWNER)).status_code == 200
