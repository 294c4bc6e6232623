"""Daily digests: a chat asks for one at a time of day (`/digest 07:30`, in its time zone) and gets, once a day, the
articles new since its last digest, grouped by the chat's watched topics (all of them when it watches none). Nothing
is sent on a day without news.

The schedule is the front end's (Telegram's JobQueue); the settings and the time of the last digest live in
news.sqlite3, so a restart keeps both and the next digest still starts where the last one ended.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import time as clock
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.news.articles import NewArticle, lead_sentences, new_articles
from bot.news.db import Database
from bot.news.matching import matches
from bot.news.watches import Watches

SCHEMA = """
CREATE TABLE IF NOT EXISTS digests (
    chat INTEGER PRIMARY KEY, at TEXT NOT NULL, tz TEXT NOT NULL, collection TEXT NOT NULL, last REAL NOT NULL,
    checked REAL NOT NULL DEFAULT 0);
"""
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


class DigestError(ValueError):
    """A time or time zone that cannot be used; one line for the user."""


@dataclass
class DigestSetting:
    chat: int
    at: str  # "07:30"
    tz: str  # "Europe/Oslo"
    collection: str
    last: float  # the ingest time the last digest covered (or when the setting was made): the next starts there
    checked: float = 0.0  # when a digest was last due, sent or not

    @property
    def time(self) -> clock:
        hours, minutes = self.at.split(":")
        return clock(int(hours), int(minutes), tzinfo=ZoneInfo(self.tz))


@dataclass
class Section:
    topic: str  # the watched topic, or "" for the articles that match none
    articles: list[NewArticle] = field(default_factory=list)


@dataclass
class Digest:
    since: float
    sections: list[Section]
    leads: dict[str, str]  # article key -> its lead sentence

    @property
    def count(self) -> int:
        return len({a.key for s in self.sections for a in s.articles})


def parse_time(text: str) -> str:
    m = _HHMM.match(text.strip())
    if not m:
        raise DigestError(f"Not a time of day: {text!r}. Use HH:MM, e.g. /digest 07:30")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DigestError(f"Unknown time zone: {name!r}. Use a name like Europe/Oslo or UTC.") from None
    return name


class Digests:
    def __init__(self, data_dir):
        self.db = Database(data_dir, SCHEMA)

    def set(self, chat: int, at: str, tz: str, collection: str) -> DigestSetting:
        """Digest the chat's news daily at `at` (HH:MM) in `tz`; a chat changing its time keeps its last digest."""
        setting = DigestSetting(chat, parse_time(at), check_zone(tz), collection, time.time())
        with self.db.connect() as db:
            db.execute(
                "INSERT INTO digests (chat, at, tz, collection, last) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(chat) DO UPDATE SET at = excluded.at, tz = excluded.tz, collection = excluded.collection",
                (chat, setting.at, setting.tz, collection, setting.last),
            )
        return self.get(chat) or setting

    def get(self, chat: int) -> DigestSetting | None:
        with self.db.connect() as db:
            row = db.execute("SELECT * FROM digests WHERE chat = ?", (chat,)).fetchone()
        return DigestSetting(**dict(row)) if row else None

    def all(self) -> list[DigestSetting]:
        with self.db.connect() as db:
            return [DigestSetting(**dict(r)) for r in db.execute("SELECT * FROM digests ORDER BY chat")]

    def remove(self, chat: int) -> bool:
        with self.db.connect() as db:
            return bool(db.execute("DELETE FROM digests WHERE chat = ?", (chat,)).rowcount)

    def done(self, chat: int, until: float) -> None:
        """The chat's digest was due now and covered the articles stored up to `until`."""
        with self.db.connect() as db:
            db.execute("UPDATE digests SET last = ?, checked = ? WHERE chat = ?", (until, time.time(), chat))


def make_digest(engine, watches: Watches, setting: DigestSetting) -> tuple[Digest, float]:
    """The chat's news since its last digest, and the ingest time the next one starts from. Grouped by the chat's
    watches, each article under the first topic it matches, then the others under ""."""
    articles, newest = new_articles(engine.store, setting.last)
    sections = []
    left = list(articles)
    for watch in watches.all(chat=setting.chat, collection=setting.collection):
        found = {m.article.key for m in matches(engine, watch.topic, left)}
        if found:
            sections.append(Section(watch.topic, [a for a in left if a.key in found]))
            left = [a for a in left if a.key not in found]
    if left:
        sections.append(Section("", left))
    shown = [a for s in sections for a in s.articles]
    return Digest(setting.last, sections, lead_sentences(engine.store, shown) if shown else {}), newest
