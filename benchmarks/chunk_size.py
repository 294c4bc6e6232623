"""Answer recall@5 and MRR@5 of plain dense retrieval per chunk size, on the eval corpus: how CHUNK_SIZE was chosen.

    python benchmarks/chunk_size.py [--sizes 128,192,256,384,512] [--limit-articles N]

Chunks are made by the product's own chunker (title embedded with each chunk), embedded with all-MiniLM-L6-v2,
and searched by cosine over the answerable questions (question text only). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _common import eval_path

from bot.learning.metrics import answer_rank, load_articles, load_questions, mrr_at_k, recall_at_k
from bot.settings import Settings
from ingest.article import Article
from ingest.chunking import chunk
from vectorstore.embeddings import build_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,192,256,384,512")
    parser.add_argument("--limit-articles", type=int, default=0)
    parser.add_argument("--data", help="folder with articles.jsonl and questions.jsonl")
    args = parser.parse_args()
    articles = load_articles(eval_path(args.data and f"{args.data}/articles.jsonl", "articles.jsonl"))
    questions = load_questions(eval_path(args.data and f"{args.data}/questions.jsonl", "questions.jsonl"),
                               answerable_only=True)
    if args.limit_articles:
        articles = articles[:args.limit_articles]
    embedder = build_embedder(Settings())
    qv = np.array(embedder.embed_documents([q["question"] for q in questions]), dtype=np.float32)
    print("| chunk size (tokens) | overlap | chunks | answer recall@5 | MRR@5 | embedding chunks/s |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        overlap = size // 6
        chunks = [c for a in articles
                  for c in chunk(Article(text=a["text"], title=a["title"]), size, overlap)]
        started = time.perf_counter()
        vectors = np.array(embedder.embed_documents([c.embed_text for c in chunks]), dtype=np.float32)
        rate = len(chunks) / (time.perf_counter() - started)
        top = np.argsort(-(qv @ vectors.T), axis=1)[:, :5]
        ranks = [answer_rank(q["answer"], [chunks[i].text for i in row]) for q, row in zip(questions, top)]
        print(f"| {size} | {overlap} | {len(chunks)} | {recall_at_k(ranks, 5):.3f} | {mrr_at_k(ranks, 5):.3f} "
              f"| {rate:.1f} |", flush=True)
    print("\nall-MiniLM-L6-v2 reads at most 256 word pieces: text beyond that in a larger chunk is not embedded,"
          " but still counts for the answer-in-chunk metric.")


if __name__ == "__main__":
    main()
