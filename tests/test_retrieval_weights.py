"""The retriever's fitted weights (vectorstore/ranking.py Weights) and the script that fits them
(benchmarks/fit_retrieval.py): fusion, the time prior and the per-article selection are the same functions in
both, so what is fitted is what answers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import EXAMPLES, REPO

from vectorstore.ranking import Weights, distinct, fuse, time_prior


def test_fusion_weighs_the_two_sides_and_keeps_each_sides_top_pool():
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    sparse = {3: 10.0, 4: 5.0}
    assert fuse(dense, sparse, Weights(dense=1.0)) == {1: 1.0, 2: 0.5, 3: 0.0, 4: 0.0}
    only_bm25 = fuse(dense, sparse, Weights(dense=0.0))
    assert max(only_bm25, key=only_bm25.get) == 3
    assert set(fuse(dense, sparse, Weights(pool=1))) == {1, 3}


def test_the_time_prior_lifts_recent_articles_and_pushes_down_later_ones():
    published = {1: 100, 2: 95, 3: 102, 4: -1}
    w = Weights(recent_days=7, recent_boost=0.2, recent_boost_timely=0.5, future_penalty=0.4)
    scores = dict.fromkeys(published, 1.0)
    time_prior(scores, published.get, 100, False, w)
    assert scores == {1: 1.2, 2: 1.2, 3: 0.6, 4: 1.0}
    scores = dict.fromkeys(published, 1.0)
    time_prior(scores, published.get, 100, True, w)
    assert scores[1] == 1.5


def test_one_passage_per_article_and_no_near_duplicates():
    article = {1: "a", 2: "a", 3: "b", 4: "c"}
    shingles = {1: {1, 2, 3}, 2: {9}, 3: {1, 2, 3}, 4: {4, 5}}
    assert distinct([1, 2, 3, 4], article.get, shingles.get, 5) == [1, 4]


@pytest.mark.slow
def test_the_fit_script_runs_end_to_end_on_a_tiny_store(tmp_path):
    env_dir = tmp_path / "store"
    import os

    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(env_dir), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", "--quiet", str(EXAMPLES)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    questions = tmp_path / "q.jsonl"
    rows = [("How much did the Lantern Bridge repair cost?", "86 million crowns", "w1"),
            ("What did the central bank decide?", "4.5", "w2"),
            ("Which bridge reopened to traffic after a repair?", "Lantern Bridge", "w3"),
            ("By how much did the central bank raise its key rate?", "quarter point", "w4")]
    questions.write_text("".join(json.dumps({"question": q, "answer": a, "date": "2025/03/20", "week": w,
                                             "answerable": True}) + "\n" for q, a, w in rows))
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fit_retrieval.py"), "--data-dir", str(env_dir),
                           "--questions", str(questions)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "the simulated ranks equal the retriever's for 3 of 3 questions" in done.stderr
    fitted = next(line for line in done.stdout.splitlines() if line.startswith("| fitted |"))
    assert fitted.endswith("| 1.000 / 1.000 | 1.000 / 1.000 |")
