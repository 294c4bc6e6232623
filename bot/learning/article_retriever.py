"""The training retriever: BM25 over an articles.jsonl(.gz) with the engine's time prior, with no store and nothing
embedded (`articlebot train-reader --articles` and the training folders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class ArticleRetriever:
    """Passages for training straight from an articles.jsonl(.gz), without a store: the articles cleaned and chunked
    as ingest does them (ingest/cleaning.py, ingest/chunking.py), searched with BM25 through the project's analyser,
    with the retriever's time prior and one passage per article. No sentence is embedded, so 5,154 articles are
    indexed in about a minute where an ingest takes most of an hour on 2 busy cores; the difference from the engine's
    retrieval is that the dense side is missing (docs/reader.md says what that changes)."""

    def __init__(self, path: Path, settings):
        import gzip

        import bm25s

        from ingest.chunking import split_text
        from ingest.cleaning import clean_text
        from ingest.loaders import normalise_date
        from vectorstore import analysis
        from vectorstore.chunk_index import Vocabulary
        from vectorstore.passages import Passage

        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            articles = [json.loads(line) for line in fh if line.strip()]
        self.passages: list[Passage] = []
        self.article: list[int] = []
        self.days: list[int] = []
        for a, art in enumerate(articles):
            title = art.get("title") or ""
            published = normalise_date(art.get("published") or "")
            text = clean_text(art.get("text") or "", title)
            for pos, piece in enumerate(split_text(text, settings.chunk_size, settings.chunk_overlap)):
                self.passages.append(
                    Passage(
                        id=f"{art.get('id', a)}-{pos:05d}",
                        text=piece,
                        score=0.0,
                        title=title,
                        outlet=art.get("source") or "",
                        url=art.get("url") or "",
                        published=published,
                        position=pos,
                    )
                )
                self.article.append(a)
                self.days.append(_day(published))
        tokens = analysis.bm25_tokenize([f"{p.title}\n{p.text}" for p in self.passages])
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)
        df = np.diff(self.bm25.scores["indptr"])
        self._vocabulary = Vocabulary(self.bm25.vocab_dict, df, len(self.passages))
        self.ids = [p.id for p in self.passages]

    def vocabulary(self):
        return self._vocabulary

    def index(self):
        return self

    def search(self, query: str, k: int = 5, filters=None) -> list:
        from dataclasses import replace

        from vectorstore import analysis
        from vectorstore.ranking import FUTURE_PENALTY, POOL, RECENT_BOOST, RECENT_BOOST_TIMELY, RECENT_DAYS, TIMELY

        tokens = analysis.bm25_tokenize([query])
        if not tokens.vocab:
            return []
        rows, scores = self.bm25.retrieve(tokens, k=min(POOL * 4, len(self.passages)), show_progress=False)
        today = _day(filters.as_of.date().isoformat()) if filters is not None and filters.as_of else None
        until = _day(filters.until.isoformat()) if filters is not None and filters.until else None
        hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]
        if until is not None:
            hits = [(r, s) for r, s in hits if 0 <= self.days[r] <= until]
        hits = hits[:POOL]
        top = max((s for _, s in hits), default=1.0)
        boost = RECENT_BOOST_TIMELY if TIMELY.search(query) else RECENT_BOOST
        scored = []
        for r, s in hits:
            score = s / top
            if today is not None and self.days[r] >= 0:
                age = today - self.days[r]
                score += -FUTURE_PENALTY if age < -1 else boost if age <= RECENT_DAYS else 0.0
            scored.append((score, r))
        out, seen = [], set()
        for score, r in sorted(scored, key=lambda x: -x[0]):
            if self.article[r] in seen:
                continue
            seen.add(self.article[r])
            out.append(replace(self.passages[r], score=score))
            if len(out) == k:
                break
        return out


def _day(published: str) -> int:
    from datetime import date

    try:
        return (date.fromisoformat(published[:10]) - date(1970, 1, 1)).days
    except ValueError:
        return -1
