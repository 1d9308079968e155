"""`multichannel`: each channel of a recording transcribed apart, through the real server and
the real `assemblyai` Python SDK, on the telephone call split a party a channel.

Bounds come from measurements (README, "Channels as speakers"; `load_tests/multichannel.py`
on the dev copy of the call). They move with the CPU's int8 kernels: every word was on its
party's channel on both machines measured (76 of 76 and 77 of 77 scorable), and the parties'
WER was 8.7 % and 20.0 % on one, 10.9 % and 25.7 % on an AVX-512 Xeon (15.2 % and 22.9 % for
their words in the mono call there). With windows joined within 1 s, the Xeon put one word
in 73 outside its party's turn.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import assemblyai as aai
import httpx
import numpy as np
import pytest

from streamer.core.words import Word
from streamer.tools.channel_split import score_split
from streamer.tools.evaluation import read_rttm_turns
from tests.integration.conftest import (
    AUTH,
    TELEPHONE_PARTIES,
    run_cli,
    split_telephone_call,
    telephone_file,
    telephone_segments,
)
from tests.integration.test_rest import upload, wait_done

pytestmark = pytest.mark.models

STM_PARTIES = {"Diane": "speaker90", "Sheila": "speaker91"}
"""The transcript (STM) names the parties; the RTTM numbers them (Diane speaks first)."""
MIN_WORDS_ON_THEIR_CHANNEL = 0.97
"""one word in 73 may be timed outside its party's turn (as windows joined within 1 s did)"""
MAX_PARTY_WER = {"speaker90": 0.16, "speaker91": 0.31}
"""the higher of the two machines' figures (10.9 and 25.7 %), and 2 more errors for each
party (46 and 35 reference words)"""


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return split_telephone_call(tmp_path_factory.mktemp("multichannel") / "call-stereo.wav")


def _score(words: list[Word]) -> tuple[float, dict[str, float]]:
    turns = read_rttm_turns(telephone_file(".rttm"))
    reference = [
        (float(s["start"]), STM_PARTIES[str(s["speaker"])], str(s["text"]))  # type: ignore[arg-type]
        for s in telephone_segments()
    ]
    channels = {str(k + 1): party for k, party in enumerate(TELEPHONE_PARTIES)}
    score = score_split(words, channels, turns, reference)
    return score.accuracy, score.party_wer


def test_sdk_multichannel_gives_each_party_its_own_words(sdk: None, stereo_call: Path) -> None:
    config = aai.TranscriptionConfig(multichannel=True, language_code="en_us")
    transcript = aai.Transcriber().transcribe(str(stereo_call), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    body = transcript.json_response or {}
    assert body["audio_channels"] == 2 and body["multichannel"] is True
    words = transcript.words or []
    assert {w.channel for w in words} == {"1", "2"}
    assert all(w.speaker == w.channel for w in words)  # no speaker_labels: the channel names
    assert [w.start for w in words] == sorted(w.start for w in words)
    accuracy, party_wer = _score(
        [Word(w.text, w.start, w.end, w.confidence, w.speaker, w.channel) for w in words]
    )
    assert accuracy >= MIN_WORDS_ON_THEIR_CHANNEL, accuracy
    for party, wer in party_wer.items():
        assert wer <= MAX_PARTY_WER[party], (party, wer)
    utterances = transcript.utterances or []
    assert {u.channel for u in utterances} == {"1", "2"}
    assert all(u.speaker == u.channel for u in utterances)
    assert [u.start for u in utterances] == sorted(u.start for u in utterances)
    # each utterance holds the words of its own channel only
    assert all({w.channel for w in u.words} == {u.channel} for u in utterances)


def test_speaker_labels_with_multichannel_name_speakers_inside_each_channel(
    server: str, stereo_call: Path
) -> None:
    body = _transcribe(server, stereo_call, multichannel=True, speaker_labels=True)
    words = body["words"]
    assert body["audio_channels"] == 2
    assert all(w["speaker"].startswith(w["channel"]) for w in words)
    assert {w["speaker"] for w in words} >= {"1A", "2A"}


def test_a_mono_file_with_multichannel_is_one_channel(server: str, tmp_path: Path) -> None:
    body = _transcribe(server, telephone_file(), multichannel=True)
    assert body["audio_channels"] == 1
    assert body["words"] and {(w["channel"], w["speaker"]) for w in body["words"]} == {("1", "1")}


def test_more_channels_than_the_server_transcribes_apart_is_an_error(
    server: str, tmp_path: Path
) -> None:
    path = tmp_path / "nine-channels.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(9)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros((16000, 9), dtype="<i2").tobytes())
    body = _transcribe(server, path, multichannel=True)
    assert body["status"] == "error"
    assert body["error"] == "it has 9 channels, more than the 8 this server transcribes apart"


def test_cli_multichannel_prints_the_channels(stereo_call: Path) -> None:
    done = run_cli("transcribe", str(stereo_call), "--multichannel", "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["audio_channels"] == 2 and body["multichannel"] is True
    assert {w["channel"] for w in body["words"]} == {"1", "2"}
    assert {u["channel"] for u in body["utterances"]} == {"1", "2"}


def _transcribe(server: str, path: Path, **fields: object) -> dict[str, Any]:
    created = httpx.post(
        f"{server}/v2/transcript",
        headers=AUTH,
        json={"audio_url": upload(server, path.read_bytes()).json()["upload_url"], **fields},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    return dict(wait_done(server, created.json()["id"]))
