"""Outbound HTTP on a client's behalf (`audio_url` downloads, webhooks, call callbacks) that
reaches only public addresses, unless the operator allows more.

A URL is checked when it is given (`check_url`: a clear 400) and again on every connection
the clients below make, redirects included: the host is resolved once, every address it
resolves to must be allowed, and the connection goes to that address, so a name that
resolves to a public address when checked and to 127.0.0.1 a moment later (DNS rebinding)
cannot slip through. A download can also carry a total deadline that every socket read and
write counts against, so a server that drips its headers cannot hold a worker past it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio.to_thread
import httpcore
import httpx

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the addresses the host resolves to (`socket.gaierror` when none)."""

SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
"""RFC 8215 local-use NAT64: whatever it reaches is private (Python 3.11 calls it global)."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped (::ffff:a.b.c.d), 6to4, Teredo's
    client, or NAT64's well-known prefix."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class BlockedUrl(httpcore.ConnectError):
    """A URL or connection the policy refuses; the message says why (it names no server
    path, only what the client gave and what it resolved to)."""


def system_resolver(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def allowed_networks(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Addresses or networks ("127.0.0.0/8", "::1") as networks (`Settings` checked them)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses outbound requests may reach: public (globally routable) unicast
    addresses, and those inside `allowed`. Loopback, private, shared, link-local (the cloud
    metadata address 169.254.169.254 among them), multicast, reserved and unspecified ones
    are refused, IPv4 written as IPv6 (::ffff:127.0.0.1) as its IPv4 self."""

    allowed: tuple[IpNetwork, ...] = ()
    resolve: Resolver = system_resolver

    def permits(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
        if any(ip.version == network.version and ip in network for network in self.allowed):
            return True
        if isinstance(ip, ipaddress.IPv6Address):
            if ip in _LOCAL_NAT64:
                return False
            embedded = _embedded_ipv4(ip)
            if embedded is not None:  # as its IPv4 self, which it reaches
                return self.permits(str(embedded))
        return ip.is_global and not ip.is_multicast

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, or `BlockedUrl`: when it resolves to
        none, or to any that is not permitted (a name with one private address among public
        ones is refused whole: which one a client would get is the resolver's choice)."""
        try:
            found = self.resolve(host.strip("[]"), port)
        except (OSError, UnicodeError) as error:
            raise BlockedUrl(f"{host} could not be resolved") from error
        if not found:
            raise BlockedUrl(f"{host} could not be resolved")
        refused = [address for address in found if not self.permits(address)]
        if refused:
            raise BlockedUrl(
                f"{host} resolves to {refused[0]}, not a public address "
                "(STREAMER_ALLOW_PRIVATE_URLS lets one through)"
            )
        return found

    def check_url(self, url: str) -> None:
        """`BlockedUrl` unless `url` is http(s) with a host this policy lets us reach
        (resolves: call it off the event loop)."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise BlockedUrl(f"not a URL: {error}") from error
        if parsed.scheme not in SCHEMES or not parsed.host:
            raise BlockedUrl("only http and https URLs with a host are fetched")
        self.addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))


async def unreachable(policy: AddressPolicy, url: str) -> str | None:
    """Why `url` is refused (`check_url`, resolved in a thread), or None."""
    try:
        await anyio.to_thread.run_sync(policy.check_url, url)
    except BlockedUrl as refused:
        return str(refused)
    return None


class _Deadline:
    """What is left of a total time limit, as each socket operation's timeout."""

    def __init__(self, seconds: float | None) -> None:
        self._end = None if seconds is None else time.monotonic() + seconds

    def timeout(self, timeout: float | None) -> float | None:
        if self._end is None:
            return timeout
        left = self._end - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the request took longer than its time limit")
        return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.timeout(timeout))
        return _Stream(inner, self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Connects only to addresses the policy permits (TLS still checks the URL's host name:
    httpcore passes it to `start_tls` apart from the address)."""

    def __init__(self, policy: AddressPolicy, deadline: _Deadline) -> None:
        self._policy = policy
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self._policy.addresses(host, port)[0]
        stream = self._inner.connect_tcp(
            address, port, self._deadline.timeout(timeout), local_address, socket_options
        )
        return _Stream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedUrl("unix sockets are not reached")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """`_Backend` for the event loop (resolving in a thread: getaddrinfo blocks)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        found = await anyio.to_thread.run_sync(self._policy.addresses, host, port)
        return await self._inner.connect_tcp(found[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedUrl("unix sockets are not reached")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: AddressPolicy, timeout_s: float, total_s: float | None = None
) -> httpx.Client:
    """A client whose every connection the policy checks; with `total_s`, it stops working
    that long after it is made (connects, headers and bodies all count: make one per
    download). Follows redirects (each hop checked); no proxy from the environment (it
    would be the one connection checked)."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(  # httpx takes no backend: its pool, ours
        ssl_context=httpx.create_ssl_context(),
        network_backend=_Backend(policy, _Deadline(total_s)),
    )
    return httpx.Client(
        transport=transport, timeout=timeout_s, follow_redirects=True, trust_env=False
    )


def guarded_async_client(policy: AddressPolicy, timeout_s: float) -> httpx.AsyncClient:
    """`guarded_client` for the event loop (webhooks, call callbacks): no redirects, as
    before, and no total deadline (a slow receiver holds only its own delivery)."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_AsyncBackend(policy)
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, trust_env=False)
