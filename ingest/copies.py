"""The manifest as ingest sees it: every stored copy of an article by its key, the copies of each text by hash, and
what a copy's leaving does to its text's chunks (they go with the last copy; otherwise the earliest copy left leads).

The pipeline (new texts, replaced ones, --prune) and forget (ingest/forget.py) keep the manifest through this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable

from ingest.article import Article
from vectorstore.store import ArticleStore, Record

META_FIELDS = ("title", "outlet", "url", "path", "published", "published_from", "author")
ID_CHARS = 12  # how much of its text's hash is an article's id (`sources` shows it, `forget` takes it)


def article_id(content_hash: str) -> str:
    """The id of an article (one text, whatever its copies)."""
    return content_hash[:ID_CHARS]


def meta_sig(article: Article) -> str:
    return hashlib.sha256(json.dumps([getattr(article, f) for f in META_FIELDS]).encode()).hexdigest()[:16]


def published_ts(article: Article) -> int:
    """Days since 1970-01-01, so Chroma can filter dates with $gte/$lte; -1 when unknown.

    A file's modification time is shown to users (marked as such) but is no publication date: date filters
    and the recency prior treat it as unknown.
    """
    if article.published_from == "file-time":
        return -1
    try:
        return (dt.date.fromisoformat(article.published) - dt.date(1970, 1, 1)).days
    except ValueError:
        return -1


class Copies:
    """The copies the manifest holds: `by_key[source_key]` and `by_hash[content_hash]` (the keys of a text's copies)."""

    def __init__(self, records: Iterable[Record]):
        self.by_key: dict[str, Record] = {}
        self.by_hash: dict[str, set[str]] = defaultdict(set)
        for r in records:
            self.note(r)

    def note(self, rec: Record) -> None:
        self.by_key[rec.source_key] = rec
        self.by_hash[rec.content_hash].add(rec.source_key)

    def drop(self, key: str) -> None:
        rec = self.by_key.pop(key, None)
        if rec is not None:
            self.by_hash[rec.content_hash].discard(key)

    def lead_meta(self, h: str) -> tuple[int, dict]:
        """Every copy's link on the shared chunks; the earliest copy's title, outlet and date lead."""
        copies = sorted((self.by_key[k] for k in self.by_hash[h]), key=lambda r: r.meta.get("ingested_at", 0))
        lead = copies[0]
        urls = list(
            dict.fromkeys(
                r.meta.get("url") or r.meta.get("path") for r in copies if r.meta.get("url") or r.meta.get("path")
            )
        )
        meta = {f: lead.meta.get(f, "") for f in META_FIELDS} | {
            "published_ts": lead.meta.get("published_ts", -1),
            "urls": json.dumps(urls),
        }
        return lead.n_chunks, meta

    def settle(self, store: ArticleStore, h: str) -> Callable[[], None]:
        """The store write owed once a copy of text h has left it (the bookkeeping is done now): the text's chunks go
        when no copy is left, else they take the remaining copies' links and lead."""
        if self.by_hash.get(h):
            n, meta = self.lead_meta(h)
            return lambda: store.update_chunk_meta(h, n, meta)
        return lambda: store.delete_article_chunks(h)

    def remove(self, store: ArticleStore, records: Iterable[Record]) -> int:
        """Forget these copies: their manifest entries first, then what each text owes (its chunks and sentence
        vectors go with its last copy, in one write for all such texts; otherwise the copies left lead). A kill between
        the two leaves chunks no entry accounts for, which a re-run or the next ingest collects; never an entry without
        its chunks. Returns how many chunks went."""
        records = list(records)
        store.delete_records([r.source_key for r in records])
        for r in records:
            self.drop(r.source_key)
        sizes = {r.content_hash: r.n_chunks for r in records}
        gone = [h for h in sizes if not self.by_hash.get(h)]
        store.delete_texts(gone)
        for h in sizes.keys() - set(gone):
            store.update_chunk_meta(h, *self.lead_meta(h))
        return sum(sizes[h] for h in gone)
