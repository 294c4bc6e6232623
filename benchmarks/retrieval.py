"""Retrieval quality on the eval corpus: plain dense, plain BM25, reciprocal-rank fusion, and articlebot's retriever.

    python benchmarks/retrieval.py [--data-dir DIR] [-k 5]

All read the same store (the product's chunks, CHUNK_SIZE; with sentence vectors unless the store was built
with SENTENCE_VECTORS=false, in which case the articlebot row is the chunk-vector retriever). Answer recall@k and MRR@k follow
shared/eval/README.md; questions are the answerable ones, question text only, as-of the question's date.
Prints a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import time

from _common import corpus_settings, eval_path, percentile

from bot.learning.evaluate import question_as_of
from bot.learning.metrics import answer_rank, load_questions, mrr_at_k, recall_at_k
from vectorstore.embeddings import build_embedder
from vectorstore.retrieval import SENTENCE_POOL, Filters, Retriever
from vectorstore.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="store with the eval corpus (default .bench/realtimeqa, built if missing)")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    k = args.k
    questions = load_questions(eval_path(None, "questions.jsonl"), answerable_only=True)
    settings = corpus_settings(args.data_dir)
    store = open_store(settings)
    embedder = build_embedder(settings)
    retriever = Retriever(settings, store, embedder)
    idx = retriever.index()

    def dense(q):
        return [p.text for p in store.query(embedder.embed_query(q["question"]), k)]

    def dense_sentences(q):
        nearest = store.query_sentences(embedder.embed_query(q["question"]), SENTENCE_POOL)
        return [idx.docs[idx.row[c]] for c in sorted(nearest, key=lambda c: -nearest[c])[:k]]

    def bm25(q):
        return [idx.docs[r] for r, _ in idx.bm25_search(q["question"], k)]

    def rrf(q):
        scores: dict[str, float] = {}
        texts = {}
        for rank, p in enumerate(store.query(embedder.embed_query(q["question"]), 50), 1):
            scores[p.id] = scores.get(p.id, 0) + 1 / (60 + rank)
            texts[p.id] = p.text
        for rank, (r, _) in enumerate(idx.bm25_search(q["question"], 50), 1):
            cid = idx.ids[r]
            scores[cid] = scores.get(cid, 0) + 1 / (60 + rank)
            texts[cid] = idx.docs[r]
        return [texts[c] for c in sorted(scores, key=lambda c: -scores[c])[:k]]

    def articlebot(q):
        return [p.text for p in retriever.search(q["question"], k, Filters(as_of=question_as_of(q)))]

    variants = [("dense, chunk vectors (" + ("mean of its sentences" if idx.by_sentence else "title + text") + ")",
                 dense)]
    if idx.by_sentence:
        variants.append(("dense, sentence vectors (a chunk scores as its nearest sentence)", dense_sentences))
    variants += [("BM25 (bm25s, stemmed, title + text)", bm25),
                ("reciprocal-rank fusion of the two (k=60)", rrf),
                ("articlebot: score fusion + time prior + 1/article + dedupe + neighbours", articlebot)]
    print(f"{len(questions)} answerable questions, {store.count()} chunks of {settings.chunk_size} tokens, "
          f"{store.sentence_count()} sentence vectors\n")
    print(f"| retriever | answer recall@{k} | MRR@{k} | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for name, run in variants:
        ranks, times = [], []
        for q in questions:
            started = time.perf_counter()
            texts = run(q)
            times.append(1000 * (time.perf_counter() - started))
            ranks.append(answer_rank(q["answer"], texts))
        print(f"| {name} | {recall_at_k(ranks, k):.3f} | {mrr_at_k(ranks, k):.3f} | {statistics.median(times):.0f} "
              f"| {percentile(times, 95):.0f} |", flush=True)
    store.close()


if __name__ == "__main__":
    main()
