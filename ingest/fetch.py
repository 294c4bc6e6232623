"""The one fetcher for every URL articlebot opens (pages, feeds, /ingest, followed sources).

The rules live here once:
- only http(s); at most MAX_REDIRECTS redirects, each hop checked like the first;
- the host is resolved and the connection made to the checked address (so a name cannot resolve to a public
  address for the check and to a private one for the connection); loopback, private, link-local (cloud metadata
  at 169.254.169.254), multicast, reserved and other non-global addresses are refused, IPv6 and IPv4-mapped IPv6
  included, unless ALLOW_PRIVATE_URLS lifts the address rule;
- a User-Agent naming the bot, a timeout per request and a wall-clock bound on the whole body, and a size cap;
- conditional GET: given the ETag / Last-Modified of the last response, an unchanged resource is a 304 with no body.

Bad URLs never raise: the caller gets a Skip with one line saying why.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend, SyncStream

from ingest.article import Skip

USER_AGENT = "articlebot/0.1 (news question-answering bot; feed and page fetcher)"
MAX_REDIRECTS = 5
PRIVATE_HINT = "set ALLOW_PRIVATE_URLS=true to allow intranet addresses"


class Refused(Exception):
    """A URL articlebot will not open; the message is the one line the user sees."""


class Network(Protocol):
    """Name resolution and TCP connections: the system's, or a stub in tests (no test touches DNS)."""

    def resolve(self, host: str, port: int) -> list[str]: ...

    def connect(self, address: str, port: int, timeout: float | None) -> socket.socket: ...


class SystemNetwork:
    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc.strerror or exc})") from None
        return list(dict.fromkeys(info[4][0] for info in infos))

    def connect(self, address: str, port: int, timeout: float | None) -> socket.socket:
        return socket.create_connection((address, port), timeout)


def address_problem(address: str) -> str | None:
    """Why an address may not be fetched (None when it is a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        ip = ip.ipv4_mapped
        address = f"{address} ({ip})"
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not ip.is_global:  # carrier-grade NAT, documentation and benchmark ranges ...
        return f"{address} is not a public address"
    return None


class _GuardedBackend(SyncBackend):
    """Connects only to addresses that pass the rule; the name is resolved once, here, and the checked address used."""

    def __init__(self, network: Network, allow_private: bool):
        self.network = network
        self.allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = self.vet(host, port)
        error: OSError | None = None
        for address in addresses:
            try:
                sock = self.network.connect(address, port, timeout)
            except socket.timeout as exc:
                raise httpcore.ConnectTimeout(str(exc)) from None
            except OSError as exc:
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SyncStream(sock)
        raise httpcore.ConnectError(str(error))

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, or Refused."""
        try:
            addresses, literal = [str(ipaddress.ip_address(host))], True  # a literal needs no resolving
        except ValueError:
            addresses, literal = self.network.resolve(host, port), False
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        if not self.allow_private:
            for address in addresses:  # every answer, so a mixed public/private answer cannot slip through
                problem = address_problem(address)
                if problem:
                    raise Refused(f"refused: {problem} ({PRIVATE_HINT})" if literal
                                  else f"refused: {host} resolves to {problem} ({PRIVATE_HINT})")
        return addresses


class _Transport(httpx.HTTPTransport):
    """httpx's transport with the guarded connection backend (httpx has no public knob for httpcore's backend)."""

    def __init__(self, backend: _GuardedBackend):
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend,
                                             max_connections=20, max_keepalive_connections=10)


@dataclass
class Fetched:
    url: str               # after redirects
    status: int            # 200, or 304 when the validators said unchanged
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


def url_problem(url: str) -> str | None:
    """Why a URL is not fetchable before any connection is made (scheme, host)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"refused: only http and https URLs are fetched, not {parts.scheme or 'a bare path'}:"
    if not parts.hostname:
        return "refused: the URL has no host"
    return None


class Fetcher:
    """GET with the rules above. Thread-safe (one httpx client with a connection pool)."""

    def __init__(self, max_bytes: int, timeout: float, *, allow_private: bool = False, network: Network | None = None):
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.allow_private = allow_private
        self._backend = _GuardedBackend(network or SystemNetwork(), allow_private)
        self._client = httpx.Client(transport=_Transport(self._backend),
                                    timeout=timeout, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": USER_AGENT})

    @classmethod
    def from_settings(cls, settings, network: Network | None = None) -> "Fetcher":
        return cls(int(settings.max_file_mb * 1e6), settings.fetch_timeout,
                   allow_private=settings.allow_private_urls, network=network)

    def check(self, url: str) -> str | None:
        """Why the URL would be refused, without fetching it (None when it may be fetched or cannot be resolved now)."""
        problem = url_problem(url)
        if problem or self.allow_private:
            return problem
        parts = urlsplit(url)
        try:
            self._backend.vet(parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80))
        except Refused as exc:
            return str(exc)
        except httpcore.ConnectError:
            return None  # DNS trouble now is no reason to refuse; the poll will say if it persists
        return None

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched | Skip:
        """The response body (200) or a 304 marker, or a Skip naming the reason in one line."""
        try:
            return self._get(url, etag, last_modified)
        except Refused as exc:
            return Skip(url, str(exc))
        except httpx.HTTPError as exc:
            return Skip(url, f"unreachable ({type(exc).__name__}: {exc})")

    def _get(self, url: str, etag: str, last_modified: str) -> Fetched | Skip:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            problem = url_problem(current)
            if problem:
                return Skip(url, problem if hop == 0 else f"{problem} (redirected to {current})")
            with self._client.stream("GET", current, headers=headers) as resp:
                if resp.status_code in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location", "")
                    if not location:
                        return Skip(url, f"unreachable (HTTP {resp.status_code} without a Location)")
                    current = urljoin(current, location)
                    continue
                if resp.status_code == 304:
                    return Fetched(current, 304, etag=resp.headers.get("etag", etag),
                                   last_modified=resp.headers.get("last-modified", last_modified))
                if resp.status_code >= 400:
                    return Skip(url, f"unreachable (HTTP {resp.status_code})")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    return Skip(url, f"too large ({int(declared) / 1e6:.1f} MB; the limit is {self.max_bytes / 1e6:g} MB)")
                body = self._read(resp, url)
                if isinstance(body, Skip):
                    return body
                return Fetched(current, resp.status_code, body, resp.headers.get("content-type", ""),
                               resp.headers.get("etag", ""), resp.headers.get("last-modified", ""))
        return Skip(url, f"refused: more than {MAX_REDIRECTS} redirects")

    def _read(self, resp: httpx.Response, url: str) -> bytes | Skip:
        # the per-read timeout does not bound a server that trickles bytes; this deadline does
        deadline = time.monotonic() + 3 * self.timeout
        chunks, size = [], 0
        for part in resp.iter_bytes():
            size += len(part)
            if size > self.max_bytes:
                return Skip(url, f"too large (cut off at {self.max_bytes / 1e6:g} MB, the limit)")
            if time.monotonic() > deadline:
                return Skip(url, f"unreachable (the response took longer than {3 * self.timeout:g} s)")
            chunks.append(part)
        return b"".join(chunks)

    def close(self) -> None:
        self._client.close()
