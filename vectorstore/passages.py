"""A retrieved chunk with its article's metadata: what retrieval returns and answers cite."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


def shown_date(published: str, published_from: str) -> str:
    """The date as shown to people and models: a file whose text gives no date is undated, and its file's
    modification time, no publication date, says so."""
    if published_from == "file-time":
        return f"undated (file date {published})" if published else "undated"
    return published


@dataclass
class Passage:
    id: str
    text: str
    score: float
    title: str = ""
    outlet: str = ""
    url: str = ""
    path: str = ""
    published: str = ""  # the publication date; "" when unknown, also for a file whose text gives none
    published_from: str = ""
    author: str = ""
    article_hash: str = ""
    position: int = 0
    urls: list[str] = field(default_factory=list)
    file_date: str = ""  # the file's date, for a file whose text gives none (shown, never taken for its date)

    @property
    def link(self) -> str:
        return self.url or self.path

    @property
    def when(self) -> str:
        return shown_date(self.published or self.file_date, self.published_from)

    @classmethod
    def from_chroma(cls, id: str, text: str, meta: dict, score: float) -> Passage:
        # the store keeps a file's date in `published` (marked "file-time"); readers and answerers that compare dates
        # ("the newest source leads") must not take it for one
        undated = meta.get("published_from") == "file-time"
        return cls(
            id=id,
            text=text,
            score=score,
            title=meta.get("title", ""),
            outlet=meta.get("outlet", ""),
            url=meta.get("url", ""),
            path=meta.get("path", ""),
            published="" if undated else meta.get("published", ""),
            published_from=meta.get("published_from", ""),
            author=meta.get("author", ""),
            article_hash=meta.get("article_hash", ""),
            position=int(meta.get("position", 0)),
            urls=json.loads(meta.get("urls", "[]") or "[]"),
            file_date=meta.get("published", "") if undated else "",
        )

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "score": round(self.score, 4),
            "title": self.title,
            "source": self.outlet,
            "url": self.link,
            "published": self.published,
            "published_from": self.published_from,
            "file_date": self.file_date,
            "author": self.author,
            "position": self.position,
            "urls": self.urls,
        }
