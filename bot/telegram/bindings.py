"""Which collection each chat answers from; no Telegram here, so it is tested without it.

An admin's `/collection NAME` in a chat binds it, kept in `<data dir>/chats.sqlite3` so a restart keeps it; a chat no
admin bound takes its collection from TELEGRAM_CHAT_COLLECTIONS, and any other chat the default (ARTICLEBOT_COLLECTION).
One small SQLite table, like conversation memory (bot/answering/memory.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from bot.settings import Settings
from vectorstore.collections import check_name

BOUND, FROM_ENV, UNBOUND = "set by an admin", "from TELEGRAM_CHAT_COLLECTIONS", "the default"


class ChatBindings:
    def __init__(self, settings: Settings):
        self.default = check_name(settings.collection)
        # a bad name in the environment stops the bot at start with one line, not at some chat's first question
        self.from_env = {chat: check_name(name) for chat, name in settings.telegram_chat_collections.items()}
        path = Path(settings.data_dir) / "chats.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS bindings (chat INTEGER PRIMARY KEY, collection TEXT NOT NULL, "
            "set_by INTEGER NOT NULL, set_at REAL NOT NULL)"
        )

    def binding(self, chat: int) -> tuple[str, str]:
        """(collection, how it was chosen: BOUND, FROM_ENV or UNBOUND)."""
        with self._lock:
            row = self._db.execute("SELECT collection FROM bindings WHERE chat = ?", (chat,)).fetchone()
        if row:
            return row[0], BOUND
        if chat in self.from_env:
            return self.from_env[chat], FROM_ENV
        return self.default, UNBOUND

    def collection_for(self, chat: int) -> str:
        return self.binding(chat)[0]

    def bind(self, chat: int, name: str, by: int) -> str:
        """Bind a chat to a collection (CollectionError for a name that cannot be one); returns the name as kept."""
        name = check_name(name)
        with self._lock:
            self._db.execute(
                "INSERT INTO bindings VALUES (?, ?, ?, ?) ON CONFLICT(chat) DO UPDATE SET collection = excluded.collection, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                (chat, name, by, time.time()),
            )
        return name

    def close(self) -> None:
        with self._lock:
            self._db.close()
