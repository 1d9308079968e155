"""What outbound requests (audio_url, webhook_url, callback_url) may reach.

No test here sends a packet anywhere but loopback: private, link-local and public addresses
are only ever checked (`AddressPolicy.permits`, or a resolver stub that returns them), and
a stub that names a public address is asked only by the check made before any connection.
The connections made go to loopback receivers; where one must be refused, it is a loopback
address outside the allowed network."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streamer.api.outbound import (
    AddressPolicy,
    BlockedUrl,
    allowed_networks,
    guarded_async_client,
    guarded_client,
)
from tests.integration.conftest import API_KEY, AUTH, running_server
from tests.integration.test_twilio import _start

# Only ever given to `AddressPolicy.permits` or returned by a resolver stub to a check that
# refuses them: no socket is opened to any of these, nor to PUBLIC below.
REFUSED = [
    "127.0.0.1",
    "127.5.6.7",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (carrier NAT)
    "169.254.169.254",  # cloud metadata
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4 written as IPv6
    "::ffff:169.254.169.254",
    "64:ff9b:1::a00:1",  # local-use NAT64
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
]
PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_loopback_private_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert not AddressPolicy().permits(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_permitted(address: str) -> None:
    assert AddressPolicy().permits(address)


def test_allowed_networks_are_permitted_and_nothing_else() -> None:
    policy = AddressPolicy(allowed_networks(["127.0.0.0/8", "10.2.0.5", "::1"]))
    for address in ("127.0.0.1", "127.9.9.9", "10.2.0.5", "::1", "::ffff:127.0.0.1"):
        assert policy.permits(address)
    for address in ("10.2.0.6", "192.168.1.1", "169.254.169.254", "fe80::1"):
        assert not policy.permits(address)


class Stub:
    """A resolver that answers from a table, one answer list per call in turn, and counts."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {host.replace("_", "."): list(lists) for host, lists in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        lists = self.answers.get(host)
        if not lists:
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        return lists.pop(0) if len(lists) > 1 else lists[0]


def test_a_name_is_refused_when_any_address_it_resolves_to_is_private() -> None:
    stub = Stub(
        public_test=[["93.184.216.34"]],
        mixed_test=[["93.184.216.34", "10.0.0.1"]],
        metadata_test=[["169.254.169.254"]],
    )
    policy = AddressPolicy(resolve=stub)
    policy.check_url("https://public.test/a.wav")
    for url, shown in (
        ("http://mixed.test/a.wav", "10.0.0.1"),
        ("http://metadata.test/latest/meta-data/", "169.254.169.254"),
    ):
        with pytest.raises(BlockedUrl, match=shown):
            policy.check_url(url)
    with pytest.raises(BlockedUrl, match="could not be resolved"):
        policy.check_url("http://nowhere.test/a.wav")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/a.wav", "gopher://127.0.0.1/", "http://", "x"]
)
def test_only_http_and_https_urls_with_a_host_are_taken(url: str) -> None:
    with pytest.raises(BlockedUrl):
        AddressPolicy(allowed_networks(["127.0.0.0/8"])).check_url(url)


class _Redirect(BaseHTTPRequestHandler):
    """Redirects /away to the URL in its query; answers "ok" to anything else."""

    def do_GET(self) -> None:
        if self.path.startswith("/away?"):
            self.send_response(302)
            self.send_header("Location", self.path.split("?", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


ONLY_127_0_0_1 = allowed_networks(["127.0.0.1/32"])


def test_the_guarded_client_reaches_what_is_allowed_and_refuses_a_redirect_elsewhere(
    receiver: str,
) -> None:
    with guarded_client(AddressPolicy(ONLY_127_0_0_1), 5) as client:
        assert client.get(f"{receiver}/a.wav").text == "ok"
        port = receiver.rsplit(":", 1)[1]
        # loopback too, but outside the allowed network: refused before any connection
        with pytest.raises(httpx.ConnectError, match=re.escape("127.0.0.2")):
            client.get(f"{receiver}/away?http://127.0.0.2:{port}/a.wav")
        with pytest.raises(httpx.UnsupportedProtocol):
            client.get(f"{receiver}/away?file:///etc/passwd")


def test_a_name_that_resolves_elsewhere_when_connecting_is_refused(receiver: str) -> None:
    """DNS rebinding: the check at submission sees a public address; the connection, made
    later, resolves the name again and gets loopback outside the allowed network. The
    client connects to what it checked, never to what it did not."""
    port = int(receiver.rsplit(":", 1)[1])
    stub = Stub(rebind_test=[["93.184.216.34"], ["127.0.0.2"]])
    policy = AddressPolicy(ONLY_127_0_0_1, resolve=stub)
    url = f"http://rebind.test:{port}/a.wav"
    policy.check_url(url)  # resolves only: nothing is sent to the public address
    with (
        guarded_client(policy, 5) as client,
        pytest.raises(httpx.ConnectError, match=re.escape("127.0.0.2")),
    ):
        client.get(url)
    assert stub.calls == ["rebind.test", "rebind.test"]

    async def post() -> None:
        async with guarded_async_client(AddressPolicy(resolve=Stub(h_test=[["::1"]])), 5) as c:
            with pytest.raises(httpx.ConnectError, match="::1"):
                await c.post(f"http://h.test:{port}/hook", json={})

    asyncio.run(post())


class _Drip(BaseHTTPRequestHandler):
    """Sends its status line and headers one byte every 0.2 s: each read is quick, the whole
    never ends (what a per-read timeout lets through)."""

    def do_GET(self) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
        try:
            for byte in head:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_a_download_ends_at_its_total_deadline_even_while_bytes_trickle() -> None:
    httpd = HTTPServer(("127.0.0.1", 0), _Drip)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        client = guarded_client(AddressPolicy(ONLY_127_0_0_1), timeout_s=5, total_s=1.0)
        with client, pytest.raises(httpx.TimeoutException):
            client.get(f"http://127.0.0.1:{httpd.server_port}/a.wav")
        assert time.monotonic() - started < 3.0  # the headers alone would take 45 s
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_refuses_loopback_urls_unless_allowed(nowhere: str, tmp_path: Path) -> None:
    """The default (no STREAMER_ALLOW_PRIVATE_URLS): loopback audio, webhook and callback URLs
    are refused with a clear 400 / 3006; nothing is fetched."""
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_ALLOW_PRIVATE_URLS": "",
        "STREAMER_DATA_DIR": str(tmp_path),  # its own jobs: none may be queued
    }
    with running_server(env) as base:
        for body, shown in (
            ({"audio_url": f"{nowhere}/a.wav"}, "audio_url refused: 127.0.0.1 resolves to"),
            ({"audio_url": "http://localhost:9/a.wav"}, "audio_url refused: localhost"),
            (
                {"audio_url": f"{nowhere}/a.wav", "webhook_url": "http://[::1]:9/hook"},
                "audio_url refused",
            ),
        ):
            response = httpx.post(f"{base}/v2/transcript", json=body, headers=AUTH)
            assert response.status_code == 400, response.text
            assert response.json()["error"].startswith(shown), response.text
            assert "not a public address" in response.json()["error"]
        assert httpx.get(f"{base}/v2/transcript", headers=AUTH).json()["transcripts"] == []

        custom = {"token": API_KEY, "callback_url": f"{nowhere}/cb"}
        with connect(base.replace("http", "ws", 1) + "/twilio") as ws:
            ws.send(_start(customParameters=custom))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 3006
        assert closed.value.rcvd.reason.startswith("callback_url: 127.0.0.1 resolves to")
