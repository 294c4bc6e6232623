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
  from the ten days before it pushed up, strongly when the question says "this week", "latest", ...
- One passage per article, and near-duplicate passages (one wire story republished) collapsed: the top k are
  k different sources of facts.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from bot.settings import Settings
from vectorstore import bm25index, prefilter
from vectorstore.passages import Passage
from vectorstore.store import ArticleStore, split_chunk_id

log = logging.getLogger(__name__)

_EPOCH = date(1970, 1, 1)
POOL = 50                 # candidates taken from each side before fusion
SENTENCE_POOL = 300       # nearest sentences asked for, to find the POOL nearest chunks (no change measured past 300)
DENSE_WEIGHT = 0.5        # fusion weight of the dense side (BM25 gets the rest)
RECENT_DAYS = 10
RECENT_BOOST = 0.2        # published within RECENT_DAYS before as_of
RECENT_BOOST_TIMELY = 0.6  # ... when the question itself asks about recent events
FUTURE_PENALTY = 0.4      # published after as_of: not news "as of" then
MAX_PASSAGE_TOKENS = 512
RECHECK_SECONDS = 10.0    # how often a long-running bot looks for articles another process ingested
FETCH_BATCH = 16          # candidates read from the store per call while picking the top k
NEAR_DUPLICATE = 0.6      # Jaccard of word 5-shingles above which two passages say the same thing

TIMELY = re.compile(r"\b(this (week|month|year|weekend|morning)|last (week|month|weekend|night)|yesterday|today|"
                    r"tonight|currently|recent(ly)?|latest|newest|just|now|upcoming|so far|ongoing|this past)\b", re.I)


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


class Vocabulary:
    """The corpus's terms as BM25 sees them (stemmed, English stop words out) and how rare each one is: what the
    abstention gate weighs a question's words with. A term in no chunk is as rare as a term can be."""

    _WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's own token pattern

    def __init__(self, stemmer, vocab: dict[str, int], df: list[int], n_docs: int):
        from bm25s.stopwords import STOPWORDS_EN

        self._stem = stemmer.stemWord
        self._stop = frozenset(STOPWORDS_EN)
        self._vocab, self._df, self.n_docs = vocab, df, max(n_docs, 1)

    def terms(self, text: str, skip: frozenset[str] = frozenset()) -> list[str]:
        """Stemmed terms as BM25 indexes them, leaving out `skip` (lower-case words) as well as its stop words."""
        return [self._stem(w) for w in self._WORD.findall(text.lower()) if w not in self._stop and w not in skip]

    def df(self, term: str) -> int:
        j = self._vocab.get(term)
        return self._df[j] if j is not None else 0

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df(term) + 0.5))


class _Index:
    """The persisted BM25 index (vectorstore/bm25index.py), and the chunks' text and metadata read from the store on
    demand: a question needs a few dozen of them, so a process never holds every chunk's text (135 MB for 3,908
    chunks). `docs[row]` and `metas[row]` read like lists."""

    CACHE = 4096  # chunks kept after reading; a long-running bot's cache is emptied when it grows past this

    def __init__(self, settings: Settings, store: ArticleStore):
        from vectorstore.bm25index import load_or_build

        self.store = store
        self.lexical = load_or_build(settings, store)
        self.ids = self.lexical.ids
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        self.by_sentence = settings.sentence_vectors and store.sentence_count() > 0
        if settings.sentence_vectors and self.ids and not self.by_sentence:
            log.warning("This store has no sentence vectors (built by an older articlebot or with "
                        "SENTENCE_VECTORS=false); answers are less complete until `articlebot ingest` is run again "
                        "over the same sources.")
        self._cache: dict[int, tuple[str, dict]] = {}
        self._cache_lock = threading.Lock()
        self.docs = _Column(self, 0)
        self.metas = _Column(self, 1)
        bm25 = self.lexical.bm25
        # a term's document frequency is the length of its posting list in bm25s's sparse score matrix
        df = np.diff(bm25.scores["indptr"]) if bm25 is not None else np.zeros(0, dtype=np.int64)
        self.vocabulary = Vocabulary(bm25index.stemmer(), bm25.vocab_dict if bm25 is not None else {}, df,
                                     len(self.ids))

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
        return prefilter.allowed_rows(self.lexical.published_ts, self.lexical.outlet_code, self.lexical.outlets,
                                      outlet=filters.outlet, since=filters.since, until=filters.until)


class _Column:
    """`idx.docs[row]` / `idx.metas[row]`: one field of a chunk, read through the index's cache."""

    def __init__(self, index: _Index, field: int):
        self._index = index
        self._field = field

    def __getitem__(self, row: int):
        return self._index.chunk(row)[self._field]

    def __len__(self) -> int:
        return len(self._index.ids)


def cl100k():
    """llama-index's tokenizer, the one the chunker counts with: tiktoken's cl100k read from the cache llama-index
    ships (plain tiktoken would download it), without importing llama-index (~1 s of a cold `ask`)."""
    import functools
    import importlib.util
    import os

    cache = os.path.join(importlib.util.find_spec("llama_index.core").submodule_search_locations[0],
                         "_static", "tiktoken_cache")
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = cache  # tiktoken reads its cache location from the environment only
    try:
        import tiktoken

        encoding = tiktoken.encoding_for_model("gpt-3.5-turbo")  # what llama_index.core.utils.get_tokenizer uses
    finally:
        if before is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = before
    return functools.partial(encoding.encode, allowed_special="all")


def _shingles(text: str) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    return {hash(tuple(words[i:i + 5])) for i in range(max(1, len(words) - 4))}


def _merge(a: str, b: str) -> str:
    """Join consecutive chunks, dropping the overlap the splitter repeated at the start of b."""
    probe = b[:60]
    at = a.find(probe) if probe else -1
    while at != -1:
        if b.startswith(a[at:]):
            return a + b[len(a) - at:]
        at = a.find(probe, at + 1)
    return f"{a}\n{b}"


class Retriever:
    def __init__(self, settings: Settings, store: ArticleStore, embedder):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._index: _Index | None = None
        self._version: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._tokenizer = None
        self._tokenizer_lock = threading.Lock()

    def refresh(self) -> None:
        """Forget the loaded index; the next search loads the saved one (after an ingest, which saved it)."""
        with self._lock:
            self._index = None

    def rebuild(self) -> None:
        """Build the index from the store now, outside the lock: questions keep using the old one until the swap
        (a background poll calls this after writing, so no question pays for the rebuild)."""
        index = _Index(self.settings, self.store)
        with self._lock:
            self._index, self._version, self._checked = index, index.lexical.version, time.monotonic()

    def index(self) -> _Index:
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
                self._index = _Index(self.settings, self.store)
                self._version = self._index.lexical.version  # read before the chunks were: a write meanwhile shows
            return self._index

    def vocabulary(self) -> Vocabulary:
        return self.index().vocabulary

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        filters = filters or Filters()
        idx = self.index()
        if not idx.ids:
            return []
        scores = self._fused(query, idx, filters)
        self._time_prior(query, idx, filters, scores)
        return self._select(idx, scores, k)

    # --- stages ------------------------------------------------------------------------------
    def _fused(self, query: str, idx: _Index, filters: Filters) -> dict[int, float]:
        vector = self.embedder.embed_query(query)
        if idx.by_sentence:
            # filters applied in this process, not by Chroma (whose filter costs time linear in the store)
            nearest = prefilter.nearest_chunks(self.store, vector, SENTENCE_POOL, filters.where(),
                                               idx.allowed(filters), idx.row)
            dense = {idx.row[c]: s for c, s in nearest.items() if c in idx.row}
            dense = dict(sorted(dense.items(), key=lambda kv: -kv[1])[:POOL])
        else:
            dense = {idx.row[p.id]: p.score for p in self.store.query(vector, POOL, where=filters.where())
                     if p.id in idx.row}
        sparse = idx.bm25_search(query, POOL * 4)
        if filters.where() is not None:
            sparse = [(r, s) for r, s in sparse if filters.allows(idx.filter_meta(r))]
        sparse = dict(sparse)
        sparse = dict(sorted(sparse.items(), key=lambda kv: -kv[1])[:POOL])
        fused: dict[int, float] = {}
        if dense:
            hi, lo = max(dense.values()), min(dense.values())
            for r, s in dense.items():
                fused[r] = DENSE_WEIGHT * (s - lo) / (hi - lo if hi > lo else 1.0)
        if sparse:
            hi = max(sparse.values())
            for r, s in sparse.items():
                fused[r] = fused.get(r, 0.0) + (1 - DENSE_WEIGHT) * s / hi
        return fused

    def _time_prior(self, query: str, idx: _Index, filters: Filters, scores: dict[int, float]) -> None:
        as_of = (filters.as_of or datetime.now()).date()
        today = (as_of - _EPOCH).days
        boost = RECENT_BOOST_TIMELY if TIMELY.search(query) else RECENT_BOOST
        for r in scores:
            ts = idx.published_ts(r)
            if ts < 0:
                continue  # unknown date: neither boosted nor penalised
            age = today - ts
            if age < -1:
                scores[r] -= FUTURE_PENALTY
            elif age <= RECENT_DAYS:
                scores[r] += boost

    def _select(self, idx: _Index, scores: dict[int, float], k: int) -> list[Passage]:
        chosen: list[Passage] = []
        articles: set[str] = set()
        shingles: list[set[int]] = []
        order = sorted(scores, key=lambda r: -scores[r])
        for i, r in enumerate(order):
            if i % FETCH_BATCH == 0:  # read the next candidates and their neighbours from the store in one call
                idx.fetch(self._with_neighbours(idx, order[i:i + FETCH_BATCH]))
            h, pos = split_chunk_id(idx.ids[r])
            if h in articles:
                continue
            passage = self._passage(idx, r, h, pos, scores[r])
            sh = _shingles(passage.text)
            if any(len(sh & other) / max(1, len(sh | other)) > NEAR_DUPLICATE for other in shingles):
                continue
            articles.add(h)
            shingles.append(sh)
            chosen.append(passage)
            if len(chosen) == k:
                break
        return chosen

    @staticmethod
    def _with_neighbours(idx: _Index, rows: list[int]) -> list[int]:
        out = []
        for r in rows:
            h, pos = split_chunk_id(idx.ids[r])
            out += [r] + [nr for nr in (idx.row.get(f"{h}-{pos - 1:05d}"), idx.row.get(f"{h}-{pos + 1:05d}"))
                          if nr is not None]
        return out

    def _tokens(self, text: str) -> int:
        if self._tokenizer is None:
            with self._tokenizer_lock:  # question threads share one retriever: build the tokenizer once
                if self._tokenizer is None:
                    self._tokenizer = cl100k()
        return len(self._tokenizer(text))

    def _passage(self, idx: _Index, r: int, h: str, pos: int, score: float) -> Passage:
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
