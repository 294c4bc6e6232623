"""Followed sources: the list and its state (SQLite under the data dir), and one poll of the sources that are due.

A source is a feed, a web page or a folder. A poll is cheap when nothing changed: a URL is fetched with the
validators of the last response (a 304 costs no parsing), a feed's entries are compared by id/link and a hash of
their content so only new or changed entries' pages are fetched (at most FOLLOW_MAX_NEW per poll), a folder's files
by modification time and size. A failing source backs off exponentially, with jitter, and never stops the others.

Who runs the polls, and when, is the front end's business (the bot's JobQueue, `articlebot follow run`); they hand
`poll_due` a `write(items) -> Report` that stores the articles (Engine.add_articles).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.article import Article, Skip
from ingest.fetch import Fetched, Fetcher, url_problem
from ingest.loaders import Loader, is_url

if TYPE_CHECKING:
    from ingest.pipeline import Report

MAX_BACKOFF = 6 * 3600.0  # a source failing for a day is still tried every few hours
POLL_WORKERS = 4  # sources fetched at once; a hanging one holds one worker, not the poll
BACKGROUND_NICE = 10  # polls run at a lower CPU priority than questions
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

SCHEMA = """
CREATE TABLE IF NOT EXISTS follows (
    source TEXT PRIMARY KEY, every REAL NOT NULL, added_at REAL NOT NULL,
    last_check REAL, last_success REAL, last_error TEXT NOT NULL DEFAULT '',
    articles_added INTEGER NOT NULL DEFAULT 0, next_check REAL NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
    etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '', body_hash TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS entries (
    source TEXT NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (source, key));
"""


def lower_priority() -> None:
    """Make the calling thread, and the threads it starts from now on, yield the CPU to the bot's questions (on Linux
    a thread's nice value is its own and new threads inherit it). ONNX Runtime's document session is created by the
    first thread that embeds documents, so its worker threads are lowered too when a poll is that thread
    (vectorstore/embeddings/onnx_backend.py). A no-op where that is not possible."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (AttributeError, OSError):
        pass


class FollowError(ValueError):
    """A source or interval that cannot be followed; the message is one line for the user."""


def parse_every(text: str) -> float:
    """ "30m", "2h", "1d", "45s" -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise FollowError(f"not an interval: {text!r} (use a number and a unit: 45s, 30m, 2h, 1d)")
    return float(m.group(1)) * UNITS[m.group(2)]


def format_every(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def backoff(every: float, failures: int) -> float:
    """Seconds until a source that failed `failures` times in a row is tried again: doubling, capped, jittered so
    that sources failing together do not retry together."""
    delay = min(every * 2 ** min(failures, 20), max(every, MAX_BACKOFF))
    return delay * random.uniform(0.75, 1.25)


def normalise_source(source: str) -> str:
    """The key a source is followed under: a URL as given, a folder as its absolute path."""
    source = source.strip()
    if is_url(source):
        problem = url_problem(source)
        if problem:
            raise FollowError(f"{source}: {problem}")
        return source
    if "://" in source:
        raise FollowError(f"{source}: refused: only http and https URLs are fetched")
    path = Path(source).expanduser()
    if not path.is_dir():
        raise FollowError(f"{source}: not a feed or page URL (http/https) nor an existing folder")
    return str(path.resolve())


@dataclass
class Followed:
    source: str
    every: float
    added_at: float
    last_check: float | None = None
    last_success: float | None = None
    last_error: str = ""
    articles_added: int = 0
    next_check: float = 0.0
    failures: int = 0
    etag: str = ""
    last_modified: str = ""
    body_hash: str = ""

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "every": format_every(self.every),
            "last_check": _iso(self.last_check),
            "last_success": _iso(self.last_success),
            "last_error": self.last_error,
            "articles_added": self.articles_added,
            "next_check": _iso(self.next_check),
            "failures": self.failures,
        }


def _iso(ts: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


@dataclass
class PollResult:
    source: str
    outcome: str  # "new", "unchanged", "not modified", "failed"
    added: int = 0  # articles stored (new or changed)
    waiting: int = 0  # new entries left for the next poll (the per-poll cap)
    skipped: list[Skip] = field(default_factory=list)
    error: str = ""
    next_check: float = 0.0
    embedded: int = 0  # chunks embedded

    def line(self) -> str:
        if self.outcome == "failed":
            return f"{self.source}: failed: {self.error}; next try in {_until(self.next_check)}"
        text = {"not modified": "not modified (304)", "unchanged": "no new articles"}.get(self.outcome)
        if text is None:
            text = f"{self.added} new or changed article{'s' if self.added != 1 else ''}"
            if self.waiting:
                text += f", {self.waiting} more waiting for the next poll"
        if self.skipped:
            text += f", {len(self.skipped)} skipped ({self.skipped[0].source}: {self.skipped[0].reason})"
        return f"{self.source}: {text}"


def _until(ts: float) -> str:
    left = max(0.0, ts - time.time())
    return format_every(round(left)) if left >= 1 else "a moment"


class FollowList:
    """The followed sources and what was seen of them, in `<data dir>/follow.sqlite3` (a restart keeps it all).

    A connection per call: the bot's poll thread, its event loop and a CLI process may all use the file at once.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    def _db(self) -> _Closing:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        return _Closing(db)

    def add(self, source: str, every: float, now: float | None = None) -> tuple[Followed, bool]:
        """Follow a source (checked at once); a source already followed gets the new interval. (entry, was new).

        One statement decides "new": two adds of one source at once (the bot and the CLI, two admins) both succeed
        and exactly one of them is new."""
        now = time.time() if now is None else now
        with self._db() as db:
            new = (
                db.execute(
                    "INSERT INTO follows (source, every, added_at, next_check) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(source) DO NOTHING",
                    (source, every, now, now),
                ).rowcount
                == 1
            )
            if not new:
                db.execute("UPDATE follows SET every = ? WHERE source = ?", (every, source))
        followed = self.get(source)
        if followed is None:  # removed in the instant between the two statements: follow it again
            return self.add(source, every, now)
        return followed, new

    def seed(self, sources: Iterable[str], every: float) -> list[str]:
        """Add the FOLLOW= sources not yet followed; returns the problems (one line each), never raises."""
        problems = []
        for raw in sources:
            try:
                source = normalise_source(raw)
            except FollowError as exc:
                problems.append(f"FOLLOW: {exc}")
                continue
            if self.get(source) is None:
                self.add(source, every)
        return problems

    def remove(self, source: str) -> bool:
        with self._db() as db:
            gone = db.execute("DELETE FROM follows WHERE source = ?", (source,)).rowcount
            db.execute("DELETE FROM entries WHERE source = ?", (source,))
        return bool(gone)

    def get(self, source: str) -> Followed | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM follows WHERE source = ?", (source,)).fetchone()
        return Followed(**dict(row)) if row else None

    def all(self) -> list[Followed]:
        with self._db() as db:
            return [Followed(**dict(r)) for r in db.execute("SELECT * FROM follows ORDER BY added_at, source")]

    def due(self, now: float | None = None) -> list[Followed]:
        now = time.time() if now is None else now
        return [f for f in self.all() if f.next_check <= now]

    def reschedule(self, source: str, next_check: float) -> None:
        with self._db() as db:
            db.execute("UPDATE follows SET next_check = ? WHERE source = ?", (next_check, source))

    def next_due(self) -> float | None:
        with self._db() as db:
            row = db.execute("SELECT MIN(next_check) FROM follows").fetchone()
        return row[0]

    def seen(self, source: str) -> dict[str, str]:
        with self._db() as db:
            return {
                r["key"]: r["hash"] for r in db.execute("SELECT key, hash FROM entries WHERE source = ?", (source,))
            }

    def save(self, f: Followed, seen: dict[str, str], *, replace_seen: bool = False, added: int = 0) -> bool:
        """A poll's outcome; `seen` entries are added (or, with replace_seen, become the whole set), `added` articles
        counted on top of what the row holds (another process may have counted its own meanwhile). A source removed
        while it was polled stays removed: nothing is written and False is returned."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            kept = (
                db.execute(
                    "UPDATE follows SET last_check=?, last_success=?, last_error=?, "
                    "articles_added=articles_added + ?, next_check=?, failures=?, etag=?, last_modified=?, "
                    "body_hash=? WHERE source=?",
                    (
                        f.last_check,
                        f.last_success,
                        f.last_error,
                        added,
                        f.next_check,
                        f.failures,
                        f.etag,
                        f.last_modified,
                        f.body_hash,
                        f.source,
                    ),
                ).rowcount
                == 1
            )
            if not kept:
                db.execute("ROLLBACK")
                return False
            if replace_seen:
                db.execute("DELETE FROM entries WHERE source = ?", (f.source,))
            db.executemany(
                "INSERT OR REPLACE INTO entries (source, key, hash) VALUES (?, ?, ?)",
                [(f.source, k, h) for k, h in seen.items()],
            )
            db.execute("COMMIT")
        return True


class _Closing:
    """sqlite3's context manager commits but does not close; this one closes."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()

    def executescript(self, script: str):
        return self.db.executescript(script)


@dataclass
class _Collected:
    """What one source's fetch produced, before anything is written."""

    followed: Followed
    items: list[Article | Skip] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # entry key -> hash, to record once written
    links: dict[str, str] = field(default_factory=dict)  # entry link -> key (a failed page keeps its entry new)
    current: set[str] | None = None  # every key in the feed now (to forget old ones)
    waiting: int = 0
    error: str = ""
    not_modified: bool = False
    validators: tuple[str, str, str] = ("", "", "")  # etag, last-modified, body hash


def _entry_hash(entry) -> str:
    # dict.get: feedparser's own get maps a missing "updated" to "published" with a DeprecationWarning
    parts = [
        dict.get(entry, "title", ""),
        dict.get(entry, "link", ""),
        dict.get(entry, "summary", ""),
        dict.get(entry, "updated", ""),
        dict.get(entry, "published", ""),
        [c.get("value", "") for c in entry.get("content", [])],
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


class Following:
    """The list plus one poll. `poll_due(write)` is what a scheduler calls."""

    def __init__(self, settings, fetcher: Fetcher | None = None):
        self.settings = settings
        self.list = FollowList(Path(settings.data_dir) / "follow.sqlite3")
        self.fetcher = fetcher or Fetcher.from_settings(settings)
        self.loader = Loader(int(settings.max_file_mb * 1e6), settings.fetch_timeout, fetcher=self.fetcher)
        self.every = parse_every(settings.follow_every)
        self.seed_problems = self.list.seed(settings.follow, self.every)
        self._stopped = threading.Event()

    def close(self) -> None:
        """Stop: sources not yet fetched are left for the next start, requests in flight are cut."""
        self._stopped.set()
        self.fetcher.close()

    def add(self, source: str, every: str | None = None) -> tuple[Followed, bool]:
        """Follow a source (FollowError with one line when it cannot be: a bad interval, a refused URL ...)."""
        key, seconds = normalise_source(source), parse_every(every) if every else self.every
        problem = self.fetcher.check(key) if is_url(key) else None
        if problem:
            raise FollowError(f"{key}: {problem}")
        followed, new = self.list.add(key, seconds)
        if not new and every and not followed.failures and followed.last_check:
            # a new interval counts from the last check (a failing source keeps its back-off)
            self.list.reschedule(key, followed.last_check + seconds)
            followed = self.list.get(key) or followed
        return followed, new

    def remove(self, source: str) -> bool:
        try:
            key = normalise_source(source)
        except FollowError:
            key = source.strip()  # a folder that no longer exists can still be unfollowed
        return self.list.remove(key) or self.list.remove(str(Path(source).expanduser().absolute()))

    # --- one poll ----------------------------------------------------------------------------
    def poll_due(
        self, write: Callable[[list[Article]], Report], now: float | None = None, sources: list[Followed] | None = None
    ) -> list[PollResult]:
        """Fetch the due sources (a few at once) and write each one's new articles as soon as it is fetched.

        The calling thread and the fetch workers run at a lower CPU priority (lower_priority): call this from a
        thread of its own, not one that also serves questions."""
        due = self.list.due(now) if sources is None else sources
        if not due:
            return []
        lower_priority()
        results = []
        with ThreadPoolExecutor(
            max_workers=min(POLL_WORKERS, len(due)), thread_name_prefix="articlebot-follow", initializer=lower_priority
        ) as pool:
            for collected in pool.map(self._collect, due):
                if self._stopped.is_set():
                    break  # nothing is recorded: the source is due again at the next start
                results.append(self._commit(collected, write))
        return results

    def _collect(self, f: Followed) -> _Collected:
        c = _Collected(f)
        if self._stopped.is_set():
            c.error = "stopped before it was fetched"
            return c
        try:
            if is_url(f.source):
                self._collect_url(c)
            else:
                self._collect_folder(c)
        except Exception as exc:  # noqa: BLE001 - one source's bug must not stop the poll; the operator sees it
            c.error = f"{type(exc).__name__}: {exc}"
        return c

    def _collect_url(self, c: _Collected) -> None:
        f = c.followed
        got = self.fetcher.get(f.source, f.etag, f.last_modified)
        if isinstance(got, Skip):
            c.error = got.reason
            return
        assert isinstance(got, Fetched)
        if got.status == 304:
            c.not_modified = True
            c.validators = (got.etag, got.last_modified, f.body_hash)
            return
        body_hash = hashlib.sha256(got.body).hexdigest()[:24]
        c.validators = (got.etag, got.last_modified, body_hash)
        if body_hash == f.body_hash:  # a server without validators sent the same bytes again
            return
        seen = self.list.seen(f.source)
        current: set[str] = set()
        c.current = current
        cap = self.settings.follow_max_new

        def want(entry) -> bool:
            key = entry.get("id") or entry.get("link") or entry.get("title", "")
            h = _entry_hash(entry)
            current.add(key)
            if seen.get(key) == h:
                return False
            if len(c.seen) >= cap:
                c.waiting += 1
                return False
            c.seen[key] = h
            if entry.get("link"):
                c.links[entry["link"]] = key
            return True

        c.items = list(self.loader.from_response(f.source, got.body, got.content_type, want=want))
        if c.waiting:
            c.validators = ("", "", "")  # the next poll must read the feed again for the entries left waiting

    def _collect_folder(self, c: _Collected) -> None:
        folder = Path(c.followed.source)
        if not folder.is_dir():
            c.error = "no such folder"
            return
        seen = self.list.seen(c.followed.source)
        c.current = set()
        for path in self.loader.expand(str(folder)):
            if isinstance(path, Skip):
                continue  # an unsupported file: reported by `articlebot ingest`, not on every poll
            try:
                st = Path(path).stat()
            except OSError:
                continue
            sig = f"{st.st_mtime_ns}:{st.st_size}"
            c.current.add(path)
            if seen.get(path) == sig:
                continue
            c.seen[path] = sig
            c.items.extend(self.loader.load(path))

    def _commit(self, c: _Collected, write: Callable[[list[Article]], Report]) -> PollResult:
        f = c.followed
        now = time.time()
        f.last_check = now
        result = PollResult(f.source, "unchanged", waiting=c.waiting)
        if not c.error:
            # a page that could not be fetched leaves its entry unseen, so the next poll tries it again
            skipped = [i for i in c.items if isinstance(i, Skip)]
            for s in skipped:
                if c.seen.pop(c.links.get(s.source, ""), None) is not None:
                    c.validators = ("", "", "")  # not a 304 next time: the feed must be read again to retry it
            articles = [i for i in c.items if isinstance(i, Article)]
            if articles:
                try:
                    report = write(articles)
                except Exception as exc:  # noqa: BLE001 - e.g. the store went away: try again later
                    c.error = f"could not store the articles ({type(exc).__name__}: {exc})"
                else:
                    result.added = report.ingested + report.replaced
                    result.embedded = report.chunks
                    result.skipped = skipped + list(report.skipped)
                    result.outcome = "new" if result.added else "unchanged"
            else:
                result.skipped = skipped
        if c.error:
            f.failures += 1
            f.last_error = c.error
            f.next_check = now + backoff(f.every, f.failures)
            self.list.save(f, {})
            result.outcome, result.error, result.next_check = "failed", c.error, f.next_check
            return result
        if c.not_modified:
            result.outcome = "not modified"
        f.etag, f.last_modified, f.body_hash = c.validators
        f.failures, f.last_success = 0, now
        f.last_error = (
            f"{len(result.skipped)} skipped: {result.skipped[0].source}: {result.skipped[0].reason}"
            if result.skipped
            else ""
        )
        f.articles_added += result.added
        f.next_check = now + f.every
        replace = c.current is not None and not c.waiting and not c.not_modified
        seen = c.seen
        if replace:  # forget entries no longer in the feed (or files gone), so the table stays the feed's size
            assert c.current is not None  # part of `replace`
            old = self.list.seen(f.source)
            seen = {k: old[k] for k in c.current if k in old} | c.seen
        self.list.save(f, seen, replace_seen=replace, added=result.added)
        result.next_check = f.next_check
        return result
