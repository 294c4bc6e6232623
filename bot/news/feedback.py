"""Feedback on answers: each answer shown with 👍 / 👎 buttons is kept (question, answer, its sources, the chat, the
answerer) under a small id, the buttons carry only that id, and a press stores one vote per person and answer (a
second press changes it). `articlebot feedback` counts the votes per day and answerer; `--export` writes the 👎
questions as an eval file (`question`, an empty `answer` for the reader to fill in), to become test questions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from bot.answer import Answer
from bot.news.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, chat INTEGER NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, sources TEXT NOT NULL, answerer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    answer INTEGER NOT NULL, user INTEGER NOT NULL, vote INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (answer, user));
"""
KEEP_ANSWERS = 50_000  # answers kept for voting; older ones without a vote are forgotten
UP, DOWN = 1, -1


@dataclass
class Tally:
    day: str
    answerer: str
    up: int
    down: int


class Feedback:
    def __init__(self, data_dir):
        self.db = Database(data_dir, SCHEMA)

    def record(self, chat: int, question: str, answer: Answer, now: float | None = None) -> int:
        """Keep an answer shown with vote buttons; returns the id the buttons carry."""
        sources = [
            {"n": c.n, "title": c.title, "url": c.url, "published": c.published, "source": c.source}
            for c in answer.citations
        ]
        with self.db.connect() as db:
            cur = db.execute(
                "INSERT INTO answers (at, chat, question, answer, sources, answerer) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time() if now is None else now,
                    chat,
                    question,
                    answer.text,
                    json.dumps(sources),
                    answer.answerer,
                ),
            )
            answer_id = int(cur.lastrowid or 0)
            if answer_id % 1000 == 0:  # bounded: now and then, forget old answers nobody voted on
                db.execute(
                    "DELETE FROM answers WHERE id <= ? AND id NOT IN (SELECT answer FROM votes)",
                    (answer_id - KEEP_ANSWERS,),
                )
        return answer_id

    def vote(self, answer_id: int, chat: int, user: int, vote: int) -> str:
        """Store a press: "new", "changed", "same", or "unknown" (no such answer in that chat: an old or forged
        button)."""
        with self.db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM answers WHERE id = ? AND chat = ?", (answer_id, chat)).fetchone() is None:
                db.execute("ROLLBACK")
                return "unknown"
            row = db.execute("SELECT vote FROM votes WHERE answer = ? AND user = ?", (answer_id, user)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO votes (answer, user, vote, at) VALUES (?, ?, ?, ?)",
                (answer_id, user, vote, time.time()),
            )
            db.execute("COMMIT")
        if row is None:
            return "new"
        return "same" if row["vote"] == vote else "changed"

    def tally(self) -> list[Tally]:
        """Votes per day (UTC) and answerer, oldest day first."""
        with self.db.connect() as db:
            rows = db.execute(
                "SELECT date(v.at, 'unixepoch') AS day, a.answerer, SUM(v.vote = 1) AS up, SUM(v.vote = -1) AS down "
                "FROM votes v JOIN answers a ON a.id = v.answer GROUP BY day, a.answerer ORDER BY day, a.answerer"
            ).fetchall()
        return [Tally(r["day"], r["answerer"], r["up"], r["down"]) for r in rows]

    def export_down(self, path: Path) -> int:
        """Write every 👎 question as an eval line (`articlebot eval` reads it once `answer` is filled in); returns
        how many. The bot's answer and sources come along, to help whoever fills it in."""
        with self.db.connect() as db:
            rows = db.execute(
                "SELECT a.question, a.answer, a.sources, a.at FROM answers a WHERE a.id IN "
                "(SELECT answer FROM votes WHERE vote = -1) ORDER BY a.at"
            ).fetchall()
        with open(path, "w", encoding="utf-8") as out:
            for r in rows:
                line = {
                    "question": r["question"],
                    "answer": "",
                    "date": time.strftime("%Y-%m-%d", time.gmtime(r["at"])),
                    "bot_answer": r["answer"],
                    "bot_sources": [s["title"] for s in json.loads(r["sources"])],
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return len(rows)
