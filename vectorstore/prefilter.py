"""Filtered dense search that stays fast as the store grows: filter in this process, not in Chroma.

Chroma evaluates a `where` filter against its metadata table before the vector search, at a cost that grows with
the collection, not with what the filter keeps: with a date filter a 41k-vector store answered in ~210-410 ms
against ~3 ms unfiltered, and 1M vectors took 1.9-2.5 s (benchmarks/scale.py, docs/ingest-speed.md). The BM25 index already holds every
chunk's date and outlet in arrays (vectorstore/bm25index.py), so the filter is a numpy mask over chunks; the vector
search asks Chroma, unfiltered, for as many nearest sentences as the filter's share of the store calls for, and keeps
those of allowed chunks. A filter so narrow that even MAX_SENTENCES nearest would hold too few allowed ones, or a
question whose nearest sentences hold almost none, is left to Chroma's own filter (correct at any share, slower).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

_EPOCH = date(1970, 1, 1)
MAX_SENTENCES = 3000  # the most sentences one unfiltered query asks for (~17 ms at 41k vectors, against ~3 ms for 300)
MARGIN = 1.5  # sentences are not spread over chunks evenly: ask for this many times the expected need
MIN_EXPECTED = 100  # fewer allowed sentences expected among MAX_SENTENCES than this: Chroma's filter instead
MIN_KEPT = 5  # fewer allowed chunks among the nearest sentences than this: Chroma's filter after all
MAX_BY_ID = 5000  # a narrow filter allowing at most this many chunks searches their own vectors by id


def allowed_rows(
    published_ts: np.ndarray,
    outlet_code: np.ndarray,
    outlets: list[str],
    *,
    outlet: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> np.ndarray:
    """A boolean mask over the index's rows (chunks): those the filter lets through."""
    mask = np.ones(len(published_ts), dtype=bool)
    if outlet is not None:
        mask &= outlet_code == (outlets.index(outlet) if outlet in outlets else -1)
    if since is not None:
        mask &= published_ts >= (since - _EPOCH).days
    if until is not None:
        # an unknown date (-1) is before every `until`, as Chroma's $lte on published_ts has it
        mask &= published_ts <= (until - _EPOCH).days
    return mask


def nearest_chunks(
    store,
    vector: list[float],
    pool: int,
    where: dict | None,
    mask: np.ndarray | None,
    row: dict[str, int],
    ids: list[str] | None = None,
) -> dict[str, float]:
    """The chunks whose sentences are nearest the vector among those `mask` allows, each scored by its nearest
    sentence (what ArticleStore.query_sentences gives, filtered). `row` maps a chunk id to its row in `mask`, `ids`
    (optional) a row to its chunk id."""
    if where is None or mask is None:
        return store.query_sentences(vector, pool, where=where)
    share = float(mask.mean()) if len(mask) else 0.0
    if share == 0.0:
        return {}
    k = min(MAX_SENTENCES, max(pool, math.ceil(pool / share * MARGIN)))
    if share * k < MIN_EXPECTED:
        return narrow(store, vector, pool, where, mask, ids)
    nearest = store.query_sentences(vector, k)
    kept = {cid: score for cid, score in nearest.items() if cid in row and mask[row[cid]]}
    if len(kept) < MIN_KEPT:  # the allowed chunks lie far from the question: only a filtered search finds them
        return narrow(store, vector, pool, where, mask, ids)
    return kept


def narrow(store, vector: list[float], pool: int, where: dict, mask: np.ndarray, ids: list[str] | None):
    """A filter that allows few chunks: their own vectors (each the mean of its sentences'), searched by id in the
    chunk collection, at a cost that grows with the chunks allowed rather than with the store (Chroma's `where` on
    the sentence collection goes through every vector's metadata: ~0.4 s at 1M vectors, docs/ingest-speed.md).
    Chroma's filter when there are too many, or the index names a chunk the store no longer holds."""
    if ids is not None:
        allowed = [ids[i] for i in np.flatnonzero(mask)]
        if len(allowed) <= MAX_BY_ID:
            try:
                return store.query_chunks_by_id(vector, pool, allowed)
            except Exception:  # noqa: BLE001 - Chroma raises a bare internal error for an id it does not hold
                pass
    return store.query_sentences(vector, pool, where=where)
