"""Ingest speed and memory: articlebot's pipeline vs llama-index's starter recipe, on the eval corpus.

    python benchmarks/ingest.py [--articles PATH] [--limit N]

Each recipe runs in its own process (so peak RSS is its own), on a fresh store, with the same embedding
model (all-MiniLM-L6-v2 on the CPU), in the same run. Prints a markdown table. The last row is articlebot's ingest
with an instant fake embedder: what is left is loading, cleaning, chunking, sentence splitting, Chroma writes, the
manifest and the BM25 index, i.e. the time that is not the embedding model's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from _common import REPO, eval_path, peak_rss_mb


def _load(path: str, limit: int) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    return rows[:limit] if limit else rows


class InstantEmbedder:
    """Random unit vectors at once: measures everything in ingest but the embedding model."""
    name = "all-MiniLM-L6-v2"

    def embed_documents(self, texts):
        import numpy as np

        vectors = np.random.default_rng(len(texts)).standard_normal((len(texts), 384)).astype(np.float32)
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def run_articlebot(path: str, limit: int, sentence_vectors: bool = True, instant: bool = False) -> dict:
    from bot.settings import Settings
    from ingest.pipeline import ingest
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        src = f"{tmp}/articles.jsonl"
        with open(src, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in _load(path, limit))
        settings = Settings(data_dir=f"{tmp}/data", sentence_vectors=sentence_vectors)
        store = open_store(settings)
        embedder = InstantEmbedder() if instant else build_embedder(settings)
        embedder.embed_query("warm up")  # model load is reported separately, not as ingest time
        started = time.perf_counter()
        report = ingest(settings, store, [src], embedder)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = ingest(settings, store, [src], embedder)
        rerun = time.perf_counter() - started
        vectors = store.sentence_count() or store.count()
        store.close()
    return {"articles": report.read, "chunks": report.chunks, "vectors": vectors, "seconds": seconds,
            "rss_mb": peak_rss_mb(), "rerun_seconds": rerun, "rerun_embedded": again.chunks}


def run_starter(path: str, limit: int) -> dict:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index.core import Document, Settings as LISettings, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from vectorstore.embeddings import bundled_model_dir

    LISettings.llm = None
    LISettings.embed_model = HuggingFaceEmbedding(model_name=str(bundled_model_dir()), device="cpu")
    LISettings.embed_model.get_text_embedding("warm up")
    docs = [Document(text=r["text"], metadata={"title": r["title"]}) for r in _load(path, limit)]
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs)
    seconds = time.perf_counter() - started
    n = len(index.docstore.docs)
    return {"articles": len(docs), "chunks": n, "vectors": n, "seconds": seconds, "rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles")
    parser.add_argument("--limit", type=int, default=0, help="only the first N articles (quick run)")
    parser.add_argument("--recipe", choices=list(RECIPES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = str(eval_path(args.articles, "articles.jsonl"))
    if args.recipe:
        print(json.dumps(RECIPES[args.recipe](path, args.limit)))
        return
    results = {}
    for recipe in RECIPES:
        cmd = [sys.executable, __file__, "--articles", path, "--limit", str(args.limit), "--recipe", recipe]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(f"{recipe} failed")
        results[recipe] = json.loads(out.stdout.strip().splitlines()[-1])
    print("| recipe | articles | chunks | vectors | seconds | articles/s | chunks/s | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    from bot.settings import Settings

    size = Settings().chunk_size
    for name, label in (("articlebot", f"articlebot ingest ({size}-token chunks, sentence vectors)"),
                        ("articlebot-chunks", f"articlebot ingest ({size}-token chunks, SENTENCE_VECTORS=false)"),
                        ("starter", "llama-index starter (VectorStoreIndex.from_documents, 1024-token chunks)"),
                        ("articlebot-instant", "articlebot ingest, instant fake embedder (all but the model)")):
        r = results[name]
        print(f"| {label} | {r['articles']} | {r['chunks']} | {r['vectors']} | {r['seconds']:.1f} "
              f"| {r['articles'] / r['seconds']:.2f} "
              f"| {r['chunks'] / r['seconds']:.1f} | {r['rss_mb']:.0f} |")
    a, s = results["articlebot"], results["starter"]
    print(f"| ratio articlebot / starter | | | | | {(a['articles'] / a['seconds']) / (s['articles'] / s['seconds']):.2f} "
          f"| {(a['chunks'] / a['seconds']) / (s['chunks'] / s['seconds']):.2f} | {a['rss_mb'] / s['rss_mb']:.2f} |")
    print(f"\nRe-run on unchanged input: {a['rerun_seconds']:.1f} s, {a['rerun_embedded']} chunks embedded.")
    print("Model loading is excluded from both. all-MiniLM-L6-v2 reads at most 256 word pieces, so the starter's "
          "1024-token chunks are embedded only in their first quarter: fewer vectors, less text covered.")


RECIPES = {"articlebot": run_articlebot,
           "articlebot-chunks": lambda path, limit: run_articlebot(path, limit, sentence_vectors=False),
           "starter": run_starter,
           "articlebot-instant": lambda path, limit: run_articlebot(path, limit, instant=True)}


if __name__ == "__main__":
    main()
