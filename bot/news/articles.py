"""What is new in a collection since a moment: the articles whose first copy was stored after it, from the store's
manifest (every copy records when it was ingested), whoever wrote them: the bot's /ingest or a followed source, or
`articlebot ingest` and `follow run` in another process.

A copy of a text already stored (a wire story republished under another link) is no news: an article counts from
its earliest copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from vectorstore.passages import shown_date
from vectorstore.sentences import quotable, split
from vectorstore.store import Record, chunk_id


@dataclass
class NewArticle:
    key: str  # the text's content hash: one article however many copies
    title: str
    outlet: str
    published: str
    link: str  # web address, or the file path
    ingested_at: float
    published_from: str = ""

    @property
    def when(self) -> str:
        return shown_date(self.published, self.published_from)


def new_articles(store, since: float) -> tuple[list[NewArticle], float]:
    """The articles first stored after `since` (oldest first), and the newest ingest time seen (the next `since`)."""
    recent = store.records(where={"ingested_at": {"$gt": since}})
    if not recent:
        return [], since
    newest = max(_at(r) for r in recent)
    keys = sorted({r.content_hash for r in recent})
    first: dict[str, Record] = {}
    for r in store.records(where={"content_hash": {"$in": keys}}):
        lead = first.get(r.content_hash)
        if lead is None or _at(r) < _at(lead):
            first[r.content_hash] = r
    out = []
    for key, r in first.items():
        if _at(r) <= since:
            continue  # a new copy of an article stored before
        m = r.meta
        out.append(
            NewArticle(
                key,
                m.get("title", "") or "(untitled)",
                m.get("outlet", ""),
                m.get("published", ""),
                m.get("url") or m.get("path", ""),
                _at(r),
                m.get("published_from", ""),
            )
        )
    out.sort(key=lambda a: (a.ingested_at, a.key))
    return out, newest


def lead_sentences(store, articles: list[NewArticle]) -> dict[str, str]:
    """Each article's first whole sentence (a byline or a headline repeated in the text is passed over)."""
    got = store.get_chunks([chunk_id(a.key, 0) for a in articles])
    out = {}
    for a in articles:
        text = got.get(chunk_id(a.key, 0), ("", {}))[0]
        sentences = [s for s in split(text) if s != a.title]
        out[a.key] = next((s for s in sentences if quotable(s)), sentences[0] if sentences else "")
    return out


def _at(record: Record) -> float:
    return float(record.meta.get("ingested_at", 0.0))
