"""Watched topics and their alerts: `/watch ferry strike` in a chat (or `articlebot watch add` for the terminal),
and, each time new articles reach the collection, one alert per new article that matches, sent once.

The state (news.sqlite3): the watches; every match found (watch, article), which is what makes an alert go out once,
across restarts; and per consumer (the bot, `follow run`) and collection the ingest time up to which new articles
have been looked at. Only articles stored after a watch was made are news to it. At most WATCH_ALERTS_PER_HOUR
alerts a watch an hour go out one by one; the rest of a look's matches are summed up in one line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.news.articles import NewArticle, new_articles
from bot.news.db import Database
from bot.news.matching import MAX_TOPIC_CHARS, Match, matches

TERMINAL = 0  # the chat id of watches made with `articlebot watch add`: printed by `articlebot follow run`
MAX_WATCHES = 20  # per chat: each watch costs a retrieval whenever new articles arrive

SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chat INTEGER NOT NULL, topic TEXT NOT NULL, collection TEXT NOT NULL,
    created_at REAL NOT NULL, UNIQUE (chat, collection, topic));
CREATE TABLE IF NOT EXISTS matches (
    watch INTEGER NOT NULL, article TEXT NOT NULL, at REAL NOT NULL, sent INTEGER NOT NULL,
    PRIMARY KEY (watch, article));
CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""


class WatchError(ValueError):
    """A topic that cannot be watched; the message is one line for the user."""


@dataclass
class Watch:
    id: int
    chat: int
    topic: str
    collection: str
    created_at: float


@dataclass
class Alert:
    """One new article on a watched topic, with the sentence that matched."""

    watch: Watch
    match: Match


@dataclass
class Overflow:
    """The matches of one scan past the hourly limit, summed up in one line."""

    watch: Watch
    articles: list[NewArticle] = field(default_factory=list)
    limit: int = 0


def clean_topic(topic: str) -> str:
    topic = " ".join(topic.split())
    if not topic:
        raise WatchError("Say what to watch, e.g. /watch ferry strike")
    if len(topic) > MAX_TOPIC_CHARS:
        raise WatchError(f"A topic is a few words (at most {MAX_TOPIC_CHARS} characters).")
    return topic


class Watches:
    def __init__(self, data_dir, alerts_per_hour: int = 5):
        self.db = Database(data_dir, SCHEMA)
        self.alerts_per_hour = max(alerts_per_hour, 0)
        self._scanning = threading.Lock()  # one scan at a time per process: a write and the periodic look may race

    # --- the list ----------------------------------------------------------------------------
    def add(self, chat: int, topic: str, collection: str, now: float | None = None) -> tuple[Watch, bool]:
        """Watch a topic in a chat (WatchError with one line when it cannot be); (watch, was new)."""
        topic = clean_topic(topic)
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT * FROM watches WHERE chat = ? AND collection = ? AND lower(topic) = lower(?)",
                (chat, collection, topic),
            ).fetchone()
            if row is not None:
                db.execute("ROLLBACK")
                return Watch(**dict(row)), False
            count = db.execute("SELECT COUNT(*) FROM watches WHERE chat = ?", (chat,)).fetchone()[0]
            if count >= MAX_WATCHES:
                db.execute("ROLLBACK")
                raise WatchError(f"This chat watches {count} topics already, the most it may; /unwatch one first.")
            at = time.time() if now is None else now
            cur = db.execute(
                "INSERT INTO watches (chat, topic, collection, created_at) VALUES (?, ?, ?, ?)",
                (chat, topic, collection, at),
            )
            db.execute("COMMIT")
        return Watch(int(cur.lastrowid or 0), chat, topic, collection, at), True

    def all(self, chat: int | None = None, collection: str | None = None) -> list[Watch]:
        query, args = "SELECT * FROM watches WHERE 1", list[object]()
        if chat is not None:
            query, args = query + " AND chat = ?", [*args, chat]
        if collection is not None:
            query, args = query + " AND collection = ?", [*args, collection]
        with self.db.connect() as db:
            return [Watch(**dict(r)) for r in db.execute(query + " ORDER BY id", args)]

    def remove(self, watch_id: int, chat: int | None = None) -> Watch | None:
        """Stop a watch (only the chat's own when `chat` is given); the watch removed, or None."""
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT * FROM watches WHERE id = ?", (watch_id,)).fetchone()
            if row is None or (chat is not None and row["chat"] != chat):
                db.execute("ROLLBACK")
                return None
            db.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
            db.execute("DELETE FROM matches WHERE watch = ?", (watch_id,))
            db.execute("COMMIT")
        return Watch(**dict(row))

    # --- alerts ------------------------------------------------------------------------------
    def scan(self, engine, consumer: str, wanted: Callable[[Watch], bool]) -> list[Alert | Overflow]:
        """Match the articles stored since this consumer's last look at the engine's collection against the watches
        it serves (`wanted`) and record the matches; returns what to send, each match at most once ever. The first
        look starts at the oldest of those watches (before it, no article was news to any of them)."""
        mark = f"{consumer}:{engine.settings.collection}"
        with self._scanning:
            watches = [w for w in self.all() if wanted(w)]
            since = self._mark(mark)
            if not watches:
                return []  # nothing to match: a watch made later counts from its own creation anyway
            if since is None:
                since = min(w.created_at for w in watches)
            articles, newest = new_articles(engine.store, since)
            out: list[Alert | Overflow] = []
            for watch in watches:
                fresh = [a for a in articles if a.ingested_at > watch.created_at]
                out += self._record(watch, matches(engine, watch.topic, fresh))
            self._set_mark(mark, newest)
            return out

    def _record(self, watch: Watch, found: list[Match]) -> list[Alert | Overflow]:
        """Store this watch's matches; those not seen before become alerts, within the hourly limit."""
        now = time.time()
        alerts: list[Alert | Overflow] = []
        over = Overflow(watch, limit=self.alerts_per_hour)
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            sent = db.execute(
                "SELECT COUNT(*) FROM matches WHERE watch = ? AND sent = 1 AND at > ?", (watch.id, now - 3600)
            ).fetchone()[0]
            for m in found:
                room = sent < self.alerts_per_hour
                new = db.execute(
                    "INSERT OR IGNORE INTO matches (watch, article, at, sent) VALUES (?, ?, ?, ?)",
                    (watch.id, m.article.key, now, int(room)),
                ).rowcount
                if not new:
                    continue
                if room:
                    sent += 1
                    alerts.append(Alert(watch, m))
                else:
                    over.articles.append(m.article)
            db.execute("COMMIT")
        return alerts + ([over] if over.articles else [])

    def _mark(self, name: str) -> float | None:
        with self.db.connect() as db:
            row = db.execute("SELECT value FROM marks WHERE name = ?", (name,)).fetchone()
        return None if row is None else float(row[0])

    def _set_mark(self, name: str, value: float) -> None:
        with self.db.connect() as db:
            db.execute("INSERT OR REPLACE INTO marks (name, value) VALUES (?, ?)", (name, value))
