"""Questions answered at once share their model runs and Chroma queries (bot/answering/batching.py): calls made while
one runs go together in the next, each caller gets its own result, and answers are what they are one at a time."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import EXAMPLES

QUESTIONS = [("How much did the Lantern Bridge repair cost?", "86 million crowns"),
             ("When did the Glacier Lake ferry resume?", "three weeks earlier"),
             ("How many visitors came to the Lantern Festival?", "210,000"),
             ("What did the central bank decide about interest rates?", "4.5 percent")]


def test_calls_made_while_one_runs_go_together_in_the_next_and_each_gets_its_own_result():
    from bot.answering.batching import Coalescer

    first_running, release, batches = threading.Event(), threading.Event(), []

    def run(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_running.set()
            release.wait(30)
        return [item * 10 for item in items]

    merged = Coalescer(run, limit=32)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(merged, 1)
        first_running.wait(30)
        rest = [pool.submit(merged, n) for n in range(2, 7)]
        while len(merged._waiting) < 5:                     # all five wait for the run in progress
            threading.Event().wait(0.01)
        release.set()
        results = [first.result(30)] + [f.result(30) for f in rest]
    assert results == [10, 20, 30, 40, 50, 60]
    assert [sorted(b) for b in batches] == [[1], [2, 3, 4, 5, 6]] and merged.runs == 2


def test_only_calls_with_the_same_key_go_together_and_a_failed_run_fails_each_of_its_calls():
    from bot.answering.batching import Coalescer

    first_running, release, batches = threading.Event(), threading.Event(), []

    def run(items):
        batches.append(sorted(items))
        if len(batches) == 1:
            first_running.set()
            release.wait(30)
        if "bad" in items:
            raise ValueError("the store said no")
        return [f"{item}!" for item in items]

    merged = Coalescer(run, limit=32)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(merged, "a1", "a")
        first_running.wait(30)
        others = {item: pool.submit(merged, item, key) for item, key in (("b1", "b"), ("bad", "b"), ("a2", "a"))}
        while len(merged._waiting) < 3:
            threading.Event().wait(0.01)
        release.set()
        assert first.result(30) == "a1!" and others["a2"].result(30) == "a2!"
        for item in ("b1", "bad"):                          # in one run with the failing one: both fail
            with pytest.raises(ValueError):
                others[item].result(30)
    assert sorted(batches) == [["a1"], ["a2"], ["b1", "bad"]] and merged._waiting == []


def test_merged_nearest_sentence_queries_give_each_vector_its_own_neighbours(store, embedder):
    from bot.answering.batching import BatchedNeighbours
    from ingest.pipeline import ingest

    ingest(store.settings, store, [str(EXAMPLES)], embedder)
    vectors = [embedder.embed_query(q) for q, _ in QUESTIONS]
    one_by_one = [store.sentences.query(query_embeddings=[v], n_results=20, include=["distances"]) for v in vectors]
    merged = BatchedNeighbours(store.sentences)._query([(v, 20, None, ["distances"]) for v in vectors])
    for alone, together in zip(one_by_one, merged):
        assert together["ids"] == alone["ids"]
        assert np.allclose(together["distances"][0], alone["distances"][0])


def test_answers_from_a_batching_engine_under_concurrent_questions_are_the_right_ones(settings, tmp_path):
    from bot.answering.batching import BatchedEmbedder
    from bot.engine import Engine
    from ingest.pipeline import ingest

    engine = Engine.from_settings(settings)
    try:
        ingest(settings, engine.store, [str(EXAMPLES)], engine.embedder)
        engine.retriever.refresh()
        assert isinstance(engine.embedder, BatchedEmbedder)
        asks = [(f"c{i}", *QUESTIONS[i % len(QUESTIONS)]) for i in range(24)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda a: engine.ask(a[0], a[1]), asks))
        for (_, _, fact), answer in zip(asks, answers):
            assert fact in answer.text, answer.text
        runs = engine.embedder.queries.runs
        assert 0 < runs <= len(asks)                        # fewer model runs than questions when they overlap
    finally:
        engine.close()
