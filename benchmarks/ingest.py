"""Ingest speed levers, each alone, against the llama-index starter's embedding work on the same articles.

    python benchmarks/ingest.py [--articles PATH] [--questions PATH] [--limit N] [--variants a,b,...]
    python benchmarks/ingest.py --train-weeks 4 --seed 18       # a seeded subset of the training weeks

Every variant runs in its own process, on a fresh store, in the same run, one after the other; on a shared machine
compare the ratios (the last column) rather than absolute times. With --questions (the default with the eval corpus
and with --train-weeks), each variant's store is also asked the answerable questions as of their date:
answer recall@5 and MRR@5 as in shared/eval/README.md. Prints a markdown table.

The variants: `today` is the pipeline as it was (fp32, every sentence embedded and stored, writes after embedding,
Chroma's HNSW defaults); each lever row changes one thing from it; `default` is every lever chosen in the code.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import EVAL, REPO, peak_rss_mb

TRAIN = REPO.parent / "shared" / "train" / "realtimeqa-train"
TODAY = {"variant": "fp32", "skip_overlap": False, "overlap_writes": False, "distinct": False, "hnsw": {}}
# variant -> (what it changes from `today`, description)
VARIANTS = {
    "today": ({}, "today: fp32, every sentence, writes after embedding, HNSW defaults"),
    "int8": ({"variant": "int8"}, "int8 model (per-channel dynamic quantization)"),
    "distinct": ({"distinct": True}, "a sentence repeated in a batch embedded once (same vectors)"),
    "skip-overlap": ({"skip_overlap": True}, "no vector for a sentence the previous chunk holds"),
    "overlap-writes": ({"overlap_writes": True}, "batch n written while batch n+1 is embedded"),
    "hnsw-batch": ({"hnsw": {"batch_size": 1000, "sync_threshold": 10000}},
                   "HNSW batch_size 1000, sync_threshold 10000 (defaults 100 / 1000)"),
    "hnsw-ef50": ({"hnsw": {"ef_construction": 50}}, "HNSW ef_construction 50 (default 100)"),
    "default": (None, "default: every lever the code turns on"),
}
STARTERS = {
    "starter": "llama-index starter (VectorStoreIndex.from_documents, 1024-token chunks)",
    "starter-256": "llama-index starter with 256-token chunks (every word embedded)",
}


def _rows(path: str, limit: int) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return rows[:limit] if limit else rows


def train_subset(weeks: int, seed: int, per_question: int, distractors: int, out: Path) -> tuple[str, str]:
    """A seeded choice of training weeks: their answerable questions, the articles that hold a question's answer
    (at most `per_question` a question: what a news search for it returns), and `distractors` other articles drawn with the
    same seed. The training articles carry no week, so this stands in for "the weeks' articles"; it measures
    variants against each other, not the product's absolute recall."""
    from bot.learning.metrics import normalise

    questions = [json.loads(line) for line in (TRAIN / "questions.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    chosen = set(rng.sample(sorted({q["week"] for q in questions}), weeks))
    questions = [q for q in questions if q["week"] in chosen and q.get("answerable")]
    articles = _rows(str(TRAIN / "articles.jsonl.gz"), 0)
    texts = [" " + normalise(a["title"] + " " + a["text"]) + " " for a in articles]
    keep: set[int] = set()
    for q in questions:
        answer = " " + normalise(q["answer"]) + " "
        keep.update([i for i, t in enumerate(texts) if answer in t][:per_question])
    rest = sorted(set(range(len(articles))) - keep)
    keep.update(rng.sample(rest, min(distractors, len(rest))))
    a_path, q_path = out / "train-articles.jsonl", out / "train-questions.jsonl"
    a_path.write_text("".join(json.dumps(articles[i]) + "\n" for i in sorted(keep)), encoding="utf-8")
    q_path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    print(f"training weeks {', '.join(sorted(chosen))} (seed {seed}): {len(questions)} answerable questions, "
          f"{len(keep)} articles", file=sys.stderr, flush=True)
    return str(a_path), str(q_path)


def run_articlebot(path: str, limit: int, name: str, questions: str | None) -> dict:
    import ingest.pipeline as pipeline
    import vectorstore.store as store_module
    from bot.settings import Settings
    from ingest.pipeline import ingest
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    change, _ = VARIANTS[name]
    knobs = None if change is None else {**TODAY, **change}
    if knobs is not None:
        pipeline.SKIP_OVERLAP = knobs["skip_overlap"]
        pipeline.OVERLAP_WRITES = knobs["overlap_writes"]
        pipeline.EMBED_DISTINCT = knobs["distinct"]
        store_module.SENTENCE_HNSW = knobs["hnsw"]
    with tempfile.TemporaryDirectory() as tmp:
        src = f"{tmp}/articles.jsonl"
        with open(src, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in _rows(path, limit))
        settings = Settings(data_dir=f"{tmp}/data", **({"embed_variant": knobs["variant"]} if knobs else {}))
        store = open_store(settings)
        embedder = build_embedder(store.settings)
        embedder.embed_documents(["warm up"])  # model load is not ingest time
        embedder.embed_query("warm up")
        embedded = _record_texts(embedder)
        started, cpu = time.perf_counter(), _cpu_seconds()
        report = ingest(settings, store, [src], embedder)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        result = {"articles": report.read, "chunks": report.chunks, "vectors": store.sentence_count(),
                  "seconds": seconds, "cpu_seconds": cpu, "rss_mb": peak_rss_mb(), "embedder": embedder.name,
                  "wordpieces": _wordpieces(embedded, 256)}
        if questions:
            result.update(_quality(settings, store, embedder, questions))
            if knobs is not None and not knobs["skip_overlap"]:
                # the same store less the vectors skip-overlap would not have stored: its recall without a re-embed
                result["skip_overlap"] = {"vectors": store.sentence_count() - drop_overlap_sentences(store),
                                          **_quality(settings, store, embedder, questions)}
        store.close()
    return result


def _record_texts(embedder) -> list[str]:
    """Every text the embedder is given from now on (kept, not tokenized, so the timing is not touched)."""
    texts: list[str] = []
    # the one the pipeline calls (ingest.vectors.as_array): the ONNX embedder's embed_documents goes through
    # embed_array, so wrapping both would count its texts twice
    method = "embed_array" if hasattr(embedder, "embed_array") else "embed_documents"
    inner = getattr(embedder, method)
    setattr(embedder, method, lambda batch: (texts.extend(batch), inner(batch))[1])
    return texts


def _wordpieces(texts: list[str], limit: int) -> int:
    """How many word pieces the model reads for these texts: [CLS] and [SEP] included, each text cut at `limit`
    (the model's max_seq_length; what both sentence-transformers and the ONNX embedder cut at)."""
    from tokenizers import Tokenizer

    from vectorstore.embeddings import bundled_model_dir

    tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return sum(min(len(e.ids), limit) for e in tokenizer.encode_batch(texts))


def drop_overlap_sentences(store) -> int:
    """Delete the sentence vectors of sentences the previous chunk of the same article holds; how many."""
    from vectorstore.sentences import units
    from vectorstore.store import sentence_id, split_chunk_id

    ids, docs, _ = store.all_chunks()
    text = dict(zip(ids, docs))
    drop = []
    for cid in ids:
        h, pos = split_chunk_id(cid)
        before = set(units(text.get(f"{h}-{pos - 1:05d}", ""))) if pos else set()
        drop += [sentence_id(cid, n) for n, t in enumerate(units(text[cid])) if t in before]
    for start in range(0, len(drop), 1000):
        store.sentences.delete(ids=drop[start:start + 1000])
    return len(drop)


def evaluate_store(data_dir: str, questions: str) -> dict:
    """Recall of an existing store (e.g. one built by today's main), as is and less its overlap sentences; on a
    copy, since the overlap sentences are deleted."""
    import shutil

    from bot.settings import Settings
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(data_dir, f"{tmp}/data", ignore=shutil.ignore_patterns("articlebot.lock", "articlebot.pid"))
        settings = Settings(data_dir=f"{tmp}/data")
        store = open_store(settings)
        embedder = build_embedder(store.settings)
        result = {"embedder": embedder.name, "vectors": store.sentence_count(),
                  **_quality(settings, store, embedder, questions)}
        result["skip_overlap"] = {"vectors": store.sentence_count() - drop_overlap_sentences(store),
                                  **_quality(settings, store, embedder, questions)}
        store.close()
    return result


def _quality(settings, store, embedder, questions: str) -> dict:
    from bot.learning.evaluate import question_as_of
    from bot.learning.metrics import answer_rank, load_questions, mrr_at_k, recall_at_k
    from vectorstore.retrieval import Filters, Retriever

    retriever = Retriever(settings, store, embedder)
    ranks = [answer_rank(q["answer"], [p.text for p in retriever.search(q["question"], 5,
                                                                          Filters(as_of=question_as_of(q)))])
             for q in load_questions(Path(questions), answerable_only=True)]
    return {"recall": recall_at_k(ranks, 5), "mrr": mrr_at_k(ranks, 5), "questions": len(ranks)}


def run_starter(path: str, limit: int, name: str, questions: str | None) -> dict:
    """llama-index's starter recipe: VectorStoreIndex.from_documents with the same model through
    HuggingFaceEmbedding (sentence-transformers, CPU), default 1024-token chunks, in-memory store.

    The model reads at most 256 word pieces of a text, so the starter's 1024-token chunks are embedded from their
    first ~256 word pieces only and the rest of each chunk is never read; `starter-256` is the same recipe with
    256-token chunks, which embeds every word (the fair measure of embedding a whole corpus with this model)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index.core import Document, Settings as LISettings, VectorStoreIndex
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from vectorstore.embeddings import bundled_model_dir

    LISettings.llm = None
    LISettings.embed_model = HuggingFaceEmbedding(model_name=str(bundled_model_dir()), device="cpu")
    LISettings.embed_model.get_text_embedding("warm up")
    if name == "starter-256":
        from llama_index.core.node_parser import SentenceSplitter

        LISettings.node_parser = SentenceSplitter(chunk_size=256, chunk_overlap=20)
    docs = [Document(text=r["text"], metadata={"title": r["title"]}) for r in _rows(path, limit)]
    started, cpu = time.perf_counter(), _cpu_seconds()
    index = VectorStoreIndex.from_documents(docs)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    nodes = list(index.docstore.docs.values())
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]  # what llama-index embeds
    return {"articles": len(docs), "chunks": len(nodes), "vectors": len(nodes), "seconds": seconds,
            "cpu_seconds": cpu, "rss_mb": peak_rss_mb(), "wordpieces": _wordpieces(texts, 256)}


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system): steadier than wall time on a shared machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", help="JSONL articles (default: the eval corpus)")
    parser.add_argument("--questions", help="JSONL questions for recall@5 / MRR@5 (default: the eval corpus's; "
                                            "'none' to skip)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N articles (no recall then)")
    parser.add_argument("--variants", default=",".join([*STARTERS, *VARIANTS]),
                        help=f"comma-separated, from: {', '.join([*STARTERS, *VARIANTS])}")
    parser.add_argument("--train-weeks", type=int, default=0, help="use a seeded subset of N training weeks")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--per-question", type=int, default=5,
                        help="with --train-weeks: articles holding a question's answer taken per question")
    parser.add_argument("--distractors", type=int, default=150, help="other training articles with --train-weeks")
    parser.add_argument("--store", help="only evaluate this existing store (as is, and less its overlap sentences)")
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store:
        print(json.dumps(evaluate_store(args.store, args.questions or str(EVAL / "questions.jsonl"))))
        return
    if args.recipe:
        runner = run_starter if args.recipe in STARTERS else run_articlebot
        questions = None if args.questions in (None, "none") else args.questions
        print(json.dumps(runner(args.articles, args.limit, args.recipe, questions)))
        return
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as work:
        run(args, Path(work))


def run(args, work: Path) -> None:
    """Every variant on the same articles, then the tables."""
    if args.train_weeks:
        if not TRAIN.exists():
            print(f"skipped: training data not found at {TRAIN}")
            return
        articles, questions = train_subset(args.train_weeks, args.seed, args.per_question, args.distractors, work)
    else:
        articles = args.articles or str(EVAL / "articles.jsonl")
        questions = args.questions or str(EVAL / "questions.jsonl")
        if not Path(articles).exists():
            print(f"skipped: eval data not found at {articles}")
            return
    if args.limit or args.questions == "none":
        questions = "none"
    results = {}
    for name in args.variants.split(","):
        cmd = [sys.executable, __file__, "--articles", articles, "--questions", questions, "--limit",
               str(args.limit), "--recipe", name]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{name} failed")
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"  {name}: {json.dumps(r)}", file=sys.stderr, flush=True)
    starter = results.get("starter")
    print("| variant | articles | chunks | vectors | word pieces embedded | seconds | articles/s | CPU s | recall@5 "
          "| MRR@5 | × starter (wall) | × starter (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        label = STARTERS[name] if name in STARTERS else VARIANTS[name][1]
        quality = f"{r['recall']:.3f} | {r['mrr']:.3f}" if "recall" in r else "– | –"
        ratio = cpu_ratio = "–"
        if starter:
            ratio = f"{(r['seconds'] / r['articles']) / (starter['seconds'] / starter['articles']):.2f}"
            cpu_ratio = f"{(r['cpu_seconds'] / r['articles']) / (starter['cpu_seconds'] / starter['articles']):.2f}"
        print(f"| {label} | {r['articles']} | {r['chunks']} | {r['vectors']} | {r.get('wordpieces', '–')} "
              f"| {r['seconds']:.1f} "
              f"| {r['articles'] / r['seconds']:.2f} | {r['cpu_seconds']:.1f} | {quality} | {ratio} | {cpu_ratio} |")
    derived = [(name, r["skip_overlap"]) for name, r in results.items() if "skip_overlap" in r]
    if derived:
        print("\nThe same stores less the sentence vectors skip-overlap would not store (no re-embedding):\n")
        print("| variant + skip-overlap | vectors | recall@5 | MRR@5 |\n|---|---|---|---|")
        for name, d in derived:
            print(f"| {name} + skip-overlap | {d['vectors']} | {d['recall']:.3f} | {d['mrr']:.3f} |")
    if any("questions" in r for r in results.values()):
        n = next(r["questions"] for r in results.values() if "questions" in r)
        print(f"\n{n} answerable questions, as of their dates.")
    print("Model loading is excluded. × starter: seconds per article over the starter's, wall clock and CPU time "
          "(user + system, all threads; the steadier of the two on a shared machine, but blind to the overlap of "
          "writes with embedding, which saves wall time only). Word pieces embedded: what the model read, "
          "[CLS]/[SEP] included, each text cut at the model's 256.")


if __name__ == "__main__":
    main()
