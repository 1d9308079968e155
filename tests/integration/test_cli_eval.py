"""`streamer eval` as a user runs it: a real process scoring a dev file whole and streamed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import DATA_DIR, run_cli

pytestmark = pytest.mark.models


def run_eval(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("eval", *args, timeout=600)


def test_eval_scores_a_file_whole_and_streamed(tmp_path: Path) -> None:
    folder = DATA_DIR
    figures = tmp_path / "eval.json"
    result = run_eval(folder, "--only", "ami_trn03", "--streaming", "--json", figures)
    assert result.returncode == 0, result.stderr
    assert "| ami_trn03 | streamer |" in result.stdout
    assert "| ami_trn03 | streamer streaming |" in result.stdout
    assert "finals unsure" in result.stdout  # the streaming latency table
    assert "Speaker attribution" in result.stdout and "boundary bleed" in result.stdout
    assert result.stdout.count("| ami_trn03 | streamer") == 4  # both tables, both systems
    systems = json.loads(figures.read_text())["systems"]
    assert set(systems) == {"streamer", "streamer streaming"}
    for system in systems.values():
        (file,) = system["files"]
        assert 0 <= file["words"]["der"] <= 1 and file["turns"]["ref_speakers"] == 2
        attributed = file["attribution"]
        assert 0 < attributed["words_scored"] <= attributed["words"]
        assert 0 <= attributed["word_accuracy"] <= 1
        assert attributed["reference_turns"] > 0 and attributed["minutes"] == 0.5
        overall = system["overall"]
        assert overall["word_accuracy"] == attributed["word_accuracy"]  # one file: pooled = it
    streamed = systems["streamer streaming"]["files"][0]["streaming"]
    assert streamed["final_after_speech_s"] and streamed["first_partial_s"]
    assert 0 <= streamed["finals_unsure"] <= len(streamed["final_after_speech_s"])


def test_eval_says_when_a_folder_has_nothing_to_score(tmp_path: Path) -> None:
    result = run_eval(tmp_path)
    assert result.returncode == 2
    assert "no audio with an .rttm reference" in result.stderr
