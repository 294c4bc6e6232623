"""Forgetting articles (`articlebot forget WHAT`, Telegram's /forget): every trace of them leaves the collection.

WHAT names articles as `articlebot sources` prints them: an article's id (the start of its text's hash), its URL or
its file's path; or a folder or URL prefix, for every article under it, or the folder or feed they were ingested
from. Their manifest entries go first, then each text's sentence vectors and chunks unless another copy (a wire story
saved twice) still has that text, then the BM25 index is brought up to date, so no question finds them again and a
later ingest of the same file adds it anew.

A kill -9 midway leaves at worst chunks that no manifest entry accounts for (the next ingest collects them); the same
command run again finds them by the links their metadata holds and finishes the job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.copies import Copies
from ingest.loaders import is_url
from ingest.wording import plural
from vectorstore import bm25index
from vectorstore.store import ArticleStore

MIN_ID = 6  # a shorter hex string is taken for a path
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass
class Forgotten:
    articles: int  # copies whose manifest entry went (a file, a URL, a JSONL line)
    chunks: int  # chunks deleted with the last copy of their text

    def summary(self, what: str, collection: str) -> str:
        if not self.articles and not self.chunks:
            return (
                f"Nothing in collection {collection!r} matches {what!r}: give an article's id, URL or path as "
                "`articlebot sources` prints it, or a folder or URL prefix."
            )
        if not self.articles:
            return f"Removed {plural(self.chunks, 'chunk')} that an interrupted forget of {what!r} left behind."
        gone = f"Forgot {plural(self.articles, 'article')} ({plural(self.chunks, 'chunk')})"
        return f"{gone} from collection {collection!r}."


class Target:
    """What WHAT names: an id, or a location (URL or absolute path) with everything under it."""

    def __init__(self, what: str):
        what = what.strip()
        self.id = what.lower() if len(what) >= MIN_ID and _HEX.match(what.lower()) and not Path(what).exists() else ""
        if is_url(what) or self.id:
            self.place = what
        else:
            self.place = str(Path(what).expanduser().resolve()) if what else ""

    def matches(self, content_hash: str, locations: Iterable[str]) -> bool:
        if self.id:
            return content_hash.startswith(self.id)
        if not self.place:
            return False
        below = self.place.rstrip("/") + "/"
        # a JSON-lines file's articles are keyed "<file>#<entry>"
        return any(
            loc and (loc == self.place or loc.startswith(below) or loc.startswith(self.place + "#"))
            for loc in locations
        )


def _locations(meta: dict, *more: str) -> list[str]:
    return [meta.get("url", ""), meta.get("path", ""), meta.get("origin", ""), *more]


def forget(store: ArticleStore, what: str) -> Forgotten:
    """Remove the articles WHAT names from the store and its BM25 index."""
    target = Target(what)
    records = store.records()
    copies = Copies(records)
    hit = [r for r in records if target.matches(r.content_hash, _locations(r.meta, r.source_key))]
    chunks = copies.remove(store, hit)
    chunks += _sweep(store, target, copies)
    bm25index.update(store.settings, store)
    return Forgotten(len(hit), chunks)


def _sweep(store: ArticleStore, target: Target, copies: Copies) -> int:
    """What a forget cut short left: chunks of a matching text that no manifest entry accounts for any more go, and
    a text still held by other copies gets their links back. Returns how many chunks went."""
    _, _, metas = store.all_chunks(documents=False)
    texts: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for meta in metas:
        h = meta.get("article_hash", "")
        texts.setdefault(h, meta)
        counts[h] = counts.get(h, 0) + 1
    gone = []
    for h, meta in texts.items():
        if not target.matches(h, _locations(meta, *json.loads(meta.get("urls", "[]") or "[]"))):
            continue
        if copies.by_hash.get(h):
            store.update_chunk_meta(h, *copies.lead_meta(h))
        else:
            gone.append(h)
    store.delete_texts(gone)
    return sum(counts[h] for h in gone)
