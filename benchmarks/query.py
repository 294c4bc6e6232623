"""Query latency on the 782-article eval corpus: retrieval alone, retrieval + extractive answer, and cold start.

    python benchmarks/query.py [--data-dir DIR] [--rounds 2] [--cold-runs 5]

Warm figures: the engine is built once, then every eval question is asked (as-of its date) `--rounds` times;
p50/p95 over all of them. Cold start: wall time and peak RSS of a fresh `articlebot ask` process (imports, model
load, the saved BM25 index, one answer), and of `articlebot --help`; and how long loading the saved BM25 index takes
and how large it is on disk. Targets (issue 14): cold ask p50 <= 2.0 s and <= 500 MB; warm retrieval + extractive
p50 <= 60 ms, on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _common import REPO, corpus_settings, current_rss_mb, eval_path, peak_rss_mb, percentile, run_measured

from bot.learning.evaluate import question_as_of
from bot.learning.metrics import load_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="store with the eval corpus (default .bench/realtimeqa, built if missing)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    questions = load_questions(eval_path(None, "questions.jsonl"))
    settings = corpus_settings(args.data_dir)

    from bot.engine import Engine

    started = time.perf_counter()
    engine = Engine.from_settings(settings)
    engine.embedder.embed_query("warm up")  # loads the model
    before_index = current_rss_mb()
    engine.retriever.index()  # the saved BM25 index, memory-mapped (chunk texts are read per question)
    index_mb = current_rss_mb() - before_index
    from vectorstore import bm25index

    loads = []
    for _ in range(5):
        t0 = time.perf_counter()
        assert bm25index.load(settings, engine.store.version()) is not None, "no saved BM25 index"
        loads.append(time.perf_counter() - t0)
    index_dir = bm25index.index_dir(settings)
    index_disk_mb = sum(p.stat().st_size for p in index_dir.iterdir()) / 1e6
    warmup = time.perf_counter() - started
    retrieval, answering = [], []
    for _ in range(args.rounds):
        for q in questions:
            t0 = time.perf_counter()
            passages = engine.retrieve(q["question"], as_of=question_as_of(q))
            t1 = time.perf_counter()
            engine.answerer.answer(q["question"], passages, [])
            t2 = time.perf_counter()
            retrieval.append(1000 * (t1 - t0))
            answering.append(1000 * (t2 - t0))
    rss = peak_rss_mb()
    chunks = engine.store.count()
    engine.close()

    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(settings.data_dir)}
    cold, cold_rss = [], []
    for _ in range(args.cold_runs):
        seconds, rss_mb = run_measured([sys.executable, "-m", "bot.cli", "ask", "What did the Fed decide about rates?"],
                                       cwd=REPO, env=env)
        cold.append(seconds)
        cold_rss.append(rss_mb)
    helps = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "--help"], cwd=REPO, env=env, check=True, capture_output=True)
        helps.append(time.perf_counter() - t0)

    n = len(retrieval)
    print(f"{len(questions)} questions x {args.rounds} rounds on {chunks} chunks, {os.cpu_count()} cores\n")
    print("| measure | p50 | p95 |\n|---|---|---|")
    print(f"| retrieval (hybrid, k=5), warm | {statistics.median(retrieval):.0f} ms | {percentile(retrieval, 95):.0f} ms |")
    print(f"| retrieval + extractive answer, warm | {statistics.median(answering):.0f} ms "
          f"| {percentile(answering, 95):.0f} ms |")
    print(f"| engine start in-process (model + index) | {warmup:.1f} s | |")
    print(f"| cold `articlebot ask` (new process) | {statistics.median(cold):.2f} s | {percentile(cold, 95):.2f} s |")
    print(f"| peak RSS of that `ask` | {statistics.median(cold_rss):.0f} MB | {percentile(cold_rss, 95):.0f} MB |")
    print(f"| loading the saved BM25 index ({index_disk_mb:.1f} MB on disk) | {1000 * statistics.median(loads):.0f} ms "
          f"| {1000 * percentile(loads, 95):.0f} ms |")
    print(f"| `articlebot --help` | {1000 * statistics.median(helps):.0f} ms | {1000 * max(helps):.0f} ms (max) |")
    print(f"\npeak RSS of the warm process: {rss:.0f} MB, of which loading the BM25 index added {index_mb:.0f} MB; "
          f"{n} timed queries; {args.cold_runs} cold runs")


if __name__ == "__main__":
    main()
