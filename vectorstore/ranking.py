"""How retrieval ranks candidates: the dense and BM25 sides fused, the time prior, one source per article.

Pure functions over row numbers and scores, shared by the Retriever (vectorstore/retrieval.py) and by
benchmarks/fit_retrieval.py, which re-runs them for every setting it tries. The numbers are fitted on the training
weeks (benchmarks/fit_retrieval.py; docs/retrieval.md has the figures).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vectorstore import analysis

POOL = 100  # candidates taken from each side before fusion
DENSE_WEIGHT = 0.4  # fusion weight of the dense side (BM25 gets the rest)
RECENT_DAYS = 10
RECENT_BOOST = 0.3  # published within RECENT_DAYS before as_of
RECENT_BOOST_TIMELY = 0.6  # ... when the question itself asks about recent events
FUTURE_PENALTY = 0.4  # published after as_of: not news "as of" then (a rule, not fitted)
NEAR_DUPLICATE = 0.6  # Jaccard of word 5-shingles above which two passages say the same thing

TIMELY = re.compile(
    r"\b(this (week|month|year|weekend|morning)|last (week|month|weekend|night)|yesterday|today|"
    r"tonight|current(ly)?|recent(ly)?|latest|newest|just|now|upcoming|so far|ongoing|this past)\b",
    re.I,
)


@dataclass(frozen=True)
class Weights:
    """How the two sides are fused and how much time counts: fitted on the training weeks
    (benchmarks/fit_retrieval.py), defaults above."""

    dense: float = DENSE_WEIGHT
    pool: int = POOL
    recent_days: int = RECENT_DAYS
    recent_boost: float = RECENT_BOOST
    recent_boost_timely: float = RECENT_BOOST_TIMELY
    future_penalty: float = FUTURE_PENALTY


def fuse(dense: dict[int, float], sparse: dict[int, float], w: Weights) -> dict[int, float]:
    """Min-max normalised dense scores and max-normalised BM25 scores of each side's top `w.pool`, weighted."""
    dense = dict(sorted(dense.items(), key=lambda kv: -kv[1])[: w.pool])
    sparse = dict(sorted(sparse.items(), key=lambda kv: -kv[1])[: w.pool])
    fused: dict[int, float] = {}
    if dense:
        hi, lo = max(dense.values()), min(dense.values())
        for r, s in dense.items():
            fused[r] = w.dense * (s - lo) / (hi - lo if hi > lo else 1.0)
    if sparse:
        hi = max(sparse.values())
        for r, s in sparse.items():
            fused[r] = fused.get(r, 0.0) + (1 - w.dense) * s / hi
    return fused


def time_prior(scores: dict[int, float], published_ts, today: int, timely: bool, w: Weights) -> None:
    """Push down what was published after `today` (days since 1970), lift what was published shortly before."""
    boost = w.recent_boost_timely if timely else w.recent_boost
    for r in scores:
        ts = published_ts(r)
        if ts < 0:
            continue  # unknown date: neither boosted nor penalised
        age = today - ts
        if age < -1:
            scores[r] -= w.future_penalty
        elif age <= w.recent_days:
            scores[r] += boost


def distinct(order: list[int], article_of, shingles_of, k: int) -> list[int]:
    """The first k rows of `order` from k different articles whose passages are not near-duplicates of each
    other (one wire story republished by several outlets is one source)."""
    chosen: list[int] = []
    articles: set[str] = set()
    seen: list[set[int]] = []
    for r in order:
        article = article_of(r)
        if article in articles:
            continue
        sh = shingles_of(r)
        if any(analysis.jaccard(sh, other) > NEAR_DUPLICATE for other in seen):
            continue
        articles.add(article)
        seen.append(sh)
        chosen.append(r)
        if len(chosen) == k:
            break
    return chosen
