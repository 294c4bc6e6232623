"""A news site on 127.0.0.1 whose feeds change while a test runs: RSS feeds with ETag / Last-Modified (answering
If-None-Match with 304), one page per entry, a feed that answers 500, one that hangs, and redirects. It records every
request, so tests can tell what a poll fetched.

    site = FeedSite().start()
    site.add_entry("city", "Tunnel opens", "The tunnel cost 42 million crowns ...")
    url = site.url("/city.xml")
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape


@dataclass
class Entry:
    slug: str
    title: str
    text: str
    published: float


@dataclass
class FeedSite:
    host: str = "127.0.0.1"
    feeds: dict[str, list[Entry]] = field(default_factory=dict)
    requests: list[tuple[str, int, dict]] = field(default_factory=list)   # (path, status, headers)
    hang_seconds: float = 30.0
    missing_pages: set[str] = field(default_factory=set)   # entry slugs whose page answers 404 for now

    def __post_init__(self):
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._modified: dict[str, float] = {}

    # --- content -----------------------------------------------------------------------------
    def add_entry(self, feed: str, title: str, text: str, published: float | None = None) -> Entry:
        with self._lock:
            entries = self.feeds.setdefault(feed, [])
            entry = Entry(f"{feed}-{len(entries) + 1}", title, text, published or time.time())
            entries.append(entry)
            self._modified[feed] = time.time()
            return entry

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def feed_xml(self, feed: str) -> bytes:
        items = "".join(
            f"<item><title>{escape(e.title)}</title><link>{self.url('/a/' + e.slug + '.html')}</link>"
            f"<guid>{e.slug}</guid><pubDate>{formatdate(e.published, usegmt=True)}</pubDate></item>"
            for e in reversed(self.feeds.get(feed, [])))
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(feed.title())} Gazette</title>'
                f"<link>{self.url('/')}</link><description>news</description>{items}</channel></rss>").encode()

    def page(self, slug: str) -> bytes | None:
        for entries in self.feeds.values():
            for e in entries:
                if e.slug == slug:
                    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in e.text.split("\n\n"))
                    return (f"<html><head><title>{escape(e.title)}</title></head><body><article>"
                            f"<h1>{escape(e.title)}</h1>{paragraphs}</article></body></html>").encode()
        return None

    # --- what was asked ----------------------------------------------------------------------
    def hits(self, prefix: str) -> list[tuple[str, int, dict]]:
        with self._lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    # --- serving -----------------------------------------------------------------------------
    def start(self) -> "FeedSite":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                status, body, headers = site._route(self.path, dict(self.headers))
                with site._lock:
                    site.requests.append((self.path, status, dict(self.headers)))
                if status == 0:  # hang without answering
                    site._stopping.wait(site.hang_seconds)
                    self.close_connection = True
                    return
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def _route(self, path: str, headers: dict) -> tuple[int, bytes, dict]:
        parts = urlsplit(path)
        if parts.path == "/broken.xml":
            return 500, b"internal error", {}
        if parts.path == "/hang.xml":
            return 0, b"", {}
        if parts.path == "/redirect":
            return 302, b"", {"Location": parse_qs(parts.query)["to"][0]}
        if parts.path.startswith("/a/") and parts.path.endswith(".html"):
            page = None if parts.path[3:-5] in self.missing_pages else self.page(parts.path[3:-5])
            return (200, page, {"Content-Type": "text/html; charset=utf-8"}) if page else (404, b"not found", {})
        if parts.path.endswith(".xml"):
            feed = parts.path[1:-4]
            with self._lock:
                if feed not in self.feeds:
                    return 404, b"not found", {}
                body = self.feed_xml(feed)
                modified = formatdate(self._modified.get(feed, 0), usegmt=True)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if headers.get("If-None-Match") == etag:
                return 304, b"", {"ETag": etag, "Last-Modified": modified}
            return 200, body, {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": modified}
        return 404, b"not found", {}


class StubNetwork:
    """Resolves names from a table (no DNS) and routes every connection to the loopback site, so a test can serve a
    "public" host from 127.0.0.1 and see the fetcher refuse where the address rule says so."""

    def __init__(self, names: dict[str, list[str]], port: int):
        self.names = names
        self.port = port
        self.connected: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        return self.names.get(host, [])

    def connect(self, address: str, port: int, timeout):
        import httpcore

        self.connected.append(address)
        return httpcore.SyncBackend().connect_tcp("127.0.0.1", self.port, timeout=timeout)
