"""TLS on the server's one port (`https://` and `wss://`), with a certificate from
`streamer dev-cert`, and the official SDKs pointed at it as their users would: the Node SDK
(`assemblyai` from npm, pinned in node_sdk/package-lock.json) streams over `wss://`, takes a
temporary token over `https://`, and transcribes a file over plain `http://`; the Python SDK
takes a temporary token over `https://` and streams with it."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from assemblyai.streaming.v3 import (
    StreamingClient,
    StreamingClientOptions,
    StreamingEvents,
    StreamingParameters,
)

from streamer.api.tokens import PREFIX
from streamer.tools.local_server import LocalServer
from tests.integration.conftest import (
    API_KEY,
    STREAM_SPEEDUP,
    data_file,
    paced,
    pcm16,
    run_cli,
    split_telephone_call,
)

pytestmark = pytest.mark.models

NODE_SDK = Path(__file__).resolve().parent / "node_sdk"
SAMPLE_RATE = 16000
SPEECH = "ami_trn03.flac"
"""30 s of a meeting that is speech from start to end (mostly one voice)."""


@pytest.fixture(scope="module")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`streamer dev-cert --out DIR` as a user runs it: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("dev-cert")
    done = run_cli("dev-cert", "--out", folder, timeout=60)
    assert done.returncode == 0, done.stderr
    cert, key = folder / "cert.pem", folder / "key.pem"
    assert str(cert) in done.stdout and str(key) in done.stdout
    return cert, key


@pytest.fixture(scope="module")
def tls_server(
    dev_cert: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """One real server for the module, TLS from the environment, logging JSON by the flag."""
    cert, key = dev_cert
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path_factory.mktemp("tls-data")),
        "STREAMER_TLS_CERT": str(cert),
        "STREAMER_TLS_KEY": str(key),
    }
    with LocalServer(env, args=["--log-format", "json"]) as server:
        yield server


def _installed(folder: Path) -> bool:
    """Whether node_modules holds every package of the lock file at its locked version."""
    locked = json.loads((folder / "package-lock.json").read_text())["packages"]
    for path, entry in locked.items():
        manifest = folder / path / "package.json"
        if path and not (
            manifest.is_file() and json.loads(manifest.read_text())["version"] == entry["version"]
        ):
            return False
    return True


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    """node_sdk/ with its locked packages installed (`npm ci`, once, into its ignored
    node_modules); the folder to run `node sdk.mjs` in."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the Node SDK")
    if not _installed(NODE_SDK):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_SDK,
            check=True,
            timeout=300,
        )
    assert _installed(NODE_SDK)
    return NODE_SDK


def run_node(folder: Path, cert: Path | None, *args: str | Path) -> Any:
    """`node sdk.mjs ARGS...` with the test key, trusting `cert`; its one JSON line."""
    env = {**os.environ, "ASSEMBLYAI_API_KEY": API_KEY}
    if cert is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(cert)
    done = subprocess.run(
        ["node", "sdk.mjs", *map(str, args)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dev_cert_names_localhost_and_both_loopback_addresses(
    dev_cert: tuple[Path, Path],
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to read the certificate as a user would")
    cert, key = dev_cert
    shown = subprocess.run(
        ["openssl", "x509", "-in", cert, "-noout", "-subject", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "localhost" in shown.splitlines()[0]  # subject=CN = streamer dev (localhost)
    assert "DNS:localhost" in shown
    assert "IP Address:127.0.0.1" in shown and "IP Address:0:0:0:0:0:0:0:1" in shown
    assert key.stat().st_mode & 0o777 == 0o600
    public_keys = [
        subprocess.run(command, capture_output=True, check=True).stdout
        for command in (
            ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
            ["openssl", "pkey", "-in", str(key), "-pubout"],
        )
    ]
    assert public_keys[0] == public_keys[1]  # the key is the certificate's
    verified = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", cert, cert],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_port_speaks_tls_with_that_certificate_only(tls_server: LocalServer) -> None:
    assert tls_server.url.startswith("https://") and tls_server.ws_url.startswith("wss://")
    health = httpx.get(f"{tls_server.url}/healthz", verify=tls_server.verify)
    assert health.status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_server.url}/healthz", verify=ssl.create_default_context())
    with pytest.raises(httpx.TransportError):  # no plain HTTP on a TLS port
        httpx.get(f"http://{tls_server.host}/healthz", timeout=5)


def test_serve_logs_json_lines_through_uvicorn_too(tls_server: LocalServer) -> None:
    lines = [
        json.loads(line) for line in tls_server.log.read_text().splitlines() if line[:1] == "{"
    ]
    running = [line for line in lines if "Uvicorn running on https://" in line["message"]]
    assert running and running[0]["name"] == "uvicorn.error" and running[0]["level"] == "INFO"
    assert any(line["name"] == "uvicorn.access" for line in lines)  # the /healthz polls
    assert all({"time", "level", "name", "context", "message"} <= line.keys() for line in lines)


def test_node_sdk_streams_over_wss_with_a_speaker_on_every_word(
    tls_server: LocalServer, node_sdk: Path, tmp_path: Path
) -> None:
    pcm = tmp_path / "speech.pcm"
    pcm.write_bytes(pcm16(data_file(SPEECH)))
    seen = run_node(
        node_sdk, tls_server.tls_cert, "stream", f"{tls_server.ws_url}/v3/ws", pcm, STREAM_SPEEDUP
    )
    assert seen["errors"] == [] and seen["begin"]["type"] == "Begin"
    finals = [turn for turn in seen["turns"] if turn["end_of_turn"]]
    assert any(not turn["end_of_turn"] for turn in seen["turns"]), "no partial turn"
    words = [word for turn in finals for word in turn["words"]]
    assert len(words) > 40, [turn["transcript"] for turn in finals]
    assert all(word["speaker"] and word["word_is_final"] for word in words)
    orders = [turn["turn_order"] for turn in finals]
    assert orders == sorted(set(orders))


def test_node_sdk_takes_a_temporary_token_over_https(
    tls_server: LocalServer, node_sdk: Path
) -> None:
    seen = run_node(
        node_sdk, tls_server.tls_cert, "token", tls_server.url, f"{tls_server.ws_url}/v3/ws"
    )
    assert seen["token"].startswith(PREFIX)
    assert seen["begin"]["type"] == "Begin" and seen["errors"] == []


def test_node_sdk_transcribes_a_file_over_http_with_speakers(
    server: str, node_sdk: Path, tmp_path: Path
) -> None:
    excerpt = tmp_path / "speech-10s.wav"
    with wave.open(str(excerpt), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm16(data_file(SPEECH))[: 10 * SAMPLE_RATE * 2])
    assert server.startswith("http://")
    transcript = run_node(node_sdk, None, "rest", server, excerpt)
    assert transcript["status"] == "completed", transcript.get("error")
    utterances = transcript["utterances"]
    assert utterances and all(u["speaker"] and u["text"] for u in utterances)
    assert transcript["words"] and all(word["speaker"] for word in transcript["words"])


def test_node_sdk_multichannel_tags_every_word_with_its_channel(
    server: str, node_sdk: Path, tmp_path: Path
) -> None:
    call = split_telephone_call(tmp_path / "call-stereo.wav")
    fields = json.dumps({"multichannel": True})
    transcript = run_node(node_sdk, None, "rest", server, call, fields)
    assert transcript["status"] == "completed", transcript.get("error")
    assert transcript["audio_channels"] == 2
    words = transcript["words"]
    assert {w["channel"] for w in words} == {"1", "2"}
    assert all(w["speaker"] == w["channel"] for w in words)
    assert {u["channel"] for u in transcript["utterances"]} == {"1", "2"}


def test_python_sdk_temporary_token_over_https_then_a_stream_with_it(
    tls_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK builds its own TLS contexts (httpx for the token, ssl for the socket): both
    # read the trust store from SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.tls_cert))
    # `api_host` without a scheme: the token from https://HOST/v3/token, the socket wss://HOST
    keyed = StreamingClient(StreamingClientOptions(api_key=API_KEY, api_host=tls_server.host))
    token = keyed.create_temporary_token(expires_in_seconds=60)
    assert token.startswith(PREFIX)
    # The SDK keeps that connection alive and never closes it; a TLS server stopping waits up
    # to 30 s for an idle peer to answer its close_notify (a plain one closes at once).
    keyed._client._http_client.close()

    events: list[Any] = []
    client = StreamingClient(
        StreamingClientOptions(token=token, api_host=tls_server.host, terminate_timeout=30)
    )
    for kind in (
        StreamingEvents.Begin,
        StreamingEvents.Turn,
        StreamingEvents.Termination,
        StreamingEvents.Error,
    ):
        client.on(kind, lambda _client, event: events.append(event))
    client.connect(StreamingParameters(sample_rate=SAMPLE_RATE, speaker_labels=True))
    client.stream(paced(pcm16(data_file(SPEECH))[: 8 * SAMPLE_RATE * 2]))
    client.disconnect(terminate=True)

    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "BeginEvent" and kinds[-1] == "TerminationEvent", kinds
    assert "ErrorEvent" not in kinds
    words = [
        w for e in events if type(e).__name__ == "TurnEvent" and e.end_of_turn for w in e.words
    ]
    assert words and all(word.speaker for word in words)
