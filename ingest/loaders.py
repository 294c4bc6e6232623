"""Turn ingest arguments (files, folders, page and feed URLs) into Articles, or one Skip line per bad input.

Loaders never raise for bad input: whatever cannot be read becomes a Skip with a reason, and the rest goes on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ingest import collection
from ingest.article import Article, Skip
from ingest.datelines import stated_date, stated_outlet
from ingest.decoding import decode_bytes, looks_binary

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | {".pdf"}

Item = Article | Skip


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def normalise_date(value: object) -> str:
    """Any date-ish value to YYYY-MM-DD, or "" when it is not a date."""
    if not value:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (tuple, list)) and len(value) >= 3:  # feedparser's time.struct_time
        try:
            return dt.date(*map(int, value[:3])).isoformat()
        except (TypeError, ValueError):
            return ""
    from dateutil import parser

    try:
        return parser.parse(str(value).replace("/", "-") if len(str(value)) == 10 else str(value)).date().isoformat()
    except (ValueError, OverflowError, TypeError):
        return ""


def host_of(url: str) -> str:
    host = urlparse(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


class Loader:
    """Reads sources within the limits Settings gives (size, time)."""

    def __init__(
        self, max_bytes: int, fetch_timeout: float, fetcher=None, on_found: Callable[[int], None] | None = None
    ):
        from ingest.fetch import Fetcher

        self.max_bytes = max_bytes
        self.fetch_timeout = fetch_timeout
        # every URL goes through the one fetcher (SSRF rule, redirects, size cap); private addresses refused by default
        self.fetcher = fetcher or Fetcher(max_bytes, fetch_timeout)
        self.on_found = on_found or (lambda n: None)  # more work found than count() said: a feed's entries

    # --- discovery ---------------------------------------------------------------------------
    def expand(self, source: str) -> Iterator[str | Skip]:
        """A folder becomes its supported files (recursively, hidden ones skipped); anything else passes through."""
        if is_url(source):
            yield source
            return
        path = Path(source).expanduser()
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    file = Path(root) / name
                    if file.suffix.lower() in SUPPORTED or collection.is_collection(file):
                        yield str(file.resolve())
                    else:
                        yield Skip(str(file), f"unsupported file type {file.suffix or '(none)'}")
        elif path.exists():
            yield str(path.resolve())
        else:
            yield Skip(source, "no such file or folder")

    def count(self, item: str) -> int:
        """How many articles or skips loading an expanded item gives, where that is known without fetching: a JSON
        file's objects (read twice, which costs little beside embedding them), 1 for anything else; a feed reports
        its further entries through on_found once it is fetched."""
        if is_url(item) or Path(item).suffix.lower() not in JSON_SUFFIXES and not collection.is_collection(Path(item)):
            return 1
        try:
            if collection.is_collection(Path(item)):  # a line is an article or a skip: no need to parse it
                got = list(itertools.islice(collection.lines(Path(item), self.max_bytes), 1))
                if not got or isinstance(got[0], tuple) and looks_binary(got[0][1]):
                    return 1  # "empty file", "binary file": one skip
                return sum(1 for _ in collection.lines(Path(item), self.max_bytes))
            return sum(1 for _ in self._load_file(Path(item)))
        except Exception:  # load() turns the same failure into one Skip
            return 1

    def load(self, source: str) -> Iterator[Item]:
        try:
            if is_url(source):
                yield from self._load_url(source)
            else:
                yield from self._load_file(Path(source))
        except Exception as exc:  # a loader bug must not stop the run; the operator sees the reason
            yield Skip(source, f"could not be read ({type(exc).__name__}: {exc})")

    # --- files -------------------------------------------------------------------------------
    def _load_file(self, path: Path) -> Iterator[Item]:
        try:
            size = path.stat().st_size
        except OSError as exc:
            yield Skip(str(path), f"unreadable ({exc.strerror or exc})")
            return
        if collection.is_collection(path):  # many articles: the limit is each one's (ingest/collection.py)
            yield from self._collection(path)
            return
        if size > self.max_bytes:
            yield Skip(str(path), f"too large ({size / 1e6:.1f} MB; the limit is {self.max_bytes / 1e6:.0f} MB)")
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield Skip(str(path), f"unreadable ({exc.strerror or exc})")
            return
        if not data.strip():
            yield Skip(str(path), "empty file")
            return
        suffix = path.suffix.lower()
        base = self._file_base(path)
        if suffix == ".pdf":
            yield from self._pdf(data, base)
            return
        if looks_binary(data):
            yield Skip(str(path), "binary file, not text")
            return
        text = decode_bytes(data)
        if suffix in JSON_SUFFIXES:
            yield from self._json(text, base)
        elif suffix in HTML_SUFFIXES:
            yield self._html(text, base, url="")
        else:
            yield self._plain(text, base, markdown=suffix in {".md", ".markdown"})

    @staticmethod
    def _file_base(path: Path) -> Article:
        """What every article of a file starts from: its path, and its modification time as a date of last resort."""
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()
        return Article(
            text="", path=str(path), source_key=str(path), origin=str(path), published=mtime, published_from="file-time"
        )

    def _collection(self, path: Path) -> Iterator[Item]:
        """A JSON-lines collection, a line at a time: one article, or one Skip, per line."""
        base = self._file_base(path)
        empty = first = True
        try:
            for got in collection.lines(path, self.max_bytes):
                empty = False
                if isinstance(got, collection.Oversize):
                    yield Skip(
                        f"{path}:{got.number}",
                        f"article too large ({got.size / 1e6:.3g} MB; the limit is {self.max_bytes / 1e6:g} MB "
                        "per article)",
                    )
                    continue
                number, line = got
                if looks_binary(line):
                    yield Skip(str(path), "binary file, not text")
                    return
                opening, first = first, False
                try:
                    obj = json.loads(decode_bytes(line))
                except json.JSONDecodeError as exc:
                    if opening and line.lstrip()[:1] in (b"{", b"[") and path.stat().st_size <= self.max_bytes:
                        # not JSON lines after all but one pretty-printed object or list, as a .json file holds
                        with collection.open_collection(path) as fh:
                            yield from self._json(decode_bytes(fh.read()), base)
                        return
                    yield Skip(f"{path}:{number}", f"malformed JSON line ({exc.msg})")
                    continue
                for i, one in enumerate(obj if isinstance(obj, list) else [obj]):  # a line may hold a list
                    yield self._from_object(
                        one, f"line {number}" + (f" item {i + 1}" if isinstance(obj, list) else ""), base
                    )
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; EOFError: cut off mid-stream
            yield Skip(str(path), f"unreadable compressed file ({type(exc).__name__}: {exc})")
            return
        if empty:
            yield Skip(str(path), "empty file")

    def _plain(self, text: str, base: Article, markdown: bool) -> Item:
        lines = text.strip().split("\n")
        first = lines[0].strip().lstrip("#").strip() if lines else ""
        # A short first line is the headline; otherwise the file name is the best title there is.
        if first and len(first) <= 200 and (len(lines) > 1):
            title, body = first, "\n".join(lines[1:])
        else:
            title, body = Path(base.path).stem.replace("_", " ").replace("-", " "), text
        if not body.strip():
            return Skip(base.path, "no article text")
        base = base.with_(outlet=base.outlet or stated_outlet(body))
        stated = stated_date(body, base.published) if base.published_from == "file-time" else ""
        if stated:  # a "Published ..." line or dateline beats the day the file was copied
            return base.with_(text=body, title=title, published=stated, published_from="article")
        return base.with_(text=body, title=title)

    def _html(self, html: str, base: Article, url: str) -> Item:
        import trafilatura

        doc = trafilatura.bare_extraction(
            html, url=url or None, with_metadata=True, include_comments=False, include_tables=True
        )
        assert not isinstance(doc, dict)  # a dict only with as_dict=True
        where = url or base.path
        if doc is None or not (doc.text or "").strip():
            return Skip(where, "no article text found (malformed, empty or not an article page)")
        text = (doc.text or "").strip()
        title = (doc.title or "").strip()
        if title and text.startswith(title):
            text = text[len(title) :].lstrip()
        published = normalise_date(doc.date)
        return base.with_(
            text=text,
            title=title or base.title or Path(base.path).stem,
            url=url or "",
            outlet=(doc.sitename or "").strip() or (host_of(url) if url else ""),
            author=(doc.author or "").strip(),
            published=published or base.published,
            published_from="article" if published else base.published_from,
        )

    def _pdf(self, data: bytes, base: Article) -> Iterator[Item]:
        import io
        import logging

        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                yield Skip(base.path, "encrypted PDF")
                return
            text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
            info: Mapping[str, Any] = reader.metadata or {}
        except Exception as exc:
            yield Skip(base.path, f"unreadable PDF ({type(exc).__name__}: {exc})")
            return
        if not text.strip():
            yield Skip(base.path, "PDF has no extractable text (scanned image?)")
            return
        item = self._plain(text, base, markdown=False)
        title = (info.get("/Title") or "").strip() if isinstance(info.get("/Title"), str) else ""
        if isinstance(item, Article):
            if title:
                item = item.with_(title=title, text=text)
            author = info.get("/Author")
            if isinstance(author, str) and author.strip():
                item = item.with_(author=author.strip())
        yield item

    def _json(self, text: str, base: Article) -> Iterator[Item]:
        """A JSON list/object, or JSON lines: one article per object with title and text."""
        stripped = text.lstrip()
        objects: list[tuple[str, object]] = []
        if stripped.startswith("["):
            try:
                objects = [(f"item {i + 1}", o) for i, o in enumerate(json.loads(text))]
            except json.JSONDecodeError as exc:
                yield Skip(base.path, f"malformed JSON ({exc})")
                return
        else:
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    objects.append((f"line {n}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    if n == 1 and stripped.startswith("{"):
                        try:  # one pretty-printed object
                            objects = [("object", json.loads(text))]
                            break
                        except json.JSONDecodeError:
                            pass
                    yield Skip(f"{base.path}:{n}", f"malformed JSON line ({exc.msg})")
        for where, obj in objects:
            yield self._from_object(obj, where, base)

    @staticmethod
    def _from_object(obj: object, where: str, base: Article) -> Item:
        """One JSON object (an article with title and text) as an Article, or the Skip saying what it lacks."""
        if not isinstance(obj, dict):
            return Skip(f"{base.path} {where}", "not a JSON object")
        body = obj.get("text") or obj.get("content") or obj.get("body")
        if not isinstance(body, str) or not body.strip():
            return Skip(f"{base.path} {where}", "no text field")
        url = str(obj.get("url") or obj.get("link") or "")
        ident = url or str(obj.get("id") or where)
        published = normalise_date(obj.get("published") or obj.get("date"))
        return base.with_(
            text=body,
            title=str(obj.get("title") or "").strip() or Path(base.path).stem,
            url=url,
            outlet=str(obj.get("source") or obj.get("outlet") or obj.get("site") or (host_of(url) if url else "")),
            author=str(obj.get("author") or ""),
            source_key=f"{base.path}#{ident}",
            published=published or base.published,
            published_from="json" if published else base.published_from,
        )

    # --- the web -----------------------------------------------------------------------------
    def fetch(self, url: str) -> tuple[bytes, str] | Skip:
        got = self.fetcher.get(url)
        return got if isinstance(got, Skip) else (got.body, got.content_type)

    def _load_url(self, url: str) -> Iterator[Item]:
        got = self.fetch(url)
        if isinstance(got, Skip):
            yield got
            return
        yield from self.from_response(url, *got)

    def from_response(self, url: str, data: bytes, ctype: str, want=None) -> Iterator[Item]:
        """Articles from a fetched page or feed; `want(entry)` picks a feed's entries (following takes new ones)."""
        if not data.strip():
            yield Skip(url, "empty response")
            return
        head = data[:1024].lstrip().lower()
        if (
            any(t in ctype for t in ("rss", "atom"))
            or head.startswith(b"<?xml")
            and (b"<rss" in data[:2048].lower() or b"<feed" in data[:2048].lower())
            or head.startswith((b"<rss", b"<feed", b"<rdf"))
        ):
            yield from self._feed(data, url, want)
            return
        if looks_binary(data):
            yield Skip(url, f"not a web page ({ctype or 'binary'})")
            return
        yield self._html(decode_bytes(data), Article(text="", source_key=url, origin=url), url=url)

    def _feed(self, data: bytes, feed_url: str, want=None) -> Iterator[Item]:
        import feedparser

        feed = feedparser.parse(data)
        if not feed.entries:
            yield Skip(feed_url, "feed has no entries" + (" (malformed feed)" if feed.bozo else ""))
            return
        outlet = (feed.feed.get("title") or host_of(feed_url)).strip()
        self.on_found(len(feed.entries) - 1)  # the feed URL was counted as one
        for entry in feed.entries:
            if want is not None and not want(entry):
                continue
            link = entry.get("link") or ""
            published = normalise_date(entry.get("published_parsed") or entry.get("updated_parsed"))
            base = Article(
                text="",
                url=link,
                source_key=link or f"{feed_url}#{entry.get('id', '')}",
                origin=feed_url,
                outlet=outlet,
                title=(entry.get("title") or "").strip(),
                published=published,
                published_from="feed" if published else "",
                author=entry.get("author", ""),
            )
            page = self.fetch(link) if link else Skip(feed_url, "feed entry without a link")
            if isinstance(page, Skip):
                yield Skip(page.source, page.reason)
                continue
            item = self._html(decode_bytes(page[0]), base, url=link)
            if isinstance(item, Article):
                # The feed's title and date are the publisher's own; the page's may be missing or generic.
                page_outlet = item.outlet if item.outlet not in (host_of(link), urlparse(link).netloc) else ""
                item = item.with_(
                    title=base.title or item.title,
                    outlet=page_outlet or outlet,
                    published=item.published if item.published_from == "article" else base.published or item.published,
                    published_from=item.published_from if item.published_from == "article" else base.published_from,
                    origin=feed_url,
                )
            yield item
