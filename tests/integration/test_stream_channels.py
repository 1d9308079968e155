"""`/v3/ws?channels=2`: interleaved stereo audio, each channel a live session of its own, on
the telephone call split a party a channel (its reference turns), through the real server.

Bounds come from measurements (README, "Channels as speakers"): streamed this way, 82 of 83
and 80 of 81 scorable words lay in a turn of their channel's party (the miss: a word whose
time, spread by Moonshine over the VAD's speech, ran past its party's turn into silence),
and the parties' WER was 23.9 / 31.4 % (16 kHz) and 21.7 / 25.7 % (8 kHz mu-law).
"""

from __future__ import annotations

import json
import wave
from typing import Any

import numpy as np
import pytest
import soxr
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streamer.core.audio import float_to_pcm_s16le, pcm_s16le_to_float, pcm_s16le_to_mulaw
from streamer.core.words import Word
from streamer.tools.channel_split import score_split
from streamer.tools.evaluation import read_rttm_turns
from tests.integration.conftest import (
    API_KEY,
    TELEPHONE_PARTIES,
    send_paced,
    split_telephone_call,
    telephone_file,
    telephone_segments,
    ws_url,
)
from tests.integration.test_multichannel import STM_PARTIES

pytestmark = pytest.mark.models

Message = dict[str, Any]
CHANNELS = {"1": TELEPHONE_PARTIES[0], "2": TELEPHONE_PARTIES[1]}
MIN_WORDS_ON_THEIR_CHANNEL = 0.97
"""two words of 80 timed outside their party's turns"""
MAX_PARTY_WER = {TELEPHONE_PARTIES[0]: 0.30, TELEPHONE_PARTIES[1]: 0.40}
"""three errors more than measured for each party (46 and 35 reference words)"""


@pytest.fixture(scope="module")
def stereo_pcm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The split call as interleaved 16 kHz pcm_s16le, a frame per sample."""
    path = split_telephone_call(tmp_path_factory.mktemp("stream-channels") / "call.wav")
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())


def mulaw_8k_interleaved(stereo_16k: bytes) -> bytes:
    """Interleaved 16 kHz pcm_s16le as interleaved 8 kHz G.711 mu-law."""
    frames = pcm_s16le_to_float(stereo_16k).reshape(-1, 2)
    resampled = soxr.resample(frames, 16_000, 8_000)
    return pcm_s16le_to_mulaw(float_to_pcm_s16le(np.ascontiguousarray(resampled).reshape(-1)))


def stream_stereo(server: str, query: str, audio: bytes, chunk: int) -> tuple[list[Message], int]:
    messages: list[Message] = []
    with connect(ws_url(server, f"channels=2&{query}&token={API_KEY}")) as ws:
        send_paced(ws, audio, chunk)
        ws.send(json.dumps({"type": "Terminate"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                messages.append(json.loads(ws.recv(timeout=60)))
    assert closed.value.rcvd is not None
    return messages, closed.value.rcvd.code


def score(finals: list[Message]) -> tuple[float, dict[str, float]]:
    words = [
        Word(w["text"], w["start"], w["end"], w["confidence"], t["channel"])
        for t in finals
        for w in t["words"]
    ]
    reference = [
        (float(s["start"]), STM_PARTIES[str(s["speaker"])], str(s["text"]))  # type: ignore[arg-type]
        for s in telephone_segments()
    ]
    turns = read_rttm_turns(telephone_file(".rttm"))
    found = score_split(sorted(words, key=lambda w: w.start_ms), CHANNELS, turns, reference)
    return found.accuracy, found.party_wer


@pytest.mark.parametrize(
    ("query", "speaker_labels"),
    [
        ("sample_rate=16000", False),
        ("sample_rate=8000&encoding=pcm_mulaw&speaker_labels=true", True),
    ],
)
def test_each_channel_is_a_party_and_gets_exactly_its_words(
    server: str, stereo_pcm: bytes, query: str, speaker_labels: bool
) -> None:
    mulaw = "pcm_mulaw" in query
    audio = mulaw_8k_interleaved(stereo_pcm) if mulaw else stereo_pcm
    chunk = 1600 if mulaw else 6400  # 100 ms of two channels
    messages, code = stream_stereo(server, query, audio, chunk)
    assert code == 1000
    assert messages[0]["type"] == "Begin" and messages[-1]["type"] == "Termination"
    assert messages[-1]["audio_duration_seconds"] == 30
    tagged = [m for m in messages if m["type"] in ("Turn", "SpeechStarted", "SpeakerRevision")]
    assert {m["channel"] for m in tagged} == {"1", "2"}
    finals = [m for m in messages if m["type"] == "Turn" and m["end_of_turn"]]
    for channel in CHANNELS:  # each channel's turns count from 0, in order
        orders = [t["turn_order"] for t in finals if t["channel"] == channel]
        assert orders == list(range(len(orders)))
    for turn in finals:
        channel = turn["channel"]
        assert all(w["channel"] == channel for w in turn["words"])
        if speaker_labels:  # the speakers inside a channel: its name, then a letter
            assert all(w["speaker"][0] == channel and len(w["speaker"]) > 1 for w in turn["words"])
        else:
            assert all(w["speaker"] == channel for w in turn["words"])
            assert turn.get("speaker_label") == (channel if turn["words"] else None)
    accuracy, party_wer = score(finals)
    assert accuracy >= MIN_WORDS_ON_THEIR_CHANNEL, accuracy
    assert all(wer <= MAX_PARTY_WER[party] for party, wer in party_wer.items()), party_wer


@pytest.mark.parametrize("query", ["channels=3", "channels=0", "channels=two"])
def test_channels_outside_1_to_2_close_3006(server: str, query: str) -> None:
    with connect(ws_url(server, f"sample_rate=16000&{query}&token={API_KEY}")) as ws:
        error = json.loads(ws.recv(timeout=10))
        assert error["error_code"] == 3006 and "channels" in error["error"]


def test_a_chunk_is_timed_by_its_frames(server: str) -> None:
    """40 ms of stereo (80 ms of bytes were it mono) is too short: 3007."""
    with connect(ws_url(server, f"sample_rate=16000&channels=2&token={API_KEY}")) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(b"\x00" * 2560)
        error = json.loads(ws.recv(timeout=10))
        assert error["error_code"] == 3007 and "40 ms" in error["error"]
