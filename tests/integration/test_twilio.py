"""The Twilio Media Streams bridge (`/twilio`) against the real server and models: recorded
media-stream sessions of the telephone call replayed as Twilio sends them, results taken by a
loopback callback receiver and by subscribers; bad input; and the delivery parts on their
own (the callback queue, the subscriber queues, a track's audio)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soxr
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from clients.twilio.replay import media_stream
from streamer.api.call_delivery import CallbackPoster
from streamer.api.call_subscribers import MAX_PENDING, CallSubscribers
from streamer.api.outbound import AddressPolicy, allowed_networks, guarded_async_client
from streamer.api.twilio_call import CHUNK_BYTES, MAX_GAP_MS, TrackAudio
from streamer.core.audio import float_to_pcm_s16le, pcm_s16le_to_mulaw
from streamer.tools.local_server import LocalServer, free_port
from tests.integration.conftest import API_KEY, AUTH, telephone_segments

STREAM_SID = "MZ00000000000000000000000000000001"
CALL_SID = "CA00000000000000000000000000000001"
ACCOUNT_SID = "AC00000000000000000000000000000001"
pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[2]
PARTIES = {"inbound": "Diane", "outbound": "Sheila"}
"""The call's two speakers, in the order they first speak: the inbound track is Diane's."""


# ---- a recorded media stream -------------------------------------------------------------------


def mulaw_8k(audio: np.ndarray) -> bytes:
    return pcm_s16le_to_mulaw(float_to_pcm_s16le(soxr.resample(audio, 16_000, 8_000)))


def party_tracks(audio: np.ndarray) -> dict[str, bytes]:
    """The call split into two tracks: each keeps only its party's reference segments."""
    tracks = {}
    for track, party in PARTIES.items():
        kept = np.zeros_like(audio)
        for segment in telephone_segments():
            if segment["speaker"] == party:
                start, end = (round(float(segment[k]) * 16_000) for k in ("start", "end"))  # type: ignore[arg-type]
                kept[start:end] = audio[start:end]
        tracks[track] = mulaw_8k(kept)
    return tracks


def twilio_session(
    tracks: dict[str, bytes], parameters: dict[str, str], stream_sid: str = STREAM_SID
) -> list[tuple[int, str]]:
    """The messages Twilio sends for `tracks`, each with the stream time (ms) it goes at, as
    the example client builds them: connected, start, the media of all tracks interleaved by
    timestamp (20 ms each), a mark half-way, stop."""
    half_ms = max(map(len, tracks.values())) // 8 // 2
    return media_stream(tracks, parameters, stream_sid, "CA" + stream_sid[2:], mark_ms=half_ms)


def twilio_url(server: str, query: str = "") -> str:
    return server.replace("http://", "ws://") + "/twilio" + (f"?{query}" if query else "")


def replay(server: str, messages: list[tuple[int, str]], speed: float) -> int:
    """Send `messages` as Twilio would, `speed` times faster than real time; the code the
    server closed with once it was done."""
    with connect(twilio_url(server)) as ws:
        began = time.monotonic()
        for at_ms, text in messages:
            ahead_s = began + at_ms / 1000 / speed - time.monotonic()
            if ahead_s > 0:
                time.sleep(ahead_s)
            ws.send(text)
        return closed_with(ws, timeout_s=60)


def closed_with(ws: ClientConnection, timeout_s: float = 20) -> int:
    """The close code once the server closes (the bridge sends Twilio nothing)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout_s)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


# ---- what receives the results -----------------------------------------------------------------


class CallbackReceiver:
    """A loopback HTTP receiver of callbacks that answers 500 to its first `fail_first`
    POSTs; `attempts` holds every body it was sent, `accepted` those it took."""

    def __init__(self, fail_first: int = 0) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.attempts.append(body)
                receiver.headers.append(dict(self.headers))
                ok = len(receiver.attempts) > fail_first
                if ok:
                    receiver.accepted.append(body)
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/calls"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for_termination(self, timeout_s: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not any(m["type"] == "Termination" for m in self.accepted):
            assert time.monotonic() < deadline, f"no Termination after {len(self.accepted)}"
            time.sleep(0.1)
        return list(self.accepted)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(fail_first=1)
    yield receiver
    receiver.close()


def subscribe(server: str, query: str) -> tuple[threading.Event, Future[list[dict[str, Any]]]]:
    """A subscriber on its own thread: an event set once it is connected, and the messages
    it got until the server closed it (normally)."""
    connected = threading.Event()
    url = server.replace("http://", "ws://") + f"/twilio/subscribe?{query}"

    def follow() -> list[dict[str, Any]]:
        messages = []
        with connect(url, additional_headers=AUTH) as ws:
            connected.set()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    messages.append(json.loads(ws.recv(timeout=90)))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000, closed.value
        return messages

    return connected, ThreadPoolExecutor(1).submit(follow)


def finals(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "Turn" and m["end_of_turn"]]


def channel_text(messages: list[dict[str, Any]], channel: str) -> str:
    return " ".join(m["transcript"] for m in finals(messages) if m["channel"] == channel).lower()


# ---- whole calls through the real server -------------------------------------------------------


def test_two_track_call_names_each_party_and_delivers_every_final(
    server: str, telephone_audio: np.ndarray, receiver: CallbackReceiver
) -> None:
    connected, subscriber = subscribe(server, f"call_sid={CALL_SID}")
    assert connected.wait(10)  # before the call starts: it waits for it
    parameters = {
        "token": API_KEY,
        "callback_url": receiver.url,
        "callback_auth_header_name": "X-Callback-Key",
        "callback_auth_header_value": "secret",
        "inbound_name": PARTIES["inbound"],
        "outbound_name": PARTIES["outbound"],
    }
    session = twilio_session(party_tracks(telephone_audio), parameters)
    assert any(json.loads(text)["event"] == "mark" for _, text in session)
    assert replay(server, session, speed=3) == 1000
    followed = subscriber.result(timeout=60)

    begin, termination = followed[0], followed[-1]
    assert begin["type"] == "Begin" and begin["channels"] == PARTIES
    assert termination["type"] == "Termination" and termination["close_code"] == 1000
    assert termination["audio_duration_seconds"] == 30
    assert all(m["stream_sid"] == STREAM_SID and m["call_sid"] == CALL_SID for m in followed)
    results = [m for m in followed if "sequence" in m]  # partials have none
    assert [m["sequence"] for m in results] == list(range(len(results)))
    turns = finals(followed)
    assert {t["channel"] for t in turns} == set(PARTIES)
    for turn in turns:  # no diarization inside a track: every word is its channel's party
        party = PARTIES[turn["channel"]]
        assert all(w["speaker"] == party and w["word_is_final"] for w in turn["words"])
        assert turn.get("speaker_label") == (party if turn["words"] else None)
    assert sum(len(t["words"]) for t in turns) > 40
    for channel in PARTIES:  # each channel's turns count from 0, in order
        orders = [t["turn_order"] for t in turns if t["channel"] == channel]
        assert orders == list(range(len(orders)))
    diane, sheila = channel_text(followed, "inbound"), channel_text(followed, "outbound")
    assert "jersey" in diane and "yankee" in sheila, (diane, sheila)
    assert "jersey" not in sheila and "yankee" not in diane, (diane, sheila)
    assert any(m["type"] == "Turn" and not m["end_of_turn"] for m in followed), "no partials"

    # the callback: its first POST failed, was retried, and it got every final in order,
    # the same as the subscriber, and no partials
    posted = receiver.wait_for_termination()
    assert receiver.attempts[0] == posted[0] == begin
    assert len(receiver.attempts) == len(posted) + 1
    assert all(h.get("X-Callback-Key") == "secret" for h in receiver.headers)
    assert finals(posted) == turns
    assert [m["type"] for m in posted if m["type"] != "SpeakerRevision"] == (
        ["Begin"] + ["Turn"] * len(turns) + ["Termination"]
    )
    assert posted[-1] == termination
    assert posted == results


def test_one_track_call_is_diarized(
    server: str, telephone_audio: np.ndarray, receiver: CallbackReceiver
) -> None:
    stream_sid = "MZ00000000000000000000000000000002"
    session = twilio_session(
        {"inbound": mulaw_8k(telephone_audio)},
        {"token": API_KEY, "callback_url": receiver.url, "max_speakers": "2"},
        stream_sid=stream_sid,
    )
    with ThreadPoolExecutor(1) as pool:
        replayed = pool.submit(replay, server, session, 4)
        time.sleep(4)  # the call is under way: a subscriber joining now gets its Begin first
        _, late = subscribe(server, f"stream_sid={stream_sid}")
        assert replayed.result(timeout=60) == 1000
    joined = late.result(timeout=60)
    assert joined[0]["type"] == "Begin" and joined[0]["channels"] == {"inbound": None}
    posted = receiver.wait_for_termination()
    results = [m for m in joined if "sequence" in m]  # what it got since it joined
    assert results[0] == posted[0] and results[1:] == posted[-len(results) + 1 :]
    assert finals(joined), "the late subscriber got no final"

    # apply the revisions as a client would; the call has two speakers
    held = {t["turn_order"]: t["words"] for t in finals(posted)}
    for message in posted:
        for revision in message.get("revisions", []):
            held[revision["turn_order"]] = revision["words"]
    words = [w for turn in held.values() for w in turn]
    assert len(words) > 40 and all(w.get("speaker") for w in words)
    assert {w["speaker"] for w in words} == {"A", "B"}
    assert "chicago" in channel_text(posted, "inbound")


def test_a_vanished_twilio_still_gets_its_open_turn_final(
    server: str, telephone_audio: np.ndarray
) -> None:
    """Twilio's connection breaks mid-turn: the turn's final and the Termination (1005) still
    go out, and the sessions are freed."""
    stream_sid = "MZ00000000000000000000000000000003"
    speech = {"inbound": mulaw_8k(telephone_audio[16_000 * 14 : 16_000 * 17])}  # Sheila
    session = twilio_session(speech, {}, stream_sid=stream_sid)[:-1]  # no stop
    connected, subscriber = subscribe(server, f"stream_sid={stream_sid}")
    assert connected.wait(10)
    with connect(twilio_url(server, f"token={API_KEY}")) as ws:  # the key in the query
        for _, text in session:
            ws.send(text)
        time.sleep(1.0)
        ws.socket.shutdown(socket.SHUT_RDWR)  # gone, without a close frame
        ws.socket.close()
    followed = subscriber.result(timeout=60)
    assert followed[-1]["type"] == "Termination" and followed[-1]["close_code"] == 1005
    assert "sheila" in channel_text(followed, "inbound")
    deadline = time.monotonic() + 10
    while "streamer_stream_sessions_active 0.0" not in httpx.get(f"{server}/metrics").text:
        assert time.monotonic() < deadline, "the call's session was not freed"
        time.sleep(0.2)


def test_a_full_server_refuses_two_tracks_and_a_shutdown_ends_the_open_turn(
    tmp_path: Path, telephone_audio: np.ndarray, receiver: CallbackReceiver
) -> None:
    """A server allowing one session refuses a two-track call (3009: it needs two). On
    SIGTERM a one-track call mid-turn gets its final, posted before the server exits, and
    closes 1012."""
    stream_sid = "MZ00000000000000000000000000000004"
    env = {"STREAMER_MAX_SESSIONS": "1", "STREAMER_DATA_DIR": str(tmp_path)}
    with LocalServer(env) as local:
        with connect(twilio_url(local.url)) as ws:
            ws.send(_start(tracks=["inbound", "outbound"]))
            assert closed_with(ws) == 3009
        speech = {"inbound": mulaw_8k(telephone_audio[16_000 * 14 : 16_000 * 17])}  # Sheila
        session = twilio_session(speech, {"callback_url": receiver.url}, stream_sid)[:-1]
        connected, subscriber = subscribe(local.url, f"stream_sid={stream_sid}")
        assert connected.wait(10)
        with connect(twilio_url(local.url)) as ws:
            for _, text in session:
                ws.send(text)
            time.sleep(1.0)
            stopping = threading.Thread(target=local.stop)  # SIGTERM, and wait for the exit
            stopping.start()
            assert closed_with(ws) == 1012
        stopping.join(60)
    followed = subscriber.result(timeout=10)
    assert followed[-1]["type"] == "Termination" and followed[-1]["close_code"] == 1012
    assert "sheila" in channel_text(followed, "inbound")
    assert finals(receiver.accepted) == finals(followed)
    assert receiver.accepted[-1] == followed[-1]


def test_the_client_readme_example_replays_the_call(server: str) -> None:
    """The example of clients/twilio/README.md as written, with the test server's address,
    key and a free port for the receiver put in."""
    text = (REPO / "clients" / "twilio" / "README.md").read_text()
    script = re.findall(r"```sh\n(.*?)```", text, re.S)[-1]
    port = str(free_port())
    script = script.replace("127.0.0.1:8000", server.split("://")[1]).replace("9000", port)
    script = script.replace("--speed 3", f"--speed 3 --api-key {API_KEY}")
    done = subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the bridge closed the stream with 1000" in done.stdout, done.stdout
    shown = re.findall(r"^(?:\[inbound\]|\(revised inbound turn \d+\)) (.*)$", done.stdout, re.M)
    assert set(re.findall(r"\b([A-Z]): ", " ".join(shown))) == {"A", "B"}, done.stdout
    assert re.search(r"^CA\w+ #\d+ \[inbound\] [AB]: ", done.stdout, re.M), done.stdout


# ---- bad input ---------------------------------------------------------------------------------


def _start(**overrides: Any) -> str:
    start = {
        "accountSid": ACCOUNT_SID,
        "streamSid": STREAM_SID,
        "callSid": CALL_SID,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": API_KEY},
    }
    return json.dumps({"event": "start", "start": {**start, **overrides}})


def _media(track: str = "inbound", payload: str = base64.b64encode(bytes(160)).decode()) -> str:
    media = {"track": track, "chunk": "1", "timestamp": "0", "payload": payload}
    return json.dumps({"event": "media", "media": media})


CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


BAD_INPUT = {
    "garbage JSON": (["{not json"], 4100),
    "JSON nested past the parser": (["[" * 8000 + "]" * 8000], 4100),
    "not an object": ([CONNECTED, "[1, 2]"], 4101),
    "media before start": ([CONNECTED, _media()], 4101),
    "stop before start": ([CONNECTED, json.dumps({"event": "stop"})], 4101),
    "bad key": ([_start(customParameters={"token": "wrong"})], 4001),
    "no key": ([_start(customParameters={})], 4001),
    "unknown track in start": ([_start(tracks=["inbound", "sideways"])], 3006),
    "not mu-law": ([_start(mediaFormat={"encoding": "audio/x-l16", "sampleRate": 16000})], 3006),
    "bad callback": (
        [_start(customParameters={"token": API_KEY, "callback_url": "ftp://x"})],
        3006,
    ),
    "empty name": ([_start(customParameters={"token": API_KEY, "inbound_name": ""})], 3006),
    "bad base64": ([_start(), _media(payload="not base64!")], 4101),
    "track not in start": ([_start(), _media(track="outbound")], 4101),
    "oversized": ([_start(), _media(), "x" * 20_000], 4101),
    "binary frame": ([_start(), b"\x00" * 160], 4101),
    "second start": ([_start(), _start()], 4101),
    # 14 s of audio at once: past the 10 s head start at 5x real time (STREAMER_MAX_STREAM_SPEED)
    "faster than real time": ([_start(), *[_media()] * 700], 4029),
}


@pytest.mark.parametrize(("messages", "code"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_closes_with_its_code(
    server: str, messages: list[str | bytes], code: int
) -> None:
    with connect(twilio_url(server)) as ws:
        for message in messages:
            ws.send(message)
        assert closed_with(ws) == code
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_a_temporary_token_opens_one_stream(server: str) -> None:
    token = httpx.get(f"{server}/v3/token?expires_in_seconds=60", headers=AUTH).json()["token"]
    for expected in (1000, 4001):  # used up by the first stream
        with connect(twilio_url(server)) as ws:
            # the refused stream may be closed before its media and stop are sent
            with contextlib.suppress(ConnectionClosed):
                ws.send(_start(customParameters={"token": token}))
                ws.send(_media())
                ws.send(json.dumps({"event": "stop", "stop": {"callSid": CALL_SID}}))
            assert closed_with(ws) == expected


def test_a_subscriber_needs_a_key_and_a_call(server: str) -> None:
    base = server.replace("http://", "ws://") + "/twilio/subscribe"
    for query, headers, code in (
        (f"call_sid={CALL_SID}", {"authorization": "wrong"}, 4001),
        (f"call_sid={CALL_SID}", {}, 4001),
        (f"token={API_KEY}", {}, 3006),
    ):
        with connect(f"{base}?{query}", additional_headers=headers) as ws:
            assert json.loads(ws.recv(timeout=10))["error_code"] == code
            assert closed_with(ws) == code


# ---- the parts on their own --------------------------------------------------------------------


def test_track_audio_goes_in_100_ms_chunks_and_gaps_are_filled_with_silence() -> None:
    audio = TrackAudio()
    out = [audio.push(20 * n, b"\x01" * 160) for n in range(5)]
    assert out[:4] == [[]] * 4 and out[4] == [b"\x01" * CHUNK_BYTES]
    # 300 ms missing after 100 ms: filled, so the next chunk keeps the stream's clock
    chunks = audio.push(400, b"\x02" * 160)
    assert b"".join(chunks) + audio.rest() == b"\xff" * 2400 + b"\x02" * 160
    assert audio.position_ms == 420
    assert audio.push(400, b"\x03" * 160) == [] and audio.position_ms == 440  # late: appended
    # a gap longer than a minute costs a minute of silence, in chunks of at most 1 s
    long_gap = audio.push(audio.position_ms + 10 * MAX_GAP_MS, b"")
    assert sum(map(len, long_gap)) + len(audio.rest()) == 160 + MAX_GAP_MS * 8
    assert max(map(len, long_gap)) == 8000


def test_a_subscriber_that_stops_reading_is_dropped() -> None:
    async def run() -> None:
        hub = CallSubscribers(max_subscribers=2)
        ids = {"call_sid": CALL_SID, "stream_sid": STREAM_SID}
        hub.publish({"type": "Begin", **ids})
        reader, idle = hub.subscribe(CALL_SID, None), hub.subscribe(None, STREAM_SID)
        assert reader is not None and idle is not None
        assert hub.subscribe(CALL_SID, None) is None  # the server keeps two at most
        assert [m["type"] for m in reader.take()] == ["Begin"]  # joined mid-call
        other = {"type": "Turn", "call_sid": "CA-other", "stream_sid": "MZ-other"}
        for n in range(MAX_PENDING * 2):
            hub.publish({"type": "Turn", "n": n, **ids})
            hub.publish(other)
            assert len(reader.take()) == 1
        assert idle.overflowed and not reader.overflowed
        hub.publish({"type": "Termination", **ids})
        assert reader.take()[-1]["type"] == "Termination" and reader.ended
        assert hub.subscribe(CALL_SID, None) is not None  # both places are free again

    asyncio.run(run())


def loopback_client() -> httpx.AsyncClient:
    return guarded_async_client(AddressPolicy(allowed_networks(["127.0.0.0/8"])), 10.0)


def test_the_callback_keeps_order_retries_and_gives_up_on_a_dead_receiver() -> None:
    flaky, dead = CallbackReceiver(fail_first=2), CallbackReceiver(fail_first=10_000)

    async def run() -> None:
        poster = CallbackPoster(
            loopback_client(), flaky.url, {}, max_queued=5, retry_delay=lambda n: 0.01
        )
        for n in range(8):  # the queue holds 5: the last 3 are dropped
            poster.post({"n": n})
        await asyncio.wait_for(poster.close(), 10)
        assert [m["n"] for m in flaky.accepted] == [0, 1, 2, 3, 4] and poster.dropped == 3
        assert [m["n"] for m in flaky.attempts[:3]] == [0, 0, 0]

        failures: list[int] = []
        poster = CallbackPoster(
            loopback_client(),
            dead.url,
            {},
            retry_delay=lambda n: None if n >= 3 else 0.01,
            on_failure=lambda: failures.append(1),
        )
        for n in range(4):
            poster.post({"n": n})
        await asyncio.wait_for(poster.close(), 10)
        assert len(dead.attempts) == 3 and len(failures) == 3 and poster.dropped == 4

    try:
        asyncio.run(run())
    finally:
        flaky.close()
        dead.close()
