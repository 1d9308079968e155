"""The README's copy-paste examples work against a real server: each is taken from the
README as written, with only the address (and, since the test server has a key, the key)
put in."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from streamer.core.audio import float_to_pcm_s16le
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.models

README = Path(__file__).resolve().parents[2] / "README.md"
MAKE_RUN_ADDRESS = "127.0.0.1:8000"


def example(section: str, language: str) -> str:
    """The first `language` code block of the README section titled `section`."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    found = re.search(rf"```{language}\n(.*?)```", text[start:end], re.S)
    assert found, f"no {language} example under {section}"
    return found.group(1)


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory, telephone_audio: np.ndarray) -> Path:
    """The first 12 s of the telephone call as a mono 16-bit WAV, named as in the README."""
    path = tmp_path_factory.mktemp("readme") / "call.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(float_to_pcm_s16le(telephone_audio[: 12 * 16000]))
    return path


def test_the_voice_agent_example_prints_each_turn_with_its_speaker(
    server: str, call_wav: Path
) -> None:
    code = example("Voice agent", "python").replace(MAKE_RUN_ADDRESS, server.split("://")[1])
    agent = call_wav.parent / "agent.py"
    agent.write_text(code)
    done = subprocess.run(
        [sys.executable, str(agent), str(call_wav)],
        env={"STREAMER_API_KEY": API_KEY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    turns = re.findall(r"^([AB]): (.+) \((\d\.\d)\)$", done.stdout, re.M)
    assert len(turns) >= 2, done.stdout
    assert "chicago" in done.stdout.lower() or "hello" in done.stdout.lower(), done.stdout


def test_the_curl_example_uploads_transcribes_and_prints_srt(server: str, call_wav: Path) -> None:
    script = example("Files over REST (`/v2`)", "sh")
    script = script.replace(f"http://{MAKE_RUN_ADDRESS}", server)
    script = script.replace("curl -s", f"curl -s -H 'authorization: {API_KEY}'")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=call_wav.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("1\n00:00:0"), done.stdout[:500]
    assert " --> " in done.stdout and ("A: " in done.stdout or "B: " in done.stdout)
