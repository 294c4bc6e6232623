"""Split an article into overlapping, sentence-aware chunks that know their article and position."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ingest.article import Article


@dataclass(frozen=True)
class Chunk:
    article: Article
    position: int
    text: str

    @property
    def embed_text(self) -> str:
        """The title travels with every chunk: a chunk deep in the story still says what the story is about."""
        return f"{self.article.title}\n{self.text}" if self.article.title else self.text


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    # llama-index's SentenceSplitter: sentence-aware, token-counted with the cl100k data it ships.
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2), paragraph_separator="\n\n"
    )


def split_text(text: str, chunk_size: int, chunk_overlap: int) -> list[str]:
    """The chunks' texts, in order, none empty."""
    pieces = (p.strip() for p in _splitter(chunk_size, chunk_overlap).split_text(text))
    return [p for p in pieces if p]


def chunk(article: Article, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    return [Chunk(article, i, p) for i, p in enumerate(split_text(article.text, chunk_size, chunk_overlap))]
