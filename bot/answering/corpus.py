"""What the corpus holds, for `sources`, /sources and /help: articles, their dates and chunk counts."""

from __future__ import annotations

from dataclasses import dataclass

from vectorstore.passages import shown_date


@dataclass
class ArticleInfo:
    title: str
    outlet: str
    published: str
    link: str
    chunks: int
    published_from: str = ""
    links: tuple[str, ...] = ()

    @property
    def when(self) -> str:
        """The date as shown: "2025-03-14", or "2025-03-14 (file date)" when only the file's time was known."""
        return shown_date(self.published, self.published_from)

    def as_json(self) -> dict:
        return {
            "title": self.title,
            "source": self.outlet,
            "published": self.published,
            "published_from": self.published_from,
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
    """One entry per distinct text (copies of a republished story are one article with several links), newest first."""
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
            )
        )
    out.sort(key=lambda a: a.published, reverse=True)
    return out


def corpus_stats(store, articles: list[ArticleInfo] | None = None) -> CorpusStats:
    """Counts and the date span; `articles` is list_articles(store) when the caller has it already."""
    articles = list_articles(store) if articles is None else articles
    dates = sorted(a.published for a in articles if a.published and a.published_from != "file-time")
    return CorpusStats(len(articles), store.count(), dates[0] if dates else "", dates[-1] if dates else "")
