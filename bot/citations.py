"""Numbered citations: built only from retrieved chunks' metadata, never from model output."""
from __future__ import annotations

import re

from bot.answer import Citation
from vectorstore.passages import Passage

MARKER = re.compile(r"\[(\d+)\]")
URL = re.compile(r"https?://[^\s\])>\"'<]+")


def citation(n: int, p: Passage) -> Citation:
    return Citation(n=n, title=p.title or "(untitled)", url=p.link, published=p.published, source=p.outlet, text=p.text,
                    published_from=p.published_from)


def renumber(text: str, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Keep only markers that name a passage, renumber them 1..m by first use, and list just those."""
    order: dict[int, int] = {}

    def swap(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(passages):
            return ""
        order.setdefault(n, len(order) + 1)
        return f"[{order[n]}]"

    cleaned = MARKER.sub(swap, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, [citation(new, passages[old - 1]) for old, new in sorted(order.items(), key=lambda kv: kv[1])]


def strip_foreign_urls(text: str, passages: list[Passage]) -> str:
    """A URL in model output that is not one of the sources' own links is removed: output is untrusted."""
    allowed = {u.rstrip("/.") for p in passages for u in [p.url, *p.urls] if u}
    return URL.sub(lambda m: m.group(0) if m.group(0).rstrip("/.") in allowed else "[link removed]", text)
