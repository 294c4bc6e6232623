"""Find the passages that answer a query: dense + BM25 over the same chunks, fused, time-aware, de-duplicated.

Measured on shared/eval/realtimeqa-2023-01 (97 answerable questions, top 5; benchmarks/retrieval.py):
- BM25 (stemmed, title included) finds exact names and numbers that dense retrieval ranks low; dense finds
  paraphrases. Min-max normalised score fusion beat reciprocal-rank fusion here.
- With chunks smaller than 512 tokens (CHUNK_SIZE), a hit is widened with its neighbours into a passage of at
  most 512 tokens, so the passage carries the fact around the matching sentence. The default 512-token chunks
  measured better still (0.701 / 0.595 against 0.670 / 0.548 for 192-token chunks widened), so by default
  there is nothing to widen.
- Dense scores come from sentence vectors (SENTENCE_VECTORS, vectorstore/sentences.py): a chunk scores as its
  closest sentence. The embedding model reads only the first ~half of a 512-token chunk, so a chunk vector misses
  facts near its end: 0.763 / 0.611 against 0.701 / 0.595 with chunk vectors.
- News is about time: relative to `as_of` (default now), articles published after it are pushed down and those
  from the ten days before it pushed up, strongly when the question says "this week", "latest", ... Such a question
  asked without `as_of` counts from the newest article of the collection, not the clock: over an archive, "who is
  the Speaker now?" means the archive's last word on it.
- The fusion weight, the time prior and the candidate pool are fitted on the training weeks
  (benchmarks/fit_retrieval.py), not chosen on the eval questions.
- One passage per article, and near-duplicate passages (one wire story republished) collapsed: the top k are
  k different sources of facts.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from vectorstore import analysis, prefilter
from vectorstore.chunk_index import ChunkIndex, Vocabulary
from vectorstore.config import RetrievalConfig
from vectorstore.passages import Passage
from vectorstore.ranking import TIMELY, Weights, distinct, fuse, time_prior
from vectorstore.store import ArticleStore, split_chunk_id

_EPOCH = date(1970, 1, 1)
SENTENCE_POOL = 300  # nearest sentences asked for at least (6 per chunk of the pool are asked for)
MAX_PASSAGE_TOKENS = 512
RECHECK_SECONDS = 10.0  # how often a long-running bot looks for articles another process ingested
FETCH_BATCH = 16  # candidates read from the store per call while picking the top k


@dataclass
class Filters:
    as_of: datetime | None = None
    outlet: str | None = None
    since: date | None = None
    until: date | None = None

    def where(self) -> dict | None:
        clauses: list[dict] = []
        if self.outlet:
            clauses.append({"outlet": self.outlet})
        if self.since:
            clauses.append({"published_ts": {"$gte": (self.since - _EPOCH).days}})
        if self.until:
            clauses.append({"published_ts": {"$lte": (self.until - _EPOCH).days}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, meta: dict) -> bool:
        """The same filter, for the BM25 side (which does not go through Chroma)."""
        if self.outlet and meta.get("outlet") != self.outlet:
            return False
        ts = meta.get("published_ts", -1)
        if self.since and ts < (self.since - _EPOCH).days:
            return False
        if self.until and ts > (self.until - _EPOCH).days:
            return False
        return True


CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
# tiktoken_ext.openai_public.cl100k_base's split pattern and special tokens: building the Encoding from them and the
# ranks file llama-index ships means tiktoken never looks for its cache in the environment (or on the network)
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
    r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@functools.lru_cache(maxsize=1)
def cl100k():
    """llama-index's tokenizer, the one the chunker counts with: tiktoken's cl100k, its ranks read from the copy
    llama-index ships (plain tiktoken would download them), without importing llama-index (~1 s of a cold `ask`).

    Built here rather than by tiktoken.get_encoding, which finds that copy only through TIKTOKEN_CACHE_DIR: setting
    the environment variable from a request thread races every other thread reading the environment."""
    import base64
    import hashlib
    import importlib.util

    import tiktoken

    locations = importlib.util.find_spec("llama_index.core").submodule_search_locations
    ranks_file = os.path.join(locations[0], "_static", "tiktoken_cache", hashlib.sha1(CL100K_URL.encode()).hexdigest())
    ranks = {}
    with open(ranks_file, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    encoding = tiktoken.Encoding(
        "cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_SPECIAL
    )
    return functools.partial(encoding.encode, allowed_special="all")


def _merge(a: str, b: str) -> str:
    """Join consecutive chunks, dropping the overlap the splitter repeated at the start of b."""
    probe = b[:60]
    at = a.find(probe) if probe else -1
    while at != -1:
        if b.startswith(a[at:]):
            return a + b[len(a) - at :]
        at = a.find(probe, at + 1)
    return f"{a}\n{b}"


class Retriever:
    def __init__(self, settings: RetrievalConfig, store: ArticleStore, embedder, weights: Weights | None = None):
        self.settings = settings
        self.weights = weights or Weights()
        self.store = store
        self.embedder = embedder
        self._index: ChunkIndex | None = None
        self._version: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._tokenizer: Callable[[str], list[int]] | None = None
        self._tokenizer_lock = threading.Lock()

    def refresh(self) -> None:
        """Forget the loaded index; the next search loads the saved one (after an ingest, which saved it)."""
        with self._lock:
            self._index = None

    def rebuild(self) -> None:
        """Build the index from the store now, outside the lock: questions keep using the old one until the swap
        (a background poll calls this after writing, so no question pays for the rebuild)."""
        index = ChunkIndex(self.settings, self.store)
        with self._lock:
            self._index, self._version, self._checked = index, index.lexical.version, time.monotonic()

    def index(self) -> ChunkIndex:
        """The BM25 index (the saved one, or rebuilt), reloaded when the store changed (e.g. `articlebot ingest` run
        beside a bot on a Chroma server); the check costs two count calls and a collection lookup and runs at most
        every RECHECK_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked >= RECHECK_SECONDS:
                self._checked = now
                if self.store.version() != self._version:
                    self._index = None
            if self._index is None:
                self._checked = now
                self._index = ChunkIndex(self.settings, self.store)
                self._version = self._index.lexical.version  # read before the chunks were: a write meanwhile shows
            return self._index

    def vocabulary(self) -> Vocabulary:
        return self.index().vocabulary

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        filters = filters or Filters()
        idx = self.index()
        if not idx.ids:
            return []
        dense, sparse = self.candidates(query, idx, filters, self.weights.pool)
        scores = fuse(dense, sparse, self.weights)
        timely = bool(TIMELY.search(query))
        time_prior(scores, idx.published_ts, self.reference_day(idx, filters, timely), timely, self.weights)
        return self._select(idx, scores, k)

    @staticmethod
    def reference_day(idx: ChunkIndex, filters: Filters, timely: bool) -> int:
        """The day (since 1970) the time prior counts from: `as_of` when given. Otherwise today, except for a
        question about "now", "latest", "this week": then the newest article's day (within `until`), because the
        collection may be an archive that ends years ago, and its latest fact is the answer, not whichever article
        happens to match best."""
        if filters.as_of is not None:
            return (filters.as_of.date() - _EPOCH).days
        today = (datetime.now().date() - _EPOCH).days
        if not timely or idx.newest is None:
            return today
        # an article dated in the future (a typo, a scheduled post) does not move "now" past today
        newest = min(idx.newest, today)
        return min(newest, (filters.until - _EPOCH).days) if filters.until else newest

    # --- stages ------------------------------------------------------------------------------
    def candidates(
        self, query: str, idx: ChunkIndex, filters: Filters, depth: int
    ) -> tuple[dict[int, float], dict[int, float]]:
        """The `depth` best rows of each side: dense (a chunk scores as its nearest sentence, or its own vector)
        and BM25, both within the filters."""
        vector = self.embedder.embed_query(query)
        if idx.by_sentence:
            # filters applied in this process, not by Chroma (whose filter costs time linear in the store)
            nearest = prefilter.nearest_chunks(
                self.store,
                vector,
                max(SENTENCE_POOL, 6 * depth),
                filters.where(),
                idx.allowed(filters),
                idx.row,
                idx.ids,
            )
            dense = {idx.row[c]: s for c, s in nearest.items() if c in idx.row}
            dense = dict(sorted(dense.items(), key=lambda kv: -kv[1])[:depth])
        else:
            dense = {
                idx.row[p.id]: p.score
                for p in self.store.query(vector, depth, where=filters.where())
                if p.id in idx.row
            }
        sparse = idx.bm25_search(query, depth * 4)
        if filters.where() is not None:
            sparse = [(r, s) for r, s in sparse if filters.allows(idx.filter_meta(r))]
        return dense, dict(sorted(sparse, key=lambda kv: -kv[1])[:depth])

    def _select(self, idx: ChunkIndex, scores: dict[int, float], k: int) -> list[Passage]:
        order = sorted(scores, key=lambda r: -scores[r])
        position = {r: i for i, r in enumerate(order)}
        made: dict[int, Passage] = {}
        fetched: set[int] = set()

        def passage(r: int) -> Passage:
            if r not in made:
                start = position[r] - position[r] % FETCH_BATCH
                if start not in fetched:  # the next candidates and their neighbours, from the store in one call
                    fetched.add(start)
                    idx.fetch(self._with_neighbours(idx, order[start : start + FETCH_BATCH]))
                h, pos = split_chunk_id(idx.ids[r])
                made[r] = self._passage(idx, r, h, pos, scores[r])
            return made[r]

        rows = distinct(order, lambda r: split_chunk_id(idx.ids[r])[0], lambda r: analysis.shingles(passage(r).text), k)
        return [passage(r) for r in rows]

    @staticmethod
    def _with_neighbours(idx: ChunkIndex, rows: list[int]) -> list[int]:
        out = []
        for r in rows:
            h, pos = split_chunk_id(idx.ids[r])
            out += [r] + [
                nr for nr in (idx.row.get(f"{h}-{pos - 1:05d}"), idx.row.get(f"{h}-{pos + 1:05d}")) if nr is not None
            ]
        return out

    def _tokens(self, text: str) -> int:
        if self._tokenizer is None:
            with self._tokenizer_lock:  # question threads share one retriever: build the tokenizer once
                if self._tokenizer is None:
                    self._tokenizer = cl100k()
        return len(self._tokenizer(text))

    def _passage(self, idx: ChunkIndex, r: int, h: str, pos: int, score: float) -> Passage:
        """The chunk widened by its neighbours while the passage stays within MAX_PASSAGE_TOKENS."""
        text = idx.docs[r]
        for neighbour in (pos - 1, pos + 1):
            nr = idx.row.get(f"{h}-{neighbour:05d}")
            if nr is None:
                continue
            wider = _merge(idx.docs[nr], text) if neighbour < pos else _merge(text, idx.docs[nr])
            if self._tokens(wider) <= MAX_PASSAGE_TOKENS:
                text = wider
        return Passage.from_chroma(idx.ids[r], text, idx.metas[r], score)
