"""Fit the retriever's fusion weight, time prior and candidate depth on the training weeks, report validation.

    python benchmarks/fit_retrieval.py --data-dir STORE [--questions FILE] [--dev-data-dir DEV_STORE]

STORE holds the training articles (../shared/train/realtimeqa-train, ingested); its questions are split by week
with the seeded split of `articlebot eval --split` (bot/evaluate.py). Every answerable question's candidates are
read once (the deepest pool tried), then each setting re-fuses, re-weighs by time and re-selects them exactly as
vectorstore/retrieval.py does, so a setting costs no embedding or store query. The fit is coordinate ascent on
recall@5 + MRR@5 over the training weeks' questions, from the current defaults; the validation weeks are
reported, never fitted. With --dev-data-dir the dev questions (../shared/eval) are reported once for the current
and the fitted setting. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import _common  # noqa: F401 - puts the repository on the path

from bot.settings import Settings
from bot.evaluate import question_as_of, split_questions, week_of
from bot.metrics import answer_rank, load_questions, normalise
from vectorstore import analysis
from vectorstore.embeddings import build_embedder
from vectorstore.retrieval import _EPOCH, TIMELY, Filters, Retriever, Weights, distinct, fuse, time_prior
from vectorstore.store import open_store, split_chunk_id

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO.parent / "shared" / "train" / "realtimeqa-train" / "questions.jsonl"
DEV = REPO.parent / "shared" / "eval" / "realtimeqa-2023-01" / "questions.jsonl"
K = 5
GRID = {
    "dense": [0.3, 0.4, 0.5, 0.6, 0.7],
    "pool": [20, 30, 50, 75, 100],
    "recent_days": [3, 7, 10, 14, 21],
    "recent_boost": [0.0, 0.1, 0.2, 0.3, 0.4],
    "recent_boost_timely": [0.2, 0.4, 0.6, 0.8, 1.0],
    "future_penalty": [0.1, 0.2, 0.4, 0.7, 1.0],
}
DEPTH = max(GRID["pool"])


@dataclass
class Case:
    """One question's candidates, and what is known about each candidate's passage once it was built."""
    answer: str
    dense: dict[int, float]
    sparse: dict[int, float]
    today: int
    timely: bool
    holds: dict[int, bool] = field(default_factory=dict)
    shingles: dict[int, set[int]] = field(default_factory=dict)


class Reader:
    """Reads the cases of one store."""

    def __init__(self, data_dir: str):
        self.settings = Settings(data_dir=Path(data_dir))
        self.store = open_store(self.settings)
        self.retriever = Retriever(self.settings, self.store, build_embedder(self.settings))
        self.idx = self.retriever.index()

    def case(self, q: dict) -> Case:
        as_of = question_as_of(q) or datetime.now()
        dense, sparse = self.retriever.candidates(q["question"], self.idx, Filters(as_of=as_of), DEPTH)
        return Case(normalise(q["answer"]), dense, sparse, (as_of.date() - _EPOCH).days,
                    bool(TIMELY.search(q["question"])))

    def _passage(self, case: Case, r: int) -> None:
        h, pos = split_chunk_id(self.idx.ids[r])
        text = self.retriever._passage(self.idx, r, h, pos, 0.0).text
        case.holds[r] = bool(case.answer) and case.answer in normalise(text)
        case.shingles[r] = analysis.shingles(text)

    def rank(self, case: Case, w: Weights) -> int | None:
        scores = fuse(case.dense, case.sparse, w)
        time_prior(scores, self.idx.published_ts, case.today, case.timely, w)
        order = sorted(scores, key=lambda r: -scores[r])

        def shingles_of(r: int) -> set[int]:
            if r not in case.shingles:
                self._passage(case, r)
            return case.shingles[r]

        rows = distinct(order, lambda r: split_chunk_id(self.idx.ids[r])[0], shingles_of, K)
        return next((i for i, r in enumerate(rows, 1) if case.holds[r]), None)

    def measure(self, cases: list[Case], w: Weights) -> tuple[float, float]:
        ranks = [self.rank(c, w) for c in cases]
        if not ranks:
            return float("nan"), float("nan")
        return (sum(r is not None for r in ranks) / len(ranks), sum(1 / r for r in ranks if r) / len(ranks))


def fit(reader: Reader, cases: list[Case], start: Weights, rounds: int = 2) -> tuple[Weights, list[str]]:
    """Coordinate ascent on recall@5 + MRR@5; ties keep the current value (the simpler story)."""
    best = start
    best_score = sum(reader.measure(cases, best))
    log = []
    for _ in range(rounds):
        moved = False
        for name, values in GRID.items():
            for v in values:
                trial = replace(best, **{name: v})
                score = sum(reader.measure(cases, trial))
                if score > best_score + 1e-9:
                    best, best_score, moved = trial, score, True
            log.append(f"{name} = {getattr(best, name)} (recall + MRR {best_score:.3f})")
        if not moved:
            break
    return best, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="store of the training articles")
    parser.add_argument("--questions", default=str(TRAIN))
    parser.add_argument("--dev-data-dir", help="store of the dev articles: report the dev questions once")
    parser.add_argument("--limit", type=int, default=0, help="questions per side (a quick check)")
    parser.add_argument("--weeks", help="only these weeks (comma-separated): a store holding only their articles")
    parser.add_argument("--hold-out", help="report these weeks (comma-separated) instead of the seeded validation "
                                           "weeks, when the store lacks those")
    args = parser.parse_args()
    started = time.perf_counter()
    questions = load_questions(args.questions, answerable_only=True)
    if args.weeks:
        questions = [q for q in questions if week_of(q) in args.weeks.split(",")]
    if args.hold_out:
        held = set(args.hold_out.split(","))
        sides = {"training": [q for q in questions if week_of(q) not in held],
                 "validation": [q for q in questions if week_of(q) in held]}
    else:
        sides = {side: split_questions(questions, side) for side in ("training", "validation")}
    if args.limit:
        sides = {side: qs[:args.limit] for side, qs in sides.items()}
    reader = Reader(args.data_dir)
    cases = {side: [reader.case(q) for q in qs] for side, qs in sides.items()}
    print(f"read {sum(map(len, cases.values()))} questions' candidates in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    current = Weights()
    # the simulation must rank as the retriever does: checked on the first questions
    checked = sides["training"][:20]
    same = sum(reader.rank(c, current) == answer_rank(q["answer"], [
        p.text for p in reader.retriever.search(q["question"], K, Filters(as_of=question_as_of(q)))])
        for q, c in zip(checked, cases["training"]))
    print(f"the simulated ranks equal the retriever's for {same} of {len(checked)} questions", file=sys.stderr)
    fitted, log = fit(reader, cases["training"], current)
    print("Fit (coordinate ascent on the training weeks, recall@5 + MRR@5):\n")
    for line in log:
        print(f"- {line}")
    rows = [("current", current), ("fitted", fitted)]
    print(f"\n| setting | {' | '.join(GRID)} | training recall@5 / MRR@5 ({len(cases['training'])}) "
          f"| validation recall@5 / MRR@5 ({len(cases['validation'])}) |")
    print("|---" * (len(GRID) + 3) + "|")
    for name, w in rows:
        values = " | ".join(str(asdict(w)[g]) for g in GRID)
        tr, va = reader.measure(cases["training"], w), reader.measure(cases["validation"], w)
        print(f"| {name} | {values} | {tr[0]:.3f} / {tr[1]:.3f} | {va[0]:.3f} / {va[1]:.3f} |", flush=True)
    reader.store.close()
    if args.dev_data_dir:
        dev_reader = Reader(args.dev_data_dir)
        dev = [dev_reader.case(q) for q in load_questions(DEV, answerable_only=True)]
        print(f"\n| setting | dev recall@5 / MRR@5 ({len(dev)}) |\n|---|---|")
        for name, w in rows:
            r, m = dev_reader.measure(dev, w)
            print(f"| {name} | {r:.3f} / {m:.3f} |")
        dev_reader.store.close()
    print(f"\n{time.perf_counter() - started:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
