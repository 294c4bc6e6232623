"""Retrieval quality of a date-filtered question, by the three ways the dense side can apply the filter.

    python benchmarks/narrow_filter.py [--days 10,4] [--data-dir STORE]

Every answerable dev question is asked with `since` = its date − N days, and answer recall@5 / MRR@5 are printed
for: `auto` (what the retriever does: oversampled unfiltered sentences for a wide filter, prefilter.narrow for a
narrow one), `where` (Chroma's filter on the sentence vectors: the nearest sentence, exactly, but at a cost linear
in the store) and `by-id` (prefilter.narrow forced: the allowed chunks' own vectors, searched by id). The paths
are forced by patching vectorstore/prefilter.py in this process only. Speed: benchmarks/scale.py.
"""
from __future__ import annotations

import argparse
import datetime as dt

from _common import EVAL, corpus_settings


def measure(engine, questions, days: int) -> tuple[float, float]:
    from bot.evaluate import question_as_of
    from bot.metrics import answer_rank

    found = mrr = 0.0
    for q in questions:
        as_of = question_as_of(q)
        since = (as_of - dt.timedelta(days=days)).date()
        rank = answer_rank(q["answer"], [p.text for p in engine.retrieve(q["question"], k=5, as_of=as_of, since=since)])
        if rank:
            found, mrr = found + 1, mrr + 1 / rank
    return found / len(questions), mrr / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="10,4")
    parser.add_argument("--data-dir", help="store with the eval corpus (default .bench/realtimeqa, built if missing)")
    args = parser.parse_args()
    if not (EVAL / "questions.jsonl").exists():
        print(f"skipped: eval data not found at {EVAL}")
        return
    from pathlib import Path

    from bot.engine import Engine
    from bot.metrics import load_questions
    from bot.settings import Settings
    from vectorstore import prefilter

    settings = Settings(data_dir=Path(args.data_dir)) if args.data_dir else corpus_settings(None)
    engine = Engine.from_settings(settings)
    questions = [q for q in load_questions(EVAL / "questions.jsonl") if q.get("answerable", True)]
    narrow, expected = prefilter.narrow, prefilter.MIN_EXPECTED

    def chroma_where(store, vector, pool, where, mask, ids):
        return store.query_sentences(vector, pool, where=where)

    paths = {"auto": (narrow, expected), "where": (chroma_where, float("inf")), "by-id": (narrow, float("inf"))}
    print(f"{len(questions)} answerable dev questions, since = question date − N days; recall@5 / MRR@5\n")
    print("| since | " + " | ".join(paths) + " |")
    print("|---" * (len(paths) + 1) + "|")
    for days in [int(d) for d in args.days.split(",")]:
        cells = []
        for fn, min_expected in paths.values():
            prefilter.narrow, prefilter.MIN_EXPECTED = fn, min_expected
            recall, mrr = measure(engine, questions, days)
            cells.append(f"{recall:.3f} / {mrr:.3f}")
        print(f"| − {days} days | " + " | ".join(cells) + " |")
    prefilter.narrow, prefilter.MIN_EXPECTED = narrow, expected
    engine.close()


if __name__ == "__main__":
    main()
