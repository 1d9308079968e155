"""`streamer transcribe` as a user runs it: a real process, real models, real files."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.integration.audio_files import write_audio
from tests.integration.conftest import data_file, run_cli, telephone_segments

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


SRT_TIME = r"\d\d:\d\d:\d\d,\d\d\d"


def srt_ms(stamp: str) -> int:
    hours, minutes, rest = stamp.split(":")
    seconds, millis = rest.split(",")
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def test_srt_and_text_formats(telephone_mp3: Path) -> None:
    one_speaker = (telephone_mp3, "--language", "en", "--max-speakers", "1")
    srt = transcribe(*one_speaker, "--format", "srt")
    assert srt.returncode == 0, srt.stderr
    assert srt.stdout.endswith("\n") and not srt.stdout.endswith("\n\n")
    blocks = srt.stdout[:-1].split("\n\n")
    assert len(blocks) > 1
    captions: list[str] = []
    starts: list[int] = []
    previous_end = 0
    for index, block in enumerate(blocks, start=1):
        number, times, text = block.split("\n")  # exactly three lines a block
        assert number == str(index)
        match = re.fullmatch(f"({SRT_TIME}) --> ({SRT_TIME})", times)
        assert match is not None, times
        start, end = srt_ms(match[1]), srt_ms(match[2])
        assert previous_end <= start < end <= 31_000
        starts.append(start)
        previous_end = end
        assert text.startswith("A: ")  # one speaker asked for, so every caption is A's
        caption = text.removeprefix("A: ")
        # the default 80 characters a caption, unless one word alone is longer
        assert len(caption) <= 80 or " " not in caption, caption
        captions.append(caption)
    # the first caption starts where the reference transcript's first segment does (6.68 s)
    first_speech = telephone_segments()[0]["start"]
    assert isinstance(first_speech, float)
    assert abs(starts[0] - first_speech * 1000) <= 500

    text = transcribe(*one_speaker, "--format", "text")
    assert text.returncode == 0, text.stderr
    # one utterance, one line: the same words as the captions, in the same order
    assert text.stdout == "A: " + " ".join(captions) + "\n"


def test_silent_file_gives_empty_transcript(tmp_path: Path) -> None:
    silent = write_audio(tmp_path / "silence.wav", np.zeros(16000 * 3, np.float32), 8000, 1)
    result = transcribe(silent)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["words"] == [] and body["utterances"] == [] and body["text"] == ""


INVALID_DATA = "Invalid data found when processing input"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.wav", b"", "streamer: {path}: the file is empty"),
        (
            "corrupt.mp3",
            b"\xff\xfb" + bytes(range(256)) * 8,
            f"streamer: cannot decode corrupt.mp3: {INVALID_DATA}",
        ),
        ("a.txt", b"hi\n", f"streamer: cannot decode a.txt: {INVALID_DATA}"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = transcribe(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == message.format(path=path) + "\n"


def test_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    result = transcribe(missing)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"streamer: {missing}: no such file\n"


def test_min_speakers_above_max_exits_2_with_one_line() -> None:
    result = transcribe(data_file("ami_trn02.flac"), "--min-speakers", "3", "--max-speakers", "2")
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr == "streamer: max_speakers_expected must be at least min_speakers_expected\n"
    )


def argparse_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of an argparse rejection: exit 2, nothing on stdout, and on stderr
    only the usage block (wrapped to the terminal width) followed by `...: error: ...`."""
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and "Traceback" not in result.stderr
    *usage, error = result.stderr.splitlines()
    assert usage[0].startswith("usage: streamer transcribe ")
    assert all(line.startswith(" ") for line in usage[1:]), usage
    assert "error:" not in "\n".join(usage)
    return error


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--speakers-expected", "0"],
            "streamer transcribe: error: argument --speakers-expected: must be at least 1",
        ),
        (
            ["--min-speakers", "0"],
            "streamer transcribe: error: argument --min-speakers: must be at least 1",
        ),
        (
            ["--max-speakers", "-1"],
            "streamer transcribe: error: argument --max-speakers: must be at least 1",
        ),
        (
            ["--format", "xml"],
            "streamer transcribe: error: argument --format: invalid choice: 'xml' "
            "(choose from 'json', 'text', 'srt', 'vtt')",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(args: list[str], error: str) -> None:
    assert argparse_error(transcribe(data_file("ami_trn02.flac"), *args)) == error


def test_non_number_speaker_count_exits_2_naming_the_argument_and_value() -> None:
    error = argparse_error(transcribe(data_file("ami_trn02.flac"), "--min-speakers", "two"))
    assert error.startswith("streamer transcribe: error: argument --min-speakers: ")
    assert error.endswith(" value: 'two'")


def test_no_file_exits_2_naming_it() -> None:
    assert argparse_error(transcribe()) == (
        "streamer transcribe: error: the following arguments are required: file"
    )
