"""`/v3/ws` with the real `assemblyai` SDK and a raw WebSocket client, against the real server
process and models."""

from __future__ import annotations

import json
import socket
import time
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
    paced,
    pcm16,
    run_cli,
    running_server,
    send_paced,
    telephone_file,
    telephone_pcm,
    ws_url,
)

pytestmark = pytest.mark.models


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


def refused_with(url: str, key: str) -> int:
    """The error code a handshake with `key` is refused with (sent, then the close code)."""
    with connect(url, additional_headers={"Authorization": key}) as ws:
        error = json.loads(ws.recv(timeout=10))["error_code"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == error
    return int(error)


@pytest.mark.parametrize(
    "query", ["sample_rate=16000", "sample_rate=1000", "", "sample_rate=16000&known_voices=x"]
)
def test_bad_key_closes_4001_before_any_param_is_checked(server: str, query: str) -> None:
    """A client without a key learns nothing of which params are wrong (4001, not 3006)."""
    assert refused_with(ws_url(server, query), "wrong") == 4001
    assert refused_with(ws_url(server, query), API_KEY[:-1]) == 4001


def test_a_token_refused_for_its_params_still_opens_a_session(server: str) -> None:
    token = httpx.get(f"{server}/v3/token", headers={"authorization": API_KEY}).json()["token"]
    with connect(ws_url(server, f"sample_rate=1000&token={token}")) as ws:
        assert json.loads(ws.recv(timeout=10))["error_code"] == 3006
    with connect(ws_url(server, f"sample_rate=16000&token={token}")) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"


def test_a_frame_larger_than_any_chunk_closes_1009_before_it_is_buffered(server: str) -> None:
    """The largest chunk (1000 ms of stereo at 48 kHz, 192 KB) fits; 16 MB used to be read
    whole."""
    with connect(
        ws_url(server, "sample_rate=16000"),
        additional_headers={"Authorization": API_KEY},
        max_size=None,
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(b"\x00" * (4 * 1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert httpx.get(f"{server}/healthz").status_code == 200
    with connect(
        ws_url(server, "sample_rate=48000&channels=2"),
        additional_headers={"Authorization": API_KEY},
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(b"\x00" * 192_000)  # the longest chunk (1 s of stereo at 48 kHz) is taken
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (b"\x00" * 320, 3007),  # 10 ms: shorter than 50 ms
        (b"\x00" * 48_000, 3007),  # 1.5 s: longer than 1000 ms
        ("{not json", 4100),
        ("[" * 8000 + "]" * 8000, 4100),  # 16 KB nested past the parser: was 1011
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


def test_client_vanishing_mid_turn_frees_its_session_slot() -> None:
    """A server allowing one session: a client that vanishes mid-turn (no close handshake)
    must not keep the slot. The server notices the disconnect asynchronously, so a new
    session may be refused (3009) for a moment, but is accepted well before the vanished
    session's inactivity timeout (an hour) could have freed it."""
    with running_server({"STREAMER_MAX_SESSIONS": "1"}) as base:
        with connect(ws_url(base, "sample_rate=16000&inactivity_timeout=3600")) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
            pcm = telephone_pcm()
            send_paced(ws, pcm[32000 * 7 : 32000 * 10])  # 3 s of speech: a turn is open
            ws.socket.shutdown(socket.SHUT_RDWR)  # the client is just gone
            ws.socket.close()
        refused = 0
        deadline = time.monotonic() + 20
        while True:
            with connect(ws_url(base, "sample_rate=16000")) as again:
                reply = json.loads(again.recv(timeout=10))
                if reply["type"] == "Begin":
                    again.send(json.dumps({"type": "Terminate"}))
                    assert json.loads(again.recv(timeout=30))["type"] == "Termination"
                    break
            assert reply["error_code"] == 3009, reply
            refused += 1
            assert time.monotonic() < deadline, f"slot still taken after {refused} tries"
            time.sleep(0.2)
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


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


def _meetings_pcm() -> bytes:
    """Seven minutes of meetings, in whole 1 s chunks (a short tail would close 3007)."""
    meetings = ("ami_meeting_a_2min.flac", "ami_trn00.flac", "ami_trn02.flac", "ami_trn03.flac")
    pcm = b"".join(pcm16(data_file(name)) for name in meetings) * 2
    return pcm[: len(pcm) // 32000 * 32000]


def _flood(url: str, pcm: bytes) -> int:
    """Send `pcm` as fast as the socket takes it, each second ending its turn by
    ForceEndpoint; the code the session is closed with."""
    with connect(url) as ws:
        ws.recv(timeout=10)
        with pytest.raises(ConnectionClosed) as closed:
            for start in range(0, len(pcm), 32000):
                ws.send(pcm[start : start + 32000])  # 1 s chunks, no pause
                ws.send(json.dumps({"type": "ForceEndpoint"}))
            while True:
                ws.recv(timeout=60)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_audio_much_faster_than_real_time_closes_4029_and_others_go_on(server: str) -> None:
    """Past 5x real time (after a 10 s head start) a session is closed with 4029, so one
    client cannot take the decoders from the others: a neighbour streaming at the same time
    gets its turns."""
    neighbour = ws_url(server, f"sample_rate=16000&token={API_KEY}")
    with connect(neighbour) as calm:
        assert json.loads(calm.recv(timeout=10))["type"] == "Begin"
        assert _flood(neighbour, _meetings_pcm()) == 4029
        send_paced(calm, pcm16(telephone_file())[: 10 * 32000])
        calm.send(json.dumps({"type": "Terminate"}))
        messages = [json.loads(calm.recv(timeout=60))]
        while messages[-1]["type"] != "Termination":
            messages.append(json.loads(calm.recv(timeout=60)))
    turns = [m for m in messages if m["type"] == "Turn" and m["end_of_turn"]]
    assert turns and any(t["words"] for t in turns)
    assert httpx.get(f"{server}/healthz", timeout=10).status_code == 200


def test_a_session_whose_decodes_back_up_closes_1013() -> None:
    """With no speed limit, turns ended far faster than they can be decoded fill the
    session's queue and it is closed with 1013 instead of growing; the server stays healthy.
    (Without the ForceEndpoints how soon the queue fills hangs on how fast this machine
    decodes; a fast one can keep up with the meetings' own turn ends.)"""
    with running_server({"STREAMER_MAX_STREAM_SPEED": "0"}) as base:
        assert _flood(ws_url(base, "sample_rate=16000"), _meetings_pcm()) == 1013
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


def test_concurrent_sessions_keep_their_audio_and_labels(server: str) -> None:
    """Two calls at once: each session hears only its own audio and names its own speakers."""

    def call(path: Path, start_s: float) -> tuple[list[dict], set[str]]:
        """The session's final turns, and every speaker it named (partials, finals,
        revisions)."""
        pcm = pcm16(path)[int(start_s * 32000) :]
        finals: list[dict] = []
        speakers: set[str] = set()
        with connect(ws_url(server, f"sample_rate=16000&token={API_KEY}")) as ws:
            ws.recv(timeout=10)
            send_paced(ws, pcm[: 32000 * 12])
            ws.send(json.dumps({"type": "Terminate"}))
            with pytest.raises(ConnectionClosed):
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message["type"] == "Turn" and message["end_of_turn"]:
                        finals.append(message)
                    turns = [message] if message["type"] == "Turn" else []
                    turns += message.get("revisions", [])
                    speakers |= {w["speaker"] for turn in turns for w in turn["words"]}
                    speakers |= {t["speaker_label"] for t in turns if t.get("speaker_label")}
        return finals, speakers

    with ThreadPoolExecutor(2) as pool:
        phone = pool.submit(call, telephone_file(), 14.0)
        meeting = pool.submit(call, data_file("ami_trn03.flac"), 0.0)
        (phone_turns, phone_speakers), (meeting_turns, meeting_speakers) = (
            phone.result(),
            meeting.result(),
        )
    phone_text = " ".join(t["transcript"] for t in phone_turns).lower()
    meeting_text = " ".join(t["transcript"] for t in meeting_turns).lower()
    assert "chicago" in phone_text and "chicago" not in meeting_text
    assert phone_turns[0]["turn_order"] == 0 and meeting_turns[0]["turn_order"] == 0
    # Each stretch holds two voices (the call from 14 s: both callers; ami_trn03's first 12 s:
    # MEE067 for 1.2 s, then MEO069), four in all: speakers shared between the sessions would
    # name some of them beyond B (a shared registry showed the call's as A, C, D).
    assert phone_speakers <= {"A", "B"} and meeting_speakers <= {"A", "B"}


def test_session_limit_closes_3009() -> None:
    """A server allowing one session refuses a second with 3009 and still serves the first;
    a stream of two channels needs two."""
    with running_server({"STREAMER_MAX_SESSIONS": "1"}) as base:
        two_channels = ws_url(base, "sample_rate=16000&channels=2")
        assert refused_with(two_channels, "") == 3009  # a session per channel
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
