"""What ingest needs to know: a small typed view of the configuration (see vectorstore/config.py for why a protocol).

`bot.settings.Settings` satisfies it; ingest never imports `bot`.
"""

from __future__ import annotations

from typing import Protocol

from vectorstore.config import RetrievalConfig


class FetchConfig(Protocol):
    """Downloading pages and feeds: size and time limits, and which addresses may be fetched."""

    @property
    def max_file_mb(self) -> float: ...
    @property
    def fetch_timeout(self) -> float: ...
    @property
    def allow_private_urls(self) -> bool: ...
    @property
    def allow_link_local_urls(self) -> bool: ...


class IngestConfig(RetrievalConfig, FetchConfig, Protocol):
    """The pipeline: chunking, the limits of what it reads, and the store it writes to."""

    @property
    def chunk_size(self) -> int: ...
    @property
    def chunk_overlap(self) -> int: ...
