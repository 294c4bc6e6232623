"""The engine and the followed sources of each collection, for a process that serves several (the Telegram bot,
`articlebot follow run`).

Built around the engine of the configured collection: another collection's engine is opened when first asked for,
over the same Chroma client (and so under the one data-dir lock the first took), sharing the embedding model, the
answerer, the reader and the conversation memory. Open engines are kept in a small LRU, so a bot whose chats use many
collections holds the BM25 indexes of the few in use; the write lock of each collection outlives its engine, so an
engine opened again never writes beside the one it replaced.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from bot.engine import Engine
from vectorstore.collections import DEFAULT, check_name, local_dir, local_names

if TYPE_CHECKING:
    from ingest.follow import Following, PollResult

MAX_OPEN = 8  # engines of other collections kept open besides the configured one's
FOLLOW_FILE = "follow.sqlite3"


class Engines:
    def __init__(self, base: Engine, max_open: int = MAX_OPEN):
        self.base = base
        self.max_open = max_open
        self._open: OrderedDict[str, Engine] = OrderedDict()
        self._write_locks: dict[str, threading.Lock] = {}
        self._models: dict[str, tuple] = {}  # embedding identity -> (embedder, answerer)
        self._following: dict[str, Following] = {}
        self._lock = threading.Lock()

    @property
    def settings(self):
        return self.base.settings

    @property
    def default(self) -> str:
        """The configured collection: the base engine's."""
        return self.base.store.collection

    def get(self, name: str | None = None) -> Engine:
        """The engine of collection `name` (the configured one when None); StoreError for a name that cannot be."""
        name = check_name(name or self.default)
        if name == self.default:
            return self.base
        with self._lock:  # opening is a few Chroma calls; two chats asking for one new collection open it once
            engine = self._open.get(name)
            if engine is None:
                engine = self._open[name] = self._make(name)
                while len(self._open) > self.max_open:
                    self._open.popitem(last=False)  # nothing to close: its store shares the client and the lock
            self._open.move_to_end(name)
            return engine

    def _make(self, name: str) -> Engine:
        from bot.answering.answerers import build_answerer
        from vectorstore.embeddings import build_embedder
        from vectorstore.store import ArticleStore

        # FOLLOW= seeds the configured collection's list, not this one's
        settings = self.settings.model_copy(update={"collection": name, "follow": ()})
        store = ArticleStore(settings, client=self.base.store.client)
        self._models.setdefault(self.base.store.embed_identity, (self.base.embedder, self.base.answerer))
        if store.embed_identity not in self._models:  # built with another variant of the model
            embedder = build_embedder(store.settings)
            self._models[store.embed_identity] = (embedder, build_answerer(settings, embedder))
        embedder, answerer = self._models[store.embed_identity]
        lock = self._write_locks.setdefault(name, threading.Lock())
        return Engine(settings, store, embedder, answerer, self.base.memory, reader=self.base.reader, write_lock=lock)

    def names(self) -> list[str]:
        """Every collection in the store."""
        from vectorstore.collections import names

        return names(self.base.store.client)

    # --- followed sources --------------------------------------------------------------------
    def following(self, name: str | None = None) -> Following:
        """The followed sources of collection `name` (the configured one when None)."""
        from ingest.follow import Following

        name = check_name(name or self.default)
        with self._lock:
            if name not in self._following:
                settings = self.settings
                if name != self.default:
                    settings = settings.model_copy(update={"collection": name, "follow": ()})
                self._following[name] = Following(settings)
            return self._following[name]

    def following_collections(self) -> list[str]:
        """The configured collection and every other one that has a follow list."""
        data_dir = self.settings.data_dir
        others = [n for n in [DEFAULT, *local_names(data_dir)] if (local_dir(data_dir, n) / FOLLOW_FILE).is_file()]
        return list(dict.fromkeys([self.default, *others]))

    def poll_due(self) -> list[tuple[str, PollResult]]:
        """Poll every collection's due sources, each writing through its collection's engine: (collection, result)."""
        results = []
        for name in self.following_collections():
            following = self.following(name)
            due = following.list.next_due()
            if due is not None and due <= time.time():
                results += [(name, r) for r in following.poll_due(self.get(name).add_articles)]
        return results

    def next_due(self) -> float | None:
        """When the next source of any collection is due."""
        due = [d for n in self.following_collections() if (d := self.following(n).list.next_due()) is not None]
        return min(due, default=None)

    def close(self) -> None:
        """Stop the followed sources' polls (the engines are closed by whoever opened the base engine)."""
        for following in list(self._following.values()):
            following.close()
