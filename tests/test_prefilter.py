"""Date and outlet filters applied in process: the same chunks as Chroma's filter, without its cost."""
from __future__ import annotations

from datetime import date

import numpy as np

from vectorstore import prefilter


class FakeStore:
    """Sentences nearest first: chunk c{i} at score 1 - i/1000; records what it was asked."""

    def __init__(self, n: int, stale: bool = False):
        self.n = n
        self.stale = stale
        self.calls: list[tuple[int, dict | None]] = []
        self.by_id: list[tuple[int, list[str]]] = []

    def query_chunks_by_id(self, vector, k, ids):
        self.by_id.append((k, ids))
        if self.stale:
            raise RuntimeError("Error executing plan: Internal error: Error finding id")
        return {cid: 0.5 for cid in ids[:k]}

    def query_sentences(self, vector, k, where=None):
        self.calls.append((k, where))
        return {f"c{i}": 1 - i / 1000 for i in range(min(k, self.n))}


def test_masks_dates_and_outlets_like_chromas_filter():
    epoch = date(1970, 1, 1)
    ts = np.array([(date(2023, 1, d) - epoch).days for d in (2, 9, 16)] + [-1], dtype=np.int32)
    codes = np.array([0, 1, 0, 0], dtype=np.int32)
    mask = prefilter.allowed_rows(ts, codes, ["Wire", "Gazette"], since=date(2023, 1, 9))
    assert mask.tolist() == [False, True, True, False]  # unknown dates fail $gte
    mask = prefilter.allowed_rows(ts, codes, ["Wire", "Gazette"], until=date(2023, 1, 9), outlet="Wire")
    assert mask.tolist() == [True, False, False, True]  # unknown dates pass $lte, as in Chroma
    assert not prefilter.allowed_rows(ts, codes, ["Wire"], outlet="Nowhere").any()


def test_a_wide_filter_asks_chroma_unfiltered_for_enough_sentences_and_keeps_the_allowed_chunks():
    store = FakeStore(5000)
    row = {f"c{i}": i for i in range(5000)}
    mask = np.arange(5000) % 2 == 0  # half the store
    got = prefilter.nearest_chunks(store, [0.0], 300, {"published_ts": {"$gte": 1}}, mask, row)
    assert store.calls == [(900, None)]  # 300 / 0.5 × 1.5, no `where`
    assert set(got) == {f"c{i}" for i in range(0, 900, 2)}


def test_a_very_narrow_filter_searches_the_allowed_chunks_by_id():
    store = FakeStore(100000)
    ids = [f"c{i}" for i in range(100000)]
    row = {cid: i for i, cid in enumerate(ids)}
    mask = np.zeros(100000, dtype=bool)
    mask[[3, 70, 99999]] = True
    where = {"published_ts": {"$gte": 1}}
    got = prefilter.nearest_chunks(store, [0.0], 300, where, mask, row, ids)
    assert store.by_id == [(300, ["c3", "c70", "c99999"])] and store.calls == []
    assert set(got) == {"c3", "c70", "c99999"}


def test_a_narrow_filter_without_ids_or_with_too_many_chunks_or_a_stale_id_is_left_to_chroma(monkeypatch):
    where = {"published_ts": {"$gte": 1}}
    store = FakeStore(100000)
    mask = np.zeros(100000, dtype=bool)
    mask[:10] = True
    row = {f"c{i}": i for i in range(100000)}
    prefilter.nearest_chunks(store, [0.0], 300, where, mask, row)  # no ids: Chroma's filter
    assert store.calls == [(300, where)] and store.by_id == []
    monkeypatch.setattr(prefilter, "MAX_BY_ID", 5)
    store = FakeStore(100000)
    prefilter.nearest_chunks(store, [0.0], 300, where, mask, row, list(row))
    assert store.calls == [(300, where)] and store.by_id == []
    monkeypatch.setattr(prefilter, "MAX_BY_ID", 5000)
    store = FakeStore(100000, stale=True)  # the index names a chunk the store no longer holds
    prefilter.nearest_chunks(store, [0.0], 300, where, mask, row, list(row))
    assert store.calls == [(300, where)] and len(store.by_id) == 1


def test_by_id_against_real_chroma_finds_the_nearest_allowed_chunk(tmp_path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from vectorstore.store import ArticleStore

    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    chunks = client.create_collection("chunks", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(200, 8)).astype(np.float32)
    chunks.add(ids=[f"c{i}" for i in range(200)], embeddings=vecs)
    store = ArticleStore.__new__(ArticleStore)  # only the chunk collection is needed for this call
    store.chunks = chunks
    got = store.query_chunks_by_id(vecs[7].tolist(), 3, ["c7", "c8", "c150", "c151"])
    assert list(got)[0] == "c7" and set(got) <= {"c7", "c8", "c150", "c151"} and len(got) == 3
    assert store.query_chunks_by_id(vecs[7].tolist(), 3, []) == {}


def test_no_filter_is_one_plain_query_and_an_empty_filter_asks_nothing():
    store = FakeStore(10)
    assert len(prefilter.nearest_chunks(store, [0.0], 300, None, None, {})) == 10
    assert store.calls == [(300, None)]
    assert prefilter.nearest_chunks(store, [0.0], 300, {"outlet": "x"}, np.zeros(10, dtype=bool), {}) == {}
    assert len(store.calls) == 1


def test_when_the_nearest_sentences_hold_almost_no_allowed_chunk_chroma_filters_after_all():
    store = FakeStore(5000)
    row = {f"c{i}": i for i in range(5000)}
    mask = np.zeros(5000, dtype=bool)
    mask[4000:] = True  # a fifth of the store, all far from the question
    where = {"published_ts": {"$gte": 1}}
    prefilter.nearest_chunks(store, [0.0], 300, where, mask, row)
    assert store.calls == [(2250, None), (300, where)]
