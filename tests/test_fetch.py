"""The fetcher's address rule (ingest/addresses.py) and body limits (ingest/fetch.py): no test touches DNS or leaves
127.0.0.1."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from peers.feed_server import FeedSite, StubNetwork


@pytest.fixture
def site():
    s = FeedSite().start()
    yield s
    s.stop()


@pytest.mark.parametrize("url, said", [
    ("http://[2002:a9fe:a9fe::]/latest/meta-data/", "2002:a9fe:a9fe:: (169.254.169.254) is a link-local address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe (169.254.169.254) is a link-local address"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "(192.0.2.45) is a reserved address"),   # Teredo client
    ("http://[::a9fe:a9fe]/", "(169.254.169.254) is a link-local address"),                   # IPv4-compatible
    ("http://[fec0::1]/", "fec0::1 is a private address"),
    ("http://192.0.0.8/", "192.0.0.8 is a reserved address"),
    ("http://0.0.0.0:{port}/", "0.0.0.0 is an unspecified address"),
    ("http://2130706433:{port}/", "2130706433 (127.0.0.1) is a loopback address"),
    ("http://0x7f.1:{port}/", "0x7f.1 (127.0.0.1) is a loopback address"),
    ("http://127.1:{port}/", "127.1 (127.0.0.1) is a loopback address"),
    ("http://0177.0.0.1:{port}/", "refused: "),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a private address"),
])
@pytest.mark.slow
def test_addresses_python_calls_global_and_legacy_spellings_are_refused(site, url, said):
    from ingest.fetch import Fetcher

    network = StubNetwork({}, site.port)
    got = Fetcher(10**6, 2.0, network=network).get(url.format(port=site.port))
    assert got.reason.startswith("refused: ") and said in got.reason, got
    assert network.connected == [] and site.requests == []


def test_allow_private_does_not_open_link_local_or_cloud_metadata():
    from ingest.addresses import address_problem

    assert address_problem("10.1.2.3", allow_private=True) is None
    assert address_problem("127.0.0.1", allow_private=True) is None
    assert address_problem("fd12::1", allow_private=True) is None
    for metadata in ("169.254.169.254", "2002:a9fe:a9fe::", "::ffff:169.254.169.254", "fe80::1"):
        assert "link-local" in address_problem(metadata, allow_private=True)
        assert address_problem(metadata, allow_private=True, allow_link_local=True) is None
    for never in ("0.0.0.0", "224.0.0.1", "192.0.2.1", "255.255.255.255", "::"):
        assert address_problem(never, allow_private=True, allow_link_local=True), never
    assert address_problem("93.184.216.34") is None and address_problem("2606:4700::1111") is None
    assert address_problem("2002:5db8:d822::") is None          # 6to4 around a public address is public


def test_link_local_switch_comes_from_settings(settings):
    from ingest.fetch import Fetcher

    network = StubNetwork({"metadata.internal": ["169.254.169.254"]}, 1)
    private = settings.model_copy(update={"allow_private_urls": True})
    assert "ALLOW_LINK_LOCAL_URLS" in Fetcher.from_settings(private, network).check("http://metadata.internal/")
    both = private.model_copy(update={"allow_link_local_urls": True})
    assert Fetcher.from_settings(both, network).check("http://metadata.internal/") is None


def test_a_dns_answer_mixing_public_and_private_addresses_is_refused(site):
    from ingest.fetch import Fetcher

    site.add_entry("city", "Tunnel opens", "The tunnel cost 42 million crowns.")
    network = StubNetwork({"mixed.example": ["93.184.216.34", "10.0.0.5"]}, site.port)
    got = Fetcher(10**6, 2.0, network=network).get(f"http://mixed.example:{site.port}/city.xml")
    assert got.reason.startswith("refused: mixed.example resolves to 10.0.0.5 is a private address")
    assert network.connected == [] and site.requests == []


class RawServer:
    """A TCP server on 127.0.0.1 answering every connection with `respond(conn)`: for bodies no http.server sends."""

    def __init__(self, respond):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.respond = respond
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            conn.recv(65536)
            try:
                self.respond(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


def test_streamed_body_without_content_length_is_cut_at_the_size_cap():
    from ingest.fetch import Fetcher

    def chunked(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(200):  # 200 KB, never announced
            conn.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    server = RawServer(chunked)
    try:
        got = Fetcher(50_000, 5.0, allow_private=True).get(f"http://127.0.0.1:{server.port}/big.html")
    finally:
        server.close()
    assert got.reason == "too large (cut off at 0.05 MB, the limit)"


@pytest.mark.slow
def test_a_server_trickling_bytes_is_cut_off_at_the_deadline():
    from ingest.fetch import Fetcher

    def trickle(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(0.05):  # a byte every 50 ms: each read is fast, the whole never ends
            conn.sendall(b"x")

    server = RawServer(trickle)
    started = time.monotonic()
    try:
        got = Fetcher(10**6, 1.0, allow_private=True).get(f"http://127.0.0.1:{server.port}/slow.html")
    finally:
        server.close()
    assert got.reason == "unreachable (the response took longer than 3 s)"
    assert time.monotonic() - started < 10
