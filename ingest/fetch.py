"""The one fetcher for every URL articlebot opens (pages, feeds, /ingest, followed sources).

The rules live here once:
- only http(s); at most MAX_REDIRECTS redirects, each hop checked like the first;
- the host is resolved and the connection made to the checked address (so a name cannot resolve to a public
  address for the check and to a private one for the connection); every address of a name must pass the address
  rule (ingest/addresses.py: an explicit list of denied ranges, IPv4 inside IPv6 and legacy spellings decoded;
  ALLOW_PRIVATE_URLS and ALLOW_LINK_LOCAL_URLS open some of them);
- a User-Agent naming the bot, a timeout per request and a wall-clock bound on the whole body, and a size cap;
- conditional GET: given the ETag / Last-Modified of the last response, an unchanged resource is a 304 with no body.

Bad URLs never raise: the caller gets a Skip with one line saying why.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ingest.addresses import address_problem, hint, parse_address
from ingest.article import Skip

USER_AGENT = "articlebot/0.1 (news question-answering bot; feed and page fetcher)"
MAX_REDIRECTS = 5


class Refused(Exception):
    """A URL articlebot will not open; the message is the one line the user sees."""


class Network(Protocol):
    """Name resolution and TCP connections: the system's, or a stub in tests (no test touches DNS)."""

    def resolve(self, host: str, port: int) -> list[str]: ...

    def connect(self, address: str, port: int, timeout: float | None) -> httpcore.NetworkStream: ...


class SystemNetwork:
    def __init__(self) -> None:
        self._tcp = httpcore.SyncBackend()

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc.strerror or exc})") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    def connect(self, address: str, port: int, timeout: float | None) -> httpcore.NetworkStream:
        return self._tcp.connect_tcp(address, port, timeout=timeout)


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses that pass the rule; the name is resolved once, here, and the checked address used."""

    def __init__(self, network: Network, allow_private: bool, allow_link_local: bool = False):
        self.network = network
        self.allow_private = allow_private
        self.allow_link_local = allow_link_local

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.vet(host, port):
            try:
                return self.network.connect(address, port, timeout)
            except httpcore.ConnectTimeout:
                raise
            except (OSError, httpcore.ConnectError) as exc:
                error = exc
        raise httpcore.ConnectError(str(error))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable | None = None
    ) -> httpcore.NetworkStream:
        raise Refused("refused: unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, or Refused."""
        literal = parse_address(host)
        addresses = [str(literal)] if literal is not None else self.network.resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        for address in addresses:  # every answer, so a mixed public/private answer cannot slip through
            # a legacy IPv4 spelling is shown as written, with the address it means
            said = host if literal is not None and literal.version == 4 else address
            problem = address_problem(said, allow_private=self.allow_private, allow_link_local=self.allow_link_local)
            if problem:
                raise Refused(
                    f"refused: {problem} ({hint(problem)})"
                    if literal is not None
                    else f"refused: {host} resolves to {problem} ({hint(problem)})"
                )
        return addresses


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's (same names), as httpx's own transport does."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TimeoutException)(str(exc)) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc)) from exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        self._stream.close()


class _Transport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool with the guarded network backend (httpx's HTTPTransport takes no
    backend), built on the public httpcore API only."""

    def __init__(self, backend: _GuardedBackend):
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=backend,
            max_connections=20,
            max_keepalive_connections=10,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            resp = self._pool.handle_request(core)
        return httpx.Response(
            status_code=resp.status, headers=resp.headers, stream=_Body(resp.stream), extensions=resp.extensions
        )

    def close(self) -> None:
        self._pool.close()


@dataclass
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when the validators said unchanged
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

    def __init__(
        self,
        max_bytes: int,
        timeout: float,
        *,
        allow_private: bool = False,
        allow_link_local: bool = False,
        network: Network | None = None,
    ):
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.allow_private = allow_private
        self._backend = _GuardedBackend(network or SystemNetwork(), allow_private, allow_link_local)
        self._client = httpx.Client(
            transport=_Transport(self._backend),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    @classmethod
    def from_settings(cls, settings, network: Network | None = None) -> Fetcher:
        return cls(
            int(settings.max_file_mb * 1e6),
            settings.fetch_timeout,
            allow_private=settings.allow_private_urls,
            allow_link_local=settings.allow_link_local_urls,
            network=network,
        )

    def check(self, url: str) -> str | None:
        """Why the URL would be refused, without fetching it (None when it may be fetched or cannot be resolved now)."""
        problem = url_problem(url)
        if problem:
            return problem
        parts = urlsplit(url)
        try:
            self._backend.vet(parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80))
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
        except httpx.InvalidURL as exc:  # e.g. 0177.0.0.1, which httpx will not read as an address
            return Skip(url, f"refused: not a valid URL ({exc})")
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
                    return Fetched(
                        current,
                        304,
                        etag=resp.headers.get("etag", etag),
                        last_modified=resp.headers.get("last-modified", last_modified),
                    )
                if resp.status_code >= 400:
                    return Skip(url, f"unreachable (HTTP {resp.status_code})")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    return Skip(
                        url, f"too large ({int(declared) / 1e6:.1f} MB; the limit is {self.max_bytes / 1e6:g} MB)"
                    )
                body = self._read(resp, url)
                if isinstance(body, Skip):
                    return body
                return Fetched(
                    current,
                    resp.status_code,
                    body,
                    resp.headers.get("content-type", ""),
                    resp.headers.get("etag", ""),
                    resp.headers.get("last-modified", ""),
                )
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
