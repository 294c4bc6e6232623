"""The Article record that loaders produce and the pipeline stores, and what identifies it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cached_property

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Article:
    text: str
    title: str = ""
    url: str = ""  # web address when there is one
    path: str = ""  # file it came from, when there is one
    outlet: str = ""  # site or publication name
    published: str = ""  # YYYY-MM-DD
    published_from: str = ""  # "article", "feed", "json" or "file-time" (only the file's mtime was known)
    author: str = ""
    source_key: str = ""  # identity of this copy: URL, path, or path#entry
    origin: str = ""  # the ingest argument it came from (file, directory entry, feed URL), for --prune
    extra: dict = field(default_factory=dict)

    @cached_property  # asked for a dozen times per article by the pipeline; a frozen dataclass still caches it
    def content_hash(self) -> str:
        """Same text, same hash: republished wire stories collapse to one stored copy."""
        return hashlib.sha256(_WS.sub(" ", self.text).strip().encode("utf-8")).hexdigest()[:32]

    @property
    def link(self) -> str:
        return self.url or self.path

    def with_(self, **changes) -> Article:
        return replace(self, **changes)


@dataclass(frozen=True)
class Skip:
    """A source that could not be read, with the one line the operator sees."""

    source: str
    reason: str
