"""What the corpus holds, for `sources`, /sources and /help: articles, their dates and chunk counts."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.copies import article_id
from vectorstore.passages import shown_date


@dataclass
class ArticleInfo:
    title: str
    outlet: str
    published: str  # the publication date, or the file's date when published_from is "file-time"
    link: str
    chunks: int
    published_from: str = ""
    links: tuple[str, ...] = ()
    id: str = ""  # what `articlebot forget` takes (ingest/copies.py article_id)

    @property
    def when(self) -> str:
        """The date as shown: "2025-03-14", or "undated (file date 2025-03-14)" when only the file's time was known."""
        return shown_date(self.published, self.published_from)

    @property
    def dated(self) -> bool:
        return bool(self.published) and self.published_from != "file-time"

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.outlet,
            "published": self.published if self.dated else "",
            "published_from": self.published_from,
            "file_date": "" if self.dated else self.published,
            "url": self.link,
            "chunks": self.chunks,
            "urls": list(self.links),
        }


@dataclass
class CorpusStats:
    articles: int
    chunks: int
    first_published: str
    last_published: str


def list_articles(store) -> list[ArticleInfo]:
    """One entry per distinct text (copies of a republished story are one article with several links), newest first,
    then the undated ones."""
    groups: dict[str, list] = {}
    for r in store.records():
        groups.setdefault(r.content_hash, []).append(r)
    out = []
    for copies in groups.values():
        copies.sort(key=lambda r: r.meta.get("ingested_at", 0))
        lead = copies[0]
        m = lead.meta
        out.append(
            ArticleInfo(
                m.get("title", ""),
                m.get("outlet", ""),
                m.get("published", ""),
                m.get("url") or m.get("path", ""),
                lead.n_chunks,
                m.get("published_from", ""),
                tuple(r.meta.get("url") or r.meta.get("path", "") for r in copies),
                article_id(lead.content_hash),
            )
        )
    # an undated file is no newest article, whatever its file's date: the dated ones first, newest first
    out.sort(key=lambda a: (a.dated, a.published), reverse=True)
    return out


def corpus_stats(store, articles: list[ArticleInfo] | None = None) -> CorpusStats:
    """Counts and the date span; `articles` is list_articles(store) when the caller has it already."""
    articles = list_articles(store) if articles is None else articles
    dates = sorted(a.published for a in articles if a.dated)
    return CorpusStats(len(articles), store.count(), dates[0] if dates else "", dates[-1] if dates else "")
