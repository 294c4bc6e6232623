"""The loaded index a Retriever searches: the persisted BM25 index (vectorstore/bm25index.py), the corpus's
vocabulary with each term's rarity, and the chunks' text and metadata read from the store on demand.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from vectorstore import analysis, prefilter
from vectorstore.config import RetrievalConfig
from vectorstore.store import ArticleStore

if TYPE_CHECKING:
    from vectorstore.retrieval import Filters

log = logging.getLogger(__name__)


class Vocabulary:
    """The corpus's terms as BM25 sees them (vectorstore/analysis.py) and how rare each one is: what the abstention
    gate weighs a question's words with. A term in no chunk is as rare as a term can be."""

    def __init__(self, vocab: dict[str, int], df: np.ndarray, n_docs: int):
        self._vocab, self._df, self.n_docs = vocab, df, max(n_docs, 1)

    @staticmethod
    def terms(text: str, skip: frozenset[str] = frozenset()) -> list[str]:
        """Stemmed terms as BM25 indexes them, leaving out `skip` (lower-case words) as well as its stop words."""
        return analysis.terms(text, skip)

    def df(self, term: str) -> int:
        j = self._vocab.get(term)
        return self._df[j] if j is not None else 0

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df(term) + 0.5))


class ChunkIndex:
    """The persisted BM25 index (vectorstore/bm25index.py), and the chunks' text and metadata read from the store on
    demand: a question needs a few dozen of them, so a process never holds every chunk's text (135 MB for 3,908
    chunks). `docs[row]` and `metas[row]` read like lists."""

    CACHE = 4096  # chunks kept after reading; a long-running bot's cache is emptied when it grows past this

    def __init__(self, settings: RetrievalConfig, store: ArticleStore):
        from vectorstore.bm25index import load_or_build

        self.store = store
        self.lexical = load_or_build(settings, store)
        self.ids = self.lexical.ids
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        self.by_sentence = settings.sentence_vectors and store.sentence_count() > 0
        if settings.sentence_vectors and self.ids and not self.by_sentence:
            log.warning(
                "This store has no sentence vectors (built by an older articlebot or with "
                "SENTENCE_VECTORS=false); answers are less complete until `articlebot ingest` is run again "
                "over the same sources."
            )
        self._cache: dict[int, tuple[str, dict]] = {}
        self._cache_lock = threading.Lock()
        self.docs = _Column(self, 0)
        self.metas = _Column(self, 1)
        # the newest article's day, for "now" over an archive (Retriever.reference_day); known from the index's own
        # dates, so it costs no store call and is new after every ingest, which makes a new index
        dated = self.lexical.published_ts[self.lexical.published_ts >= 0]
        self.newest = int(dated.max()) if dated.size else None
        bm25 = self.lexical.bm25
        # a term's document frequency is the length of its posting list in bm25s's sparse score matrix
        df = np.diff(bm25.scores["indptr"]) if bm25 is not None else np.zeros(0, dtype=np.int64)
        self.vocabulary = Vocabulary(bm25.vocab_dict if bm25 is not None else {}, df, len(self.ids))

    def fetch(self, rows) -> None:
        """Read the rows not yet cached from the store in one call."""
        with self._cache_lock:
            missing = [r for r in dict.fromkeys(rows) if r not in self._cache]
            if not missing:
                return
            if len(self._cache) + len(missing) > self.CACHE:
                self._cache.clear()
            got = self.store.get_chunks([self.ids[r] for r in missing])
            for r in missing:
                # a chunk deleted since the index was built (another writer) reads as empty until the next refresh
                self._cache[r] = got.get(self.ids[r], ("", {}))

    def chunk(self, row: int) -> tuple[str, dict]:
        got = self._cache.get(row)
        if got is None:
            self.fetch([row])
            got = self._cache.get(row)
        if got is None:  # another thread emptied the cache meanwhile
            got = self.store.get_chunks([self.ids[row]]).get(self.ids[row], ("", {}))
        return got

    def published_ts(self, row: int) -> int:
        return int(self.lexical.published_ts[row])

    def filter_meta(self, row: int) -> dict:
        """What Filters.allows reads, from the index itself rather than the store."""
        return {"outlet": self.lexical.outlets[self.lexical.outlet_code[row]], "published_ts": self.published_ts(row)}

    def bm25_search(self, query: str, n: int) -> list[tuple[int, float]]:
        return self.lexical.search(query, n)

    def allowed(self, filters: Filters):
        """The rows a filter lets through, as a boolean mask (vectorstore/prefilter.py)."""
        return prefilter.allowed_rows(
            self.lexical.published_ts,
            self.lexical.outlet_code,
            self.lexical.outlets,
            outlet=filters.outlet,
            since=filters.since,
            until=filters.until,
        )


class _Column:
    """`idx.docs[row]` / `idx.metas[row]`: one field of a chunk, read through the index's cache."""

    def __init__(self, index: ChunkIndex, field: int):
        self._index = index
        self._field = field

    def __getitem__(self, row: int):
        return self._index.chunk(row)[self._field]

    def __len__(self) -> int:
        return len(self._index.ids)
