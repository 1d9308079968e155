"""Known voices against the real server and models: enrol one caller of the telephone call
from their later speech over `/v2/voices`, then transcribe (and stream) the earlier part of
the call with `known_voices`: that caller's words carry the name, the other caller's a
letter. Also the list, the delete, bad enrolments and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streamer.api.wire import StreamParams, TranscriptRequest
from tests.integration.audio_files import write_audio
from tests.integration.conftest import (
    API_KEY,
    AUTH,
    run_cli,
    send_paced,
    telephone_float,
    telephone_pcm,
    ws_url,
)
from tests.integration.test_rest import upload, wait_done

pytestmark = pytest.mark.models

ENROL_S = (21.8, 28.4)
"""the second caller (speaker91 of the reference) alone, 6.6 s"""
TEST_S = 21.5
"""the call before the enrolment: both callers"""
SECOND_CALLER_S = (14.6, 17.8)
FIRST_CALLER_S = (11.1, 14.4)
"""stretches of the test part where one caller talks alone (reference turns, trimmed)"""


def wav(path: Path, audio: np.ndarray) -> Path:
    return write_audio(path, audio, rate=16000, channels=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("voices")
    return {
        "enrol": wav(folder / "grace.wav", telephone_float(*ENROL_S)),
        "test": wav(folder / "call.wav", telephone_float(0.0, TEST_S)),
    }


def enrol(server: str, name: str | None, body: bytes) -> httpx.Response:
    params = {"name": name} if name is not None else {}
    return httpx.post(f"{server}/v2/voices", params=params, content=body, headers=AUTH, timeout=120)


@pytest.fixture(scope="module")
def grace(server: str, files: dict[str, Path]) -> str:
    response = enrol(server, "Grace", files["enrol"].read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Grace" and len(body["id"]) == 32
    return str(body["id"])


def speakers_in(words: list[dict[str, Any]], span: tuple[float, float]) -> list[str]:
    """The speaker of each word inside `span` (seconds)."""
    start, end = span[0] * 1000, span[1] * 1000
    return [w["speaker"] for w in words if start <= w["start"] and w["end"] <= end]


def test_an_enrolled_caller_is_named_in_a_transcript(
    server: str, files: dict[str, Path], grace: str
) -> None:
    upload_url = upload(server, files["test"].read_bytes()).json()["upload_url"]
    created = httpx.post(
        f"{server}/v2/transcript",
        headers=AUTH,
        json={"audio_url": upload_url, "speaker_labels": True, "known_voices": [grace]},
    ).json()
    assert created["known_voices"] == [grace]  # echoed, as every request field
    done = wait_done(server, str(created["id"]))
    assert done["status"] == "completed", done
    words: list[dict[str, Any]] = done["words"]  # type: ignore[assignment]
    assert set(speakers_in(words, SECOND_CALLER_S)) == {"Grace"}
    first = set(speakers_in(words, FIRST_CALLER_S))
    assert len(first) == 1 and first <= {"A", "B"}
    utterances: list[dict[str, object]] = done["utterances"]  # type: ignore[assignment]
    assert {"Grace"} < {u["speaker"] for u in utterances}
    srt = httpx.get(f"{server}/v2/transcript/{created['id']}/srt", headers=AUTH).text
    assert "Grace: " in srt


def test_an_enrolled_caller_is_named_in_a_stream(grace: str, server: str) -> None:
    pcm = telephone_pcm(0.0, TEST_S)
    latest: dict[int, list[dict[str, Any]]] = {}
    with connect(ws_url(server, f"sample_rate=16000&known_voices={grace}&token={API_KEY}")) as ws:
        ws.recv(timeout=10)
        send_paced(ws, pcm)
        ws.send(json.dumps({"type": "Terminate"}))
        with pytest.raises(ConnectionClosed):
            while True:
                message = json.loads(ws.recv(timeout=60))
                if message["type"] == "Turn" and message["end_of_turn"]:
                    latest[message["turn_order"]] = message["words"]
                for revised in message.get("revisions", []):  # as a client applies them
                    latest[revised["turn_order"]] = revised["words"]
    words = [w for turn in latest.values() for w in turn]
    # a stream places speaker changes less exactly than a file: most words, not all
    second, first = speakers_in(words, SECOND_CALLER_S), speakers_in(words, FIRST_CALLER_S)
    assert second.count("Grace") > len(second) / 2, second
    assert first.count("Grace") < len(first) / 2 and set(first) - {"Grace"} <= {"A", "B"}, first


def test_voices_are_listed_and_deleted(server: str, files: dict[str, Path], grace: str) -> None:
    listed = httpx.get(f"{server}/v2/voices", headers=AUTH).json()["voices"]
    assert {"id": grace, "name": "Grace"}.items() <= next(
        v for v in listed if v["id"] == grace
    ).items()
    again = enrol(server, "Grace Two", files["enrol"].read_bytes()).json()
    assert httpx.get(f"{server}/v2/voices/{again['id']}", headers=AUTH).json()["name"] == (
        "Grace Two"
    )
    deleted = httpx.delete(f"{server}/v2/voices/{again['id']}", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["id"] == again["id"]
    assert httpx.delete(f"{server}/v2/voices/{again['id']}", headers=AUTH).status_code == 404
    assert httpx.get(f"{server}/v2/voices/{again['id']}", headers=AUTH).status_code == 404
    ids = [v["id"] for v in httpx.get(f"{server}/v2/voices", headers=AUTH).json()["voices"]]
    assert grace in ids and again["id"] not in ids
    # a transcript may not name a voice that is not (or no longer) enrolled
    upload_url = upload(server, files["test"].read_bytes()).json()["upload_url"]
    refused = httpx.post(
        f"{server}/v2/transcript",
        headers=AUTH,
        json={
            "audio_url": upload_url,
            "speaker_labels": True,
            "known_voices": [grace, again["id"]],
        },
    )
    assert refused.status_code == 400
    assert refused.json() == {"error": f"invalid known_voices: no voice with id {again['id']}"}
    assert httpx.get(f"{server}/v2/voices", headers={"authorization": "wrong"}).status_code == 401


@pytest.mark.parametrize(
    ("name", "audio", "says"),
    [
        ("Ann", "short", "a voice needs 5-60 s of audio of one person; this holds 3.0 s"),
        ("Ann", "long", "a voice needs 5-60 s of audio of one person; this holds more"),
        ("Ann", "silence", "a voice needs at least 3 s of speech; this holds 0.0 s"),
        ("Ann", "two voices", "it holds more than one voice"),
        ("Ann", "text", "not an audio file we can read"),
        ("Ann", "empty", "the body is empty"),
        (None, "enrol", "invalid name: Field required"),
        ("", "enrol", "invalid name"),
        ("B", "enrol", "invalid name: 'B' is how unknown voices are labelled"),
    ],
)
def test_bad_enrolments_get_a_clear_400(
    server: str, files: dict[str, Path], tmp_path: Path, name: str | None, audio: str, says: str
) -> None:
    bodies = {
        "short": lambda: wav(tmp_path / "a.wav", telephone_float(22.0, 25.0)).read_bytes(),
        "long": lambda: wav(
            tmp_path / "a.wav", np.concatenate([telephone_float()] * 2 + [telephone_float(0, 5)])
        ).read_bytes(),
        "silence": lambda: wav(tmp_path / "a.wav", np.zeros(16000 * 8, np.float32)).read_bytes(),
        "two voices": lambda: wav(tmp_path / "a.wav", telephone_float(6.0, 30.0)).read_bytes(),
        "text": lambda: b"not audio at all, just words" * 100,
        "empty": lambda: b"",
        "enrol": lambda: files["enrol"].read_bytes(),
    }
    response = enrol(server, name, bodies[audio]())
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]


def test_voices_from_the_cli(files: dict[str, Path], tmp_path: Path) -> None:
    env = {"STREAMER_DATA_DIR": str(tmp_path / "data")}
    added = run_cli("voices", "add", "Grace", files["enrol"], env=env)
    assert added.returncode == 0, added.stderr
    voice = json.loads(added.stdout)
    assert voice["name"] == "Grace"
    listed = run_cli("voices", "list", env=env)
    assert listed.returncode == 0 and listed.stdout.startswith(f"{voice['id']}\tGrace\t")
    text = run_cli(
        "transcribe", files["test"], "--known-voices", voice["id"], "--format", "text", env=env
    )
    assert text.returncode == 0, text.stderr
    speakers = {line.split(":")[0] for line in text.stdout.splitlines()}
    assert "Grace" in speakers and speakers - {"Grace"} <= {"A", "B"} and len(speakers) == 2
    unknown = run_cli("transcribe", files["test"], "--known-voices", "nope", env=env)
    assert unknown.returncode == 2 and "no voice with id nope" in unknown.stderr
    removed = run_cli("voices", "remove", voice["id"], env=env)
    assert removed.returncode == 0 and voice["id"] in removed.stdout
    again = run_cli("voices", "remove", voice["id"], env=env)
    assert again.returncode == 2 and "no voice with id" in again.stderr
    assert run_cli("voices", "list", env=env).stdout == ""
    short = tmp_path / "short.wav"
    wav(short, telephone_float(22.0, 25.0))
    refused = run_cli("voices", "add", "Ann", short, env=env)
    assert refused.returncode == 2 and "5-60 s" in refused.stderr


def test_a_stream_naming_an_unknown_voice_is_refused_with_3006(server: str) -> None:
    with connect(ws_url(server, f"sample_rate=16000&known_voices=nope,&token={API_KEY}")) as ws:
        error = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert error["error"] == "invalid known_voices: no voice with id nope"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 3006


def test_known_voices_as_the_wire_reads_them() -> None:
    params = StreamParams.model_validate({"sample_rate": "16000", "known_voices": " a, b,,c "})
    assert params.voice_ids() == ["a", "b", "c"]
    assert StreamParams.model_validate({"sample_rate": "16000"}).voice_ids() == []
    request = {"audio_url": "https://example.invalid/a.wav", "speaker_labels": True}
    assert TranscriptRequest.model_validate({**request, "known_voices": ["a"]}).known_voices == [
        "a"
    ]
    for bad in ("a", [""], ["x" * 65], ["a"] * 33, [1]):
        with pytest.raises(ValidationError):
            TranscriptRequest.model_validate({**request, "known_voices": bad})
