"""`/v3/ws` with the real `assemblyai` SDK and a raw WebSocket client, against the real server
process and models."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from assemblyai.streaming.v3 import (
    StreamingClient,
    StreamingClientOptions,
    StreamingEvents,
    StreamingParameters,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import (
    API_KEY,
    data_file,
    pcm16,
    run_cli,
    running_server,
    telephone_file,
)

pytestmark = pytest.mark.models

CHUNK_BYTES = 3200  # 100 ms of 16 kHz pcm_s16le
SPEEDUP = 4.0


def telephone_pcm() -> bytes:
    return pcm16(telephone_file())


def paced(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]
        time.sleep(0.1 / SPEEDUP)


def ws_url(server: str, query: str) -> str:
    return server.replace("http://", "ws://") + "/v3/ws?" + query


def test_sdk_streams_a_call_with_speakers(server: str) -> None:
    events: list[object] = []
    client = StreamingClient(
        StreamingClientOptions(
            api_key=API_KEY, api_host=server.replace("http://", "ws://"), terminate_timeout=60
        )
    )
    for kind in (
        StreamingEvents.Begin,
        StreamingEvents.Turn,
        StreamingEvents.SpeakerRevision,
        StreamingEvents.Termination,
        StreamingEvents.Error,
    ):
        client.on(kind, lambda _client, event: events.append(event))
    client.connect(StreamingParameters(sample_rate=16000, speaker_labels=True))
    client.stream(paced(telephone_pcm()))
    client.disconnect(terminate=True)

    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "BeginEvent" and kinds[-1] == "TerminationEvent"
    assert "ErrorEvent" not in kinds
    turns = [e for e in events if type(e).__name__ == "TurnEvent"]
    finals = [t for t in turns if t.end_of_turn]
    assert any(not t.end_of_turn for t in turns), "no partial turn was sent"
    assert finals and all(w.word_is_final for t in finals for w in t.words)
    words = [w for t in finals for w in t.words]
    assert len(words) > 40 and all(w.speaker for w in words)
    # apply the revisions as a client would: the call has two speakers, no more
    latest = {t.turn_order: t.words for t in finals}
    for event in events:
        if type(event).__name__ == "SpeakerRevisionEvent":
            for item in event.revisions:
                latest[item.turn_order] = item.words
    assert len({w.speaker for words in latest.values() for w in words}) == 2
    assert "Chicago" in " ".join(t.transcript for t in finals)
    assert [t.turn_order for t in finals] == sorted({t.turn_order for t in finals})
    assert events[-1].audio_duration_seconds == 30


@pytest.mark.parametrize(
    ("query", "code"),
    [("sample_rate=1000", 3006), ("sample_rate=16000&encoding=opus", 3006), ("", 3006)],
)
def test_bad_params_close_3006(server: str, query: str, code: int) -> None:
    with connect(ws_url(server, query), additional_headers={"Authorization": API_KEY}) as ws:
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "Error"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def test_bad_key_closes_4001(server: str) -> None:
    with connect(
        ws_url(server, "sample_rate=16000"), additional_headers={"Authorization": "wrong"}
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["error_code"] == 4001
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (b"\x00" * 320, 3007),  # 10 ms: shorter than 50 ms
        (b"\x00" * 48_000, 3007),  # 1.5 s: longer than 1000 ms
        ("{not json", 4100),
        (json.dumps({"type": "Dance"}), 4101),
        (json.dumps({"type": "UpdateConfiguration", "max_turn_silence": "soon"}), 4101),
        ("x" * 20_000, 4101),
    ],
)
def test_bad_messages_close_with_their_code(server: str, send: bytes | str, code: int) -> None:
    with connect(
        ws_url(server, "sample_rate=16000"), additional_headers={"Authorization": API_KEY}
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(send)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_token_query_param_and_terminate_without_audio(server: str) -> None:
    with connect(ws_url(server, f"sample_rate=8000&encoding=pcm_mulaw&token={API_KEY}")) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(b"\xff" * 800)  # 100 ms of mu-law silence
        ws.send(json.dumps({"type": "Terminate"}))
        termination = json.loads(ws.recv(timeout=30))
        assert termination["type"] == "Termination"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


def test_client_vanishing_mid_turn_leaves_server_serving(server: str) -> None:
    ws = connect(ws_url(server, "sample_rate=16000"), additional_headers={"Authorization": API_KEY})
    ws.recv(timeout=10)
    pcm = telephone_pcm()
    for start in range(16000 * 2 * 7, 16000 * 2 * 10, CHUNK_BYTES):  # 3 s of speech
        ws.send(pcm[start : start + CHUNK_BYTES])
    ws.socket.close()  # no close handshake: the client is just gone
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_stream_cli_shows_captions_and_transcript(server: str) -> None:
    result = run_cli(
        "stream",
        telephone_file(),
        "--url",
        server.replace("http://", "ws://"),
        "--api-key",
        API_KEY,
        "--speed",
        "4",
    )
    assert result.returncode == 0, result.stderr
    transcript = result.stdout.split("--- transcript ---")[1]
    assert "A:" in transcript and "Chicago" in transcript
    assert "--- 30 s of audio ---" in result.stdout


def test_stream_cli_without_a_sound_stack_says_what_mic_needs() -> None:
    """The suite's environment has no `mic` extra and no sound device: the real case where
    `--mic` must refuse clearly (capture itself needs hardware this machine lacks)."""
    result = run_cli("stream", "--mic", timeout=60)
    assert result.returncode == 2 and "--mic needs the mic extra" in result.stderr


def test_inactivity_timeout_closes_4031(server: str) -> None:
    url = ws_url(server, f"sample_rate=16000&inactivity_timeout=5&token={API_KEY}")
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4031


def test_audio_after_terminate_is_ignored(server: str) -> None:
    with connect(ws_url(server, f"sample_rate=16000&token={API_KEY}")) as ws:
        ws.recv(timeout=10)
        ws.send(bytes(3201))  # odd byte counts are fine: the byte waits for its pair
        ws.send(bytes(3199))
        ws.send(json.dumps({"type": "Terminate"}))
        ws.send(bytes(3200))
        messages = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                messages.append(json.loads(ws.recv(timeout=30)))
    assert messages[-1]["type"] == "Termination"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


def test_audio_much_faster_than_real_time_closes_1013_and_others_go_on(server: str) -> None:
    """Seven minutes of meetings sent as fast as the socket takes them: turns end far faster
    than they can be decoded, so the session's queue fills and it is closed with 1013 instead
    of growing; the server stays healthy."""
    meetings = ("ami_meeting_a_2min.flac", "ami_trn00.flac", "ami_trn02.flac", "ami_trn03.flac")
    pcm = b"".join(pcm16(data_file(name)) for name in meetings) * 2  # 7 min
    with connect(ws_url(server, f"sample_rate=16000&token={API_KEY}")) as ws:
        ws.recv(timeout=10)
        with pytest.raises(ConnectionClosed) as closed:
            for start in range(0, len(pcm), 32000):
                ws.send(pcm[start : start + 32000])  # 1 s chunks, no pause
            while True:
                ws.recv(timeout=60)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert httpx.get(f"{server}/healthz", timeout=10).status_code == 200


def test_concurrent_sessions_keep_their_audio_and_labels(server: str) -> None:
    """Two calls at once: each session hears only its own audio and names its own speakers."""

    def call(path: Path, start_s: float) -> list[dict]:
        pcm = pcm16(path)[int(start_s * 32000) :]
        finals = []
        with connect(ws_url(server, f"sample_rate=16000&token={API_KEY}")) as ws:
            ws.recv(timeout=10)
            for chunk in paced(pcm[: 32000 * 12]):
                ws.send(chunk)
            ws.send(json.dumps({"type": "Terminate"}))
            with pytest.raises(ConnectionClosed):
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message["type"] == "Turn" and message["end_of_turn"]:
                        finals.append(message)
        return finals

    with ThreadPoolExecutor(2) as pool:
        phone = pool.submit(call, telephone_file(), 14.0)
        meeting = pool.submit(call, data_file("ami_trn03.flac"), 0.0)
        phone_turns, meeting_turns = phone.result(), meeting.result()
    phone_text = " ".join(t["transcript"] for t in phone_turns).lower()
    meeting_text = " ".join(t["transcript"] for t in meeting_turns).lower()
    assert "chicago" in phone_text and "chicago" not in meeting_text
    assert phone_turns[0]["turn_order"] == 0 and meeting_turns[0]["turn_order"] == 0
    # each session names its own first speaker A, whatever the other session heard
    assert phone_turns[0]["words"][0]["speaker"] == "A" or phone_turns[0]["speaker_label"] == "A"
    assert (
        meeting_turns[0]["words"][0]["speaker"] == "A" or meeting_turns[0]["speaker_label"] == "A"
    )


def test_session_limit_closes_3009() -> None:
    """A server allowing one session refuses a second with 3009 and still serves the first."""
    with running_server({"STREAMER_MAX_SESSIONS": "1"}) as base:
        url = ws_url(base, "sample_rate=16000")
        with connect(url) as first:
            assert json.loads(first.recv(timeout=10))["type"] == "Begin"
            with connect(url) as second:
                assert json.loads(second.recv(timeout=10))["type"] == "Error"
                with pytest.raises(ConnectionClosed) as closed:
                    second.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 3009
            first.send(json.dumps({"type": "Terminate"}))
            assert json.loads(first.recv(timeout=30))["type"] == "Termination"
