"""The browser pages end to end: the real server, Debian's Chromium driven headless by
playwright-core (`tests/integration/pages/drive.mjs`), a recording played as the microphone.

The live view streams the fake microphone (an AMI excerpt, looped) through the page's
AudioWorklet to `/v3/ws` with a temporary token from the pasted API key; the files view
uploads 15 s of it through the page's file input. The browser reaches loopback
only: any other request is aborted and fails the test. Screenshots and the downloaded
captions land in `build/test-artifacts/pages/`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import API_KEY, data_file, pcm16, running_server

ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = Path(__file__).with_name("pages")
ARTIFACTS = ROOT / "build" / "test-artifacts" / "pages"
CHROMIUM = Path("/usr/bin/chromium")
RECORDING = "ami_trn00.flac"
"""30 s of a meeting, two voices in the files view; speech from 3.2 s on."""
FILE_TRANSCRIPT = (
    "Does anyone want to see Steve's feedback from the specification? Is there much more in it "
    "than he said yesterday? Not really. Just what he's talking about, duplication of effort. "
    "Like duplication of effort and stuff."
)
"""What `streamer transcribe tests/data/ami_trn00.flac` prints (speakers left out)."""
EXCERPT_S = (10, 25)
"""The files view's upload: "Does anyone want to see Steve's feedback from the specification?
Is there much more in it" (A), "than he said yesterday?" (B), "Not really. Just what he's
talking about duplication of..." (A), as `streamer transcribe` gives it."""
WORDS_OF_THE_OPENING = {"anyone", "steve's", "feedback", "specification", "yesterday"}
"""Words of its first 15 s; a live caption that heard the recording has some of them."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _chromium() -> Path:
    """Debian's Chromium, which `.ci/run` installs (a skipped test would fail CI anyway)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (see .ci/run)")
    return CHROMIUM


def _ensure_playwright() -> None:
    """playwright-core from package-lock.json into the folder's node_modules (`npm ci`, from
    npm's cache when it has it); the browser is Debian's, so nothing else is downloaded."""
    installed = PAGES_DIR / "node_modules" / "playwright-core" / "package.json"
    lock = json.loads((PAGES_DIR / "package-lock.json").read_text())
    wanted = lock["packages"]["node_modules/playwright-core"]["version"]
    if installed.exists() and json.loads(installed.read_text())["version"] == wanted:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm missing: the page tests need Node.js 20 and npm")
    subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=PAGES_DIR,
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def browser() -> Path:
    _ensure_playwright()
    return _chromium()


def _write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm)
    return path


@pytest.fixture(scope="module")
def recording_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recording as a 16-bit WAV: what Chromium's fake capture device plays (looped)."""
    return _write_wav(
        tmp_path_factory.mktemp("pages") / "ami_trn00.wav", pcm16(data_file(RECORDING))
    )


@pytest.fixture(scope="module")
def excerpt_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its 10-25 s, two voices: the file the files view uploads (short, so the job is quick)."""
    pcm = pcm16(data_file(RECORDING))[EXCERPT_S[0] * 32000 : EXCERPT_S[1] * 32000]
    return _write_wav(tmp_path_factory.mktemp("pages") / "ami_trn00_excerpt.wav", pcm)


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path_factory.mktemp("pages-server")),
    }
    with running_server(env) as base:
        yield base


Drive = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def drive(page_server: str, browser: Path) -> Drive:
    """`drive(SCENARIO, **config)`: runs one scenario of drive.mjs against the page server,
    with the API key to paste; what the page showed, and every URL it asked for."""

    def run(scenario: str, **config: Any) -> dict[str, Any]:
        base = {"base": page_server, "chromium": str(browser), "artifacts": str(ARTIFACTS)}
        return _drive(scenario, {**base, "apiKey": API_KEY, **config})

    return run


def _drive(scenario: str, config: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        ["node", "drive.mjs", scenario, json.dumps(config)],
        cwd=PAGES_DIR,
        capture_output=True,
        text=True,
        timeout=150,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"drive.mjs {scenario} failed:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{scenario}.json").write_text(json.dumps(result, indent=1))
    print(f"{scenario}: screenshots {result.get('screenshots')}")
    assert "failure" not in result, f"{result['failure']}\npage:\n{result.get('page')}"
    assert result["blocked"] == [], "the page asked for something off this machine"
    local = re.compile(r"(https?|wss?)://127\.0\.0\.1:\d+/|blob:|data:")
    assert all(local.match(url) for url in result["requests"]), result["requests"]
    assert result["errors"] == []
    return result


def test_pure_modules_under_node() -> None:
    """Resampling, framing, held captions and SRT, under Node's test runner (no browser)."""
    done = subprocess.run(
        ["node", "--test", "pure.test.mjs"],
        cwd=PAGES_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_live_captions_from_the_microphone(drive: Drive, recording_wav: Path) -> None:
    live = drive("live", wav=str(recording_wav))
    # without a key the page connects without a token; the server refuses, the page says why
    assert live["withoutKey"].startswith("Could not start: not authorized (code 4001)")
    assert live["startEnabledAgain"]
    assert live["status"].startswith("Stopped."), live["status"]
    assert not live["startDisabled"]
    # the key was traded for a token: the WebSocket carried `?token=`, never the key
    refused, socket = [u for u in live["requests"] if u.startswith("ws://")]
    assert "token=" not in refused
    assert "token=tmp_" in socket and API_KEY not in socket
    assert "sample_rate=16000" in socket and "encoding=pcm_s16le" in socket

    turns = live["turns"]
    assert turns and all(turn["ended"] for turn in turns), "Stop ends every turn"
    assert all(t["state"] == "end of turn" and t["busy"] == "false" for t in turns)
    assert [t["order"] for t in turns] == sorted(t["order"] for t in turns)
    words = [w | {"run": r} for t in turns for r in t["runs"] for w in r["words"]]
    finals = [w for w in words if w["final"]]
    assert len(finals) >= 8 and len(finals) == len(words)
    for word in finals:
        assert word["speaker"], f"final word without a speaker: {word}"
        assert word["run"]["label"] == f"Speaker {word['speaker']}"
        assert word["colour"] == "rgb(26, 26, 26)"  # final words black
    assert live["partialSeen"]["colour"] == "rgb(138, 138, 138)"  # partial words grey
    starts = [w["start"] for w in finals]
    assert starts == sorted(starts)

    heard = [token for w in finals for token in _words(w["text"])]
    reference = set(_words(FILE_TRANSCRIPT))
    known = [token for token in heard if token in reference]
    assert len(known) >= 0.5 * len(heard), f"live words off the recording: {heard}"
    assert len(WORDS_OF_THE_OPENING & set(heard)) >= 2, f"live words: {heard}"

    txt = live["txt"]["text"]
    assert txt.splitlines() and all(line.startswith("Speaker ") for line in txt.splitlines())
    assert _words(" ".join(line.split(": ", 1)[1] for line in txt.splitlines())) == heard
    assert live["txt"]["suggested"].endswith(".txt") and live["srt"]["suggested"].endswith(".srt")
    cues = live["srt"]["text"].strip().split("\n\n")
    assert len(cues) >= 2
    for number, cue in enumerate(cues, start=1):
        index, timing, text = cue.split("\n", 2)
        assert index == str(number)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", timing)
        assert text.startswith("Speaker ")


def test_files_view_shows_speakers_a_timeline_and_plays_words(
    drive: Drive, excerpt_wav: Path
) -> None:
    files = drive("files", upload=str(excerpt_wav))
    assert files["panelVisible"]
    assert "utterances" in files["status"], files["status"]
    utterances = files["utterances"]
    assert utterances and all(u["speaker"] and u["words"] for u in utterances)
    assert all(u["label"] == f"Speaker {u['speaker']}" for u in utterances)
    text = " ".join(u["text"] for u in utterances).lower()
    assert "specification" in text and "duplication" in text

    timeline = files["timeline"]
    segments = timeline["segments"]
    assert len(segments) >= 1 and len(segments) == len(utterances)
    assert {s["speaker"] for s in segments} == {u["speaker"] for u in utterances}
    duration_ms = float(timeline["viewBox"].split()[2])
    length_ms = (EXCERPT_S[1] - EXCERPT_S[0]) * 1000
    assert abs(duration_ms - length_ms) < 100  # the whole recording, as the player measured it
    assert all(s["x"] >= 0 and s["x"] + s["width"] <= duration_ms + 1 for s in segments)
    assert len({s["fill"] for s in segments}) == len({s["speaker"] for s in segments})
    assert timeline["legend"] and timeline["label"].startswith("Who speaks when")

    audio = files["audio"]
    assert audio["src"].startswith("blob:")  # the picked file itself, not fetched back
    assert abs(audio["duration"] * 1000 - length_ms) < 100
    assert 0 <= audio["currentTime"] - files["clicked"]["startMs"] / 1000 < 1.0


def test_docs_are_served_from_this_server(page_server: str, drive: Drive) -> None:
    html = httpx.get(f"{page_server}/docs").text
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
    assert len(urls) == 4 and all(u.startswith("/") for u in urls), urls  # js, css, icon, schema
    for url in urls:
        response = httpx.get(f"{page_server}{url}")
        assert response.status_code == 200 and response.content, url
    assert httpx.get(f"{page_server}/redoc").status_code == 404  # its bundle uses a CDN
    assert httpx.get(f"{page_server}/static/nothing.js").status_code == 404
    assert httpx.get(f"{page_server}/static/%2e%2e/pages.py").status_code == 404
    docs = drive("docs")
    assert docs["operations"] >= 9  # every route of the schema, rendered without a CDN
    assert docs["title"] == "streamer - Swagger UI"
