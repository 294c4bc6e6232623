"""Date and outlet filters applied in process: the same chunks as Chroma's filter, without its cost."""
from __future__ import annotations

from datetime import date

import numpy as np

from vectorstore import prefilter


class FakeStore:
    """Sentences nearest first: chunk c{i} at score 1 - i/1000; records what it was asked."""

    def __init__(self, n: int):
        self.n = n
        self.calls: list[tuple[int, dict | None]] = []

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


def test_a_very_narrow_filter_is_left_to_chroma():
    store = FakeStore(100000)
    row = {f"c{i}": i for i in range(100000)}
    mask = np.zeros(100000, dtype=bool)
    mask[:10] = True
    where = {"published_ts": {"$gte": 1}}
    prefilter.nearest_chunks(store, [0.0], 300, where, mask, row)
    assert store.calls == [(300, where)]


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
