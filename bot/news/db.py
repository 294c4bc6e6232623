"""The one SQLite file of watches, alerts, digests and feedback (`<data dir>/news.sqlite3`).

A connection per call, as the followed list does: the bot's event loop, its worker threads and a CLI process may all
use the file at once; WAL lets readers go on while one writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

FILE = "news.sqlite3"


class Database:
    def __init__(self, data_dir: Path, schema: str):
        self.path = Path(data_dir) / FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.executescript(schema)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """An autocommit connection (BEGIN IMMEDIATE where several statements must hold together), closed after."""
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            yield db
