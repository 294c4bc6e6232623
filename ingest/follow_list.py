"""The followed sources and what was seen of them: the list and its state in SQLite under the data dir, the interval
syntax ("30m", "2h") and the back-off of a failing source. One poll of the sources that are due is ingest/follow.py.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.fetch import url_problem
from ingest.loaders import is_url

MAX_BACKOFF = 6 * 3600.0  # a source failing for a day is still tried every few hours
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
