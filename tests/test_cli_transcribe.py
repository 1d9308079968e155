"""`streamer transcribe` as a user runs it: a real process, real models, real files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.audio_files import write_audio
from tests.conftest import data_file, run_cli

pytestmark = pytest.mark.models


def transcribe(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("transcribe", *args)


@pytest.fixture(scope="module")
def telephone_mp3(tmp_path_factory: pytest.TempPathFactory, telephone_audio: np.ndarray) -> Path:
    """The telephone sample as 44.1 kHz stereo MP3: another rate, channel count and codec."""
    return write_audio(
        tmp_path_factory.mktemp("media") / "call.mp3", telephone_audio, rate=44100, channels=2
    )


def test_json_output_has_the_assemblyai_shape(telephone_mp3: Path) -> None:
    result = transcribe(telephone_mp3, "--language", "en")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "completed"
    assert body["audio_duration"] == 30
    assert {w["speaker"] for w in body["words"]} == {"A", "B"}
    word = body["words"][0]
    assert set(word) == {"text", "start", "end", "confidence", "speaker"}
    assert isinstance(word["start"], int) and isinstance(word["end"], int)
    assert body["text"] == " ".join(w["text"] for w in body["words"])
    assert sum(len(u["words"]) for u in body["utterances"]) == len(body["words"])
    assert "Traceback" not in result.stderr


def test_srt_and_text_formats(telephone_mp3: Path) -> None:
    srt = transcribe(telephone_mp3, "--language", "en", "--format", "srt", "--max-speakers", "1")
    assert srt.returncode == 0, srt.stderr
    blocks = srt.stdout.strip().split("\n\n")
    assert blocks[0].startswith("1\n00:00:0") and " --> " in blocks[0]
    assert all(block.split("\n")[2].startswith("A: ") for block in blocks)


def test_silent_file_gives_empty_transcript(tmp_path: Path) -> None:
    silent = write_audio(tmp_path / "silence.wav", np.zeros(16000 * 3, np.float32), 8000, 1)
    result = transcribe(silent)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["words"] == [] and body["utterances"] == [] and body["text"] == ""


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.wav", b""), ("corrupt.mp3", b"\xff\xfb" + bytes(range(256)) * 8), ("a.txt", b"hi\n")],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = transcribe(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    wav = data_file("ami_trn02.flac")
    assert transcribe(wav, "--speakers-expected", "0").returncode == 2
    both = transcribe(wav, "--min-speakers", "3", "--max-speakers", "2")
    assert both.returncode == 2 and "Traceback" not in both.stderr
    assert transcribe(tmp_path / "missing.wav").returncode == 2
