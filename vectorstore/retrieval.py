"""Find the chunks that answer a query: dense retrieval over Chroma with outlet and date filters."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.settings import Settings
from vectorstore.passages import Passage
from vectorstore.store import ArticleStore

_EPOCH = date(1970, 1, 1)


@dataclass
class Filters:
    as_of: datetime | None = None
    outlet: str | None = None
    since: date | None = None
    until: date | None = None

    def where(self) -> dict | None:
        clauses: list[dict] = []
        if self.outlet:
            clauses.append({"outlet": self.outlet})
        if self.since:
            clauses.append({"published_ts": {"$gte": (self.since - _EPOCH).days}})
        if self.until:
            clauses.append({"published_ts": {"$lte": (self.until - _EPOCH).days}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class Retriever:
    def __init__(self, settings: Settings, store: ArticleStore, embedder):
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        filters = filters or Filters()
        return self.store.query(self.embedder.embed_query(query), k, where=filters.where())

    def refresh(self) -> None:
        """Nothing cached yet on the dense-only path."""
