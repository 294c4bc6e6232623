"""A retrieved chunk with its article's metadata: what retrieval returns and answers cite."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


def shown_date(published: str, published_from: str) -> str:
    """The date as shown to people and models: a file's modification time is no publication date, and says so."""
    if published and published_from == "file-time":
        return f"{published} (file date)"
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
    published: str = ""
    published_from: str = ""
    author: str = ""
    article_hash: str = ""
    position: int = 0
    urls: list[str] = field(default_factory=list)

    @property
    def link(self) -> str:
        return self.url or self.path

    @property
    def when(self) -> str:
        return shown_date(self.published, self.published_from)

    @classmethod
    def from_chroma(cls, id: str, text: str, meta: dict, score: float) -> Passage:
        return cls(
            id=id,
            text=text,
            score=score,
            title=meta.get("title", ""),
            outlet=meta.get("outlet", ""),
            url=meta.get("url", ""),
            path=meta.get("path", ""),
            published=meta.get("published", ""),
            published_from=meta.get("published_from", ""),
            author=meta.get("author", ""),
            article_hash=meta.get("article_hash", ""),
            position=int(meta.get("position", 0)),
            urls=json.loads(meta.get("urls", "[]") or "[]"),
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
            "author": self.author,
            "position": self.position,
            "urls": self.urls,
        }
