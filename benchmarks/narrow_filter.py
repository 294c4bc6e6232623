"""Retrieval quality of a date-filtered question, by the three ways the dense side can apply the filter.

    python benchmarks/narrow_filter.py [--days 10,4] [--data-dir STORE]
    python benchmarks/narrow_filter.py --data-dir STORE --questions ../shared/train/realtimeqa-train/questions.jsonl \
        --split validation        # a store of the validation weeks' articles: months, where a few days are narrow

Every answerable dev question is asked with `since` = its date − N days, and answer recall@5 / MRR@5 are printed
for: `auto` (what the retriever does: oversampled unfiltered sentences for a wide filter, prefilter.narrow for a
narrow one), `where` (Chroma's filter on the sentence vectors: the nearest sentence, exactly, but at a cost linear
in the store) and `by-id` (prefilter.narrow forced: the allowed chunks' own vectors, searched by id). The paths
are forced by patching vectorstore/prefilter.py in this process only. Speed: benchmarks/scale.py.
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from _common import EVAL, corpus_settings


def measure(engine, questions, days: int, window: bool = False) -> tuple[float, float]:
    from bot.learning.evaluate import question_as_of
    from bot.learning.metrics import answer_rank

    found = mrr = 0.0
    for q in questions:
        as_of = question_as_of(q)
        since = (as_of - dt.timedelta(days=days)).date()
        until = as_of.date() if window else None
        hits = engine.retrieve(q["question"], k=5, as_of=as_of, since=since, until=until)
        rank = answer_rank(q["answer"], [p.text for p in hits])
        if rank:
            found, mrr = found + 1, mrr + 1 / rank
    return found / len(questions), mrr / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="10,4")
    parser.add_argument("--data-dir", help="store with the eval corpus (default .bench/realtimeqa, built if missing)")
    parser.add_argument("--questions", help="questions.jsonl (default: the eval corpus's)")
    parser.add_argument("--window", action="store_true", help="until = the question's date as well (a window)")
    parser.add_argument("--split", choices=("validation", "training"), help="one side of the training week split")
    args = parser.parse_args()
    source = Path(args.questions) if args.questions else EVAL / "questions.jsonl"
    if not source.exists():
        print(f"skipped: questions not found at {source}")
        return
    from bot.engine import Engine
    from bot.learning.evaluate import split_questions
    from bot.learning.metrics import load_questions
    from bot.settings import Settings
    from vectorstore import prefilter

    settings = Settings(data_dir=Path(args.data_dir)) if args.data_dir else corpus_settings(None)
    engine = Engine.from_settings(settings)
    questions = [q for q in split_questions(load_questions(source), args.split) if q.get("answerable", True)]
    narrow, expected = prefilter.narrow, prefilter.MIN_EXPECTED

    def chroma_where(store, vector, pool, where, mask, ids):
        return store.query_sentences(vector, pool, where=where)

    paths = {"auto": (narrow, expected), "where": (chroma_where, float("inf")), "by-id": (narrow, float("inf"))}
    print(f"{len(questions)} answerable questions ({source.name}{', ' + args.split if args.split else ''}), since = question date − N days"
          f"{', until = its date' if args.window else ''}; recall@5 / MRR@5\n")
    print("| since | " + " | ".join(paths) + " |")
    print("|---" * (len(paths) + 1) + "|")
    for days in [int(d) for d in args.days.split(",")]:
        cells = []
        for fn, min_expected in paths.values():
            prefilter.narrow, prefilter.MIN_EXPECTED = fn, min_expected
            recall, mrr = measure(engine, questions, days, args.window)
            cells.append(f"{recall:.3f} / {mrr:.3f}")
        print(f"| − {days} days | " + " | ".join(cells) + " |")
    prefilter.narrow, prefilter.MIN_EXPECTED = narrow, expected
    engine.close()


if __name__ == "__main__":
    main()
