"""Conversation memory: the last few question/answer turns per conversation id, in SQLite under the data dir.

llama-index's SQL chat store is async-only (aiosqlite) and its SimpleChatStore rewrites one JSON file per
save, which concurrent chats would race on; the engine runs in worker threads, so a small SQLite table it is.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

Turn = tuple[str, str]


class Memory:
    def __init__(self, path: Path, max_turns: int = 6):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_turns = max_turns
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS turns (conversation TEXT NOT NULL, at REAL NOT NULL, "
            "question TEXT NOT NULL, answer TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, at)")

    def history(self, conversation: str) -> list[Turn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM turns WHERE conversation = ? ORDER BY at DESC LIMIT ?",
                (conversation, self.max_turns),
            ).fetchall()
        return [(q, a) for q, a in reversed(rows)]

    def add(self, conversation: str, question: str, answer: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)", (conversation, time.time(), question, answer))
            # bounded: only the newest max_turns are ever read, so older ones go
            self._db.execute(
                "DELETE FROM turns WHERE conversation = ? AND at < (SELECT MIN(at) FROM (SELECT at FROM "
                "turns WHERE conversation = ? ORDER BY at DESC LIMIT ?))",
                (conversation, conversation, self.max_turns),
            )

    def reset(self, conversation: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE conversation = ?", (conversation,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
