"""`/v3/ws` control messages, query params and limits the README promises, against the real
server process and models over real sockets: ForceEndpoint, UpdateConfiguration, KeepAlive,
the 3008 session limit of a temporary token, `format_turns`, `speaker_labels=false`,
`max_speakers`, `vad_threshold`, and 8 kHz speech as pcm_s16le and G.711 mu-law.

Audio goes out paced at a few times real time; nothing here asserts on latency (the test
machine is small and shared), only on what the server sends and how it closes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from streamer.core.audio import float_to_pcm_s16le, pcm_s16le_to_mulaw
from tests.integration.conftest import (
    API_KEY,
    send_paced,
    telephone_float,
    telephone_pcm,
    ws_url,
)

pytestmark = pytest.mark.models

Message = dict[str, Any]

CHUNK_S = 0.1
"""every chunk is 100 ms of audio, whatever the rate and encoding (conftest's `paced`)"""
RECEIVE_TIMEOUT_S = 60.0
"""generous: decodes queue behind other tests' work on a 2-core machine"""


# ---- the socket -------------------------------------------------------------------------------


def chunk_bytes(rate: int, encoding: str = "pcm_s16le") -> int:
    return int(rate * CHUNK_S) * (1 if encoding == "pcm_mulaw" else 2)


def receive_until_closed(ws: ClientConnection) -> tuple[list[Message], int | None]:
    """Every message until the server closes, and its close code (None: no close frame)."""
    messages: list[Message] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            messages.append(json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S)))
    return messages, closed.value.rcvd.code if closed.value.rcvd is not None else None


def receive_final(ws: ClientConnection) -> tuple[Message, list[Message]]:
    """The next final Turn, and the messages that came before it."""
    before: list[Message] = []
    while True:
        message = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT_S))
        if message["type"] == "Turn" and message["end_of_turn"]:
            return message, before
        before.append(message)


def receive_ended(ws: ClientConnection) -> list[Message]:
    """The finals one end of turn gives: a turn that held a change of speaker goes out as a
    final per speaker, one after the other."""
    first, _ = receive_final(ws)
    return [first, *finals(quiet_for(ws, 1.5))]


def quiet_for(ws: ClientConnection, seconds: float) -> list[Message]:
    """What the server sends in the next `seconds` (the session must stay open)."""
    messages: list[Message] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            messages.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return messages


@contextmanager
def open_session(server: str, query: str) -> Iterator[ClientConnection]:
    """A session with the API key as `?token=`, past its Begin."""
    with connect(ws_url(server, f"{query}&token={API_KEY}")) as ws:
        begin = json.loads(ws.recv(timeout=10))
        assert begin["type"] == "Begin", begin
        yield ws


def stream(
    server: str, query: str, audio: bytes, size: int = 3200
) -> tuple[list[Message], int | None]:
    """A whole session: audio paced as conftest's `paced` sends it (4x real time), then
    Terminate; every message after Begin, and the close code."""
    with open_session(server, query) as ws:
        send_paced(ws, audio, size)
        ws.send(json.dumps({"type": "Terminate"}))
        return receive_until_closed(ws)


def finals(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m["type"] == "Turn" and m["end_of_turn"]]


def of_type(messages: list[Message], kind: str) -> list[Message]:
    return [m for m in messages if m["type"] == kind]


def final_words(messages: list[Message]) -> list[Message]:
    """The words of the final turns as a client holds them at the end: revisions applied."""
    latest = {t["turn_order"]: t["words"] for t in finals(messages)}
    for revision in of_type(messages, "SpeakerRevision"):
        for item in revision["revisions"]:
            latest[item["turn_order"]] = item["words"]
    return [w for order in sorted(latest) for w in latest[order]]


def all_speakers(messages: list[Message]) -> set[str | None]:
    """Every speaker the session named: on the words of partials, finals and revisions, and
    on their `speaker_label`s."""
    carriers = [m for m in messages if m["type"] == "Turn"]
    carriers += [r for m in of_type(messages, "SpeakerRevision") for r in m["revisions"]]
    found = {w.get("speaker") for m in carriers for w in m["words"]}
    return found | {m["speaker_label"] for m in carriers if "speaker_label" in m}


def transcript(messages: list[Message]) -> str:
    return " ".join(t["transcript"] for t in finals(messages)).lower()


def terminate(ws: ClientConnection) -> tuple[list[Message], int | None]:
    ws.send(json.dumps({"type": "Terminate"}))
    messages, code = receive_until_closed(ws)
    assert messages and messages[-1]["type"] == "Termination", messages[-3:]
    return messages, code


# ---- control messages -------------------------------------------------------------------------


def test_force_endpoint_ends_the_open_turn_without_more_audio(server: str) -> None:
    """Speech cut off mid-sentence leaves the turn open (no audio, no silence, no end);
    ForceEndpoint ends it: its final comes with no more audio sent. (The first caller's
    "Hello" may end a turn of its own before, where the speaker changes: the turn left open
    is the last one.)"""
    with open_session(server, "sample_rate=16000") as ws:
        send_paced(ws, telephone_pcm(6.0, 11.4), 3200)  # "Hello ... oh hello, I didn't know"
        before = quiet_for(ws, 3.0)
        turns = of_type(before, "Turn")
        assert of_type(before, "SpeechStarted") and turns, before
        assert not turns[-1]["end_of_turn"], before  # the last turn is still open
        ws.send(json.dumps({"type": "ForceEndpoint"}))
        ended = receive_ended(ws)
        assert ended[0]["turn_order"] == turns[-1]["turn_order"]
        assert all(t["words"] for t in ended)
        assert all(w["word_is_final"] for t in ended for w in t["words"])
        assert "hello" in " ".join(t["transcript"] for t in ended).lower()
        messages, code = terminate(ws)
    assert not finals(messages), "Terminate found a second open turn"
    assert code == 1000


def test_update_configuration_format_turns_formats_later_finals(server: str) -> None:
    """A session opened without `format_turns` sends unformatted finals; after an
    UpdateConfiguration with `format_turns: true` its finals are formatted."""
    with open_session(server, "sample_rate=16000") as ws:
        send_paced(ws, telephone_pcm(6.0, 11.4), 3200)
        ws.send(json.dumps({"type": "ForceEndpoint"}))
        first = receive_ended(ws)
        ws.send(json.dumps({"type": "UpdateConfiguration", "format_turns": True}))
        send_paced(ws, telephone_pcm(14.4, 17.5), 3200)  # "I'm Sheila, ... from Chicago"
        ws.send(json.dumps({"type": "ForceEndpoint"}))
        second, _ = receive_final(ws)
        _, code = terminate(ws)
    assert first[0]["turn_order"] == 0 and not any(t["turn_is_formatted"] for t in first)
    assert second["turn_order"] == first[-1]["turn_order"] + 1
    assert second["turn_is_formatted"] is True and second["words"]
    assert code == 1000


def test_keepalive_keeps_an_idle_session_open(server: str) -> None:
    """`inactivity_timeout=5` closes a silent session with 4031 after 5 s
    (test_streaming_ws); KeepAlive every 2 s holds it open for 8 s without audio."""
    with open_session(server, "sample_rate=16000&inactivity_timeout=5") as ws:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 8.0:
            ws.send(json.dumps({"type": "KeepAlive"}))
            assert quiet_for(ws, 2.0) == []  # no Error, no close
        messages, code = terminate(ws)
    assert [m["type"] for m in messages] == ["Termination"]
    assert code == 1000


def test_temporary_token_session_closes_3008_after_its_maximum_duration(server: str) -> None:
    """A token issued for 60 s sessions opens one whose Begin says so; when the 60 s are up
    the server closes the session with 3008 by itself, though the client sends nothing
    (it would otherwise hold its slot until the idle timeout). (About 60 s.)"""
    response = httpx.get(
        f"{server}/v3/token",
        params={"max_session_duration_seconds": 60},
        headers={"Authorization": API_KEY},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    opened = time.monotonic()  # the server's session clock starts after this
    with connect(ws_url(server, f"sample_rate=16000&token={token}")) as ws:
        begin = json.loads(ws.recv(timeout=10))
        assert begin["type"] == "Begin"
        assert abs(begin["expires_at"] - (time.time() + 60)) < 10
        # within the limit the session is served (KeepAlive also beats the 30 s idle limit)
        while time.monotonic() - opened < 45:
            ws.send(json.dumps({"type": "KeepAlive"}))
            assert quiet_for(ws, 10.0) == []
        ws.send(bytes(3200))  # audio is fine too; then the client says nothing more
        messages, code = receive_until_closed(ws)
    assert 59 <= time.monotonic() - opened <= 75
    assert [m["type"] for m in messages] == ["Error"]
    assert messages[0]["error_code"] == 3008
    assert code == 3008


# ---- query params -----------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "formatted"), [("&format_turns=true", True), ("", False)])
def test_format_turns_query_param(server: str, query: str, formatted: bool) -> None:
    messages, code = stream(server, f"sample_rate=16000{query}", telephone_pcm(14.0, 20.0))
    turns = finals(messages)
    assert turns and all(t["turn_is_formatted"] is formatted for t in turns)
    assert "chicago" in transcript(messages)
    assert code == 1000


def test_speaker_labels_false_names_no_speaker(server: str) -> None:
    """Both voices of the call, yet no word or turn carries a speaker, and nothing is
    revised."""
    messages, code = stream(server, "sample_rate=16000&speaker_labels=false", telephone_pcm(14, 26))
    turns = of_type(messages, "Turn")
    words = [w for t in turns for w in t["words"]]
    assert len(final_words(messages)) > 20 and "chicago" in transcript(messages)
    assert all("speaker" not in w for w in words)
    assert all("speaker_label" not in t for t in turns)
    assert not of_type(messages, "SpeakerRevision")
    assert code == 1000


def test_max_speakers_1_names_every_word_a(server: str) -> None:
    """By default the call's two voices get two labels (or three); with `max_speakers=1`
    every word and turn is A, in partials, finals and revisions alike."""
    audio = telephone_pcm(6.0, 30.0)
    default, _ = stream(server, "sample_rate=16000", audio)
    assert len({w["speaker"] for w in final_words(default)}) >= 2

    messages, code = stream(server, "sample_rate=16000&max_speakers=1", audio)
    assert len(final_words(messages)) > 40
    assert all_speakers(messages) == {"A"}
    assert code == 1000


def test_vad_threshold_high_does_not_hear_speech_the_default_hears(server: str) -> None:
    """The call's first "Hello" (6.7-7.1 s) is speech to Silero with 0.78-0.96: the default
    threshold (0.5) opens a turn on it; 0.99 hears nothing at all. (On the clear speech after
    it Silero says 0.99+, so there 0.99 opens the same turns as the default.) The turn opens
    on the VAD alone, so this does not depend on decode timing."""
    audio = telephone_pcm(5.0, 7.4) + bytes(2 * 16000 * 2)  # then 2 s of digital silence
    default, code = stream(server, "sample_rate=16000", audio)
    assert code == 1000
    started = of_type(default, "SpeechStarted")
    assert len(started) == 1 and 1500 <= started[0]["timestamp"] <= 2000
    assert len(finals(default)) == 1

    strict, code = stream(server, "sample_rate=16000&vad_threshold=0.99", audio)
    assert [m["type"] for m in strict] == ["Termination"]
    assert strict[0]["audio_duration_seconds"] == 4
    assert code == 1000


@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_mulaw"])
def test_8khz_telephone_speech_is_transcribed_with_speakers(server: str, encoding: str) -> None:
    """The call at 8 kHz, as a telephone line carries it (16-bit, or G.711 mu-law)."""
    audio = telephone_pcm(14.0, 26.0, rate=8000)
    if encoding == "pcm_mulaw":
        audio = pcm_s16le_to_mulaw(audio)
    messages, code = stream(
        server, f"sample_rate=8000&encoding={encoding}", audio, chunk_bytes(8000, encoding)
    )
    assert "chicago" in transcript(messages)
    words = final_words(messages)
    assert len(words) > 20 and all(w.get("speaker") for w in words)
    assert messages[-1]["type"] == "Termination"
    assert messages[-1]["audio_duration_seconds"] == 12
    assert code == 1000


# ---- what the server counts ---------------------------------------------------------------------


def scrape(server: str) -> dict[str, float]:
    text = httpx.get(f"{server}/metrics", timeout=10).text
    return {
        sample.name + "".join(f"{{{k}={v}}}" for k, v in sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_the_audio_the_decoding_and_the_close_code(server: str) -> None:
    """`/metrics` (Prometheus text, no key needed): a 6 s session of the call at 8 kHz
    mu-law adds its 6 s of audio, worker time for its decodes, and one close with 1000."""
    before = scrape(server)
    pcm = float_to_pcm_s16le(telephone_float(8.0, 14.0, 8000))
    messages, code = stream(
        server, "sample_rate=8000&encoding=pcm_mulaw", pcm_s16le_to_mulaw(pcm), size=800
    )
    assert code == 1000 and finals(messages)
    after = scrape(server)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta("streamer_stream_audio_seconds_total") == pytest.approx(6.0, abs=0.01)
    assert delta("streamer_asr_busy_seconds_total") > 0
    assert delta("streamer_asr_batch_rows_count") >= len(finals(messages))
    assert delta("streamer_vad_busy_seconds_total") > 0
    assert delta("streamer_stream_sessions_closed_total{code=1000}") == 1
    assert after["streamer_stream_sessions_active"] == 0
    assert delta("streamer_stream_final_seconds_count") == len(finals(messages))
    assert delta("streamer_stream_first_partial_seconds_count") >= 1
    assert after["streamer_asr_queue_depth"] == 0
    assert {"queued", "processing", "completed", "error"} <= {
        name.removeprefix("streamer_jobs{status=").removesuffix("}")
        for name in after
        if name.startswith("streamer_jobs{")
    }
