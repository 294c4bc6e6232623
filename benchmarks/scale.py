"""How the store's query part scales: latency (p50/p95) and memory for 1k / 10k / 100k vectors and more,
embedded Chroma (PersistentClient) vs a real `chroma run` server on loopback.

    python benchmarks/scale.py                      # 1k, 10k, 100k; both modes; ~10 min on 2 cores
    python benchmarks/scale.py --sizes 1000,10000 --modes embedded --queries 100

What is measured is the Chroma query every question makes, plain, and with a date filter (--since) two ways: by
Chroma's `where` (before) and by vectorstore/prefilter.py (after: an unfiltered query sized by the filter's share,
the filter applied in process), for a filter keeping ~half of the collection and one keeping ~2 %:
- `--shape sentences` (default, SENTENCE_VECTORS on): ArticleStore.query_sentences, n_results=300 (the
  retriever's SENTENCE_POOL), ids + distances, stored without documents. A corpus of N chunks has ~17·N
  sentence vectors, so the sizes here are vectors, not chunks;
- `--shape chunks` (SENTENCE_VECTORS=false): ArticleStore.query, n_results=50 (POOL), documents + metadatas +
  distances; sizes are chunks. Chunk texts are real: ../shared/eval/realtimeqa-2023-01/articles.jsonl split
by the project's chunker (192 tokens). Each distinct text is embedded once (cached in benchmarks/out/); larger
collections repeat them with new ids and slightly perturbed vectors, so the index has to tell near-duplicates
apart, as with real republished news. Query vectors are the eval's real questions.

A narrow filter is also timed the way the retriever now answers it (vectorstore/prefilter.narrow): the allowed
chunks' own vectors searched by id in a chunk collection of N/17 vectors built beside the sentences (17 sentence
vectors per chunk on dev). Queries that return nothing (Chroma's filtered search at 1M can) are counted.

Each build and each query phase runs in its own process, so the RSS reported is that of a fresh process that
opened the store and answered queries (embedded: the process that would be the bot; server: the chroma server).
Needs matplotlib for the PNG (pip install '.[bench]'); without it the table is still printed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import EVAL, REPO, percentile

sys.path.insert(0, str(REPO / "tests"))
from peers.chroma_server import ChromaServer  # noqa: E402  (the loopback server the tests use)
from vectorstore import prefilter  # noqa: E402
from vectorstore.ranking import POOL  # noqa: E402
from vectorstore.retrieval import SENTENCE_POOL  # noqa: E402

OUT = REPO / "benchmarks" / "out"
# (n_results, include) of the query a question makes, as vectorstore/store.py makes it
SHAPES = {"sentences": (SENTENCE_POOL, ["distances"]),
          "chunks": (POOL, ["documents", "metadatas", "distances"])}
BATCH = 2000
PER_CHUNK = 17  # sentence vectors per chunk on the dev corpus: the chunk collection beside N sentences has N/17
NOISE = 0.02  # per-dimension sigma for repeated vectors; a unit 384-d vector moves by ~0.4 before renormalising


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc."""
    cur = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


# --- data --------------------------------------------------------------------------------------
def prepare() -> None:
    """Chunk and embed the eval corpus once; cached under benchmarks/out/."""
    import numpy as np

    chunks_file, vec_file, q_file = OUT / "scale_chunks.jsonl", OUT / "scale_vectors.npy", OUT / "scale_queries.npy"
    if chunks_file.exists() and vec_file.exists() and q_file.exists():
        return
    articles_path, questions_path = EVAL / "articles.jsonl", EVAL / "questions.jsonl"
    if not articles_path.exists():
        print(f"skipped: eval data not found at {articles_path}")
        raise SystemExit(0)
    from bot.settings import Settings
    from ingest.article import Article
    from ingest.chunking import chunk
    from vectorstore.embeddings import build_embedder

    settings = Settings(_env_file=None)
    rows = []
    for i, line in enumerate(articles_path.read_text().splitlines()):
        a = json.loads(line)
        art = Article(text=a["text"], title=a.get("title", ""), url=a.get("url", ""), outlet=a.get("source", ""),
                      published=str(a.get("published", ""))[:10].replace("/", "-"))
        for c in chunk(art, settings.chunk_size, settings.chunk_overlap):
            rows.append({"text": c.text, "embed_text": c.embed_text, "title": art.title, "outlet": art.outlet,
                         "published": art.published, "article": i, "position": c.position})
    embedder = build_embedder(settings)
    t0 = time.time()
    print(f"embedding {len(rows)} distinct chunks once (cached in {OUT}) ...", file=sys.stderr, flush=True)
    vectors = np.asarray(embedder.embed_documents([r["embed_text"] for r in rows]), dtype=np.float32)
    print(f"  {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    questions = [json.loads(line)["question"] for line in questions_path.read_text().splitlines()]
    queries = np.asarray([embedder.embed_query(q) for q in questions], dtype=np.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    with chunks_file.open("w") as fh:
        for r in rows:
            fh.write(json.dumps({k: v for k, v in r.items() if k != "embed_text"}) + "\n")
    np.save(vec_file, vectors)
    np.save(q_file, queries)


def published_ts(day: str) -> int:
    from datetime import datetime, timezone

    try:
        return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        return 0


def batches(size: int, with_vectors: bool = True):
    """Deterministic (ids, embeddings, documents, metadatas) batches for a collection of `size` chunks."""
    import numpy as np

    rows = [json.loads(line) for line in (OUT / "scale_chunks.jsonl").read_text().splitlines()]
    base = np.load(OUT / "scale_vectors.npy")
    rng = np.random.default_rng(size)
    m = len(rows)
    for start in range(0, size, BATCH):
        idx = np.arange(start, min(start + BATCH, size))
        vecs = base[idx % m].copy()
        rep = idx >= m
        if rep.any():
            vecs[rep] += rng.normal(0, NOISE, size=(int(rep.sum()), vecs.shape[1])).astype(np.float32)
            vecs[rep] /= np.linalg.norm(vecs[rep], axis=1, keepdims=True)
        ids, docs, metas = [], [], []
        for i in idx.tolist():
            r, copy = rows[i % m], i // m
            ids.append(f"{copy:04d}{r['article']:05d}-{r['position']:05d}")
            docs.append(r["text"])
            metas.append({"article_hash": f"{copy:04d}{r['article']:05d}", "title": r["title"], "outlet": r["outlet"],
                          "published": r["published"], "published_ts": published_ts(r["published"]) + copy,
                          "position": r["position"], "urls": "[]"})
        yield ids, vecs.tolist() if with_vectors else None, docs, metas


# --- worker (one phase, in its own process) ----------------------------------------------------
def client_for(target: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    cs = ChromaSettings(anonymized_telemetry=False)
    if target.startswith("port:"):
        return chromadb.HttpClient(host="127.0.0.1", port=int(target[5:]), settings=cs)
    return chromadb.PersistentClient(path=target, settings=cs)


def worker(phase: str, target: str, size: int, n_queries: int, shape: str) -> dict:
    import numpy as np

    n_results, include = SHAPES[shape]

    base_rss = rss_mb()[0]
    client = client_for(target)
    if phase == "build":
        col = client.get_or_create_collection("scale", embedding_function=None,
                                              configuration={"hnsw": {"space": "cosine"}})
        t0 = time.time()
        for ids, vecs, docs, metas in batches(size):
            # sentence vectors are stored without their text (it is in the chunk), as vectorstore/store.py does
            col.add(ids=ids, embeddings=vecs, documents=docs if shape == "chunks" else None, metadatas=metas)
        assert col.count() == size, (col.count(), size)
        build_s = time.time() - t0
        # the chunk collection beside it (what vectorstore/prefilter.narrow searches by id): one vector per
        # PER_CHUNK rows, with the date of the row it stands for, so a filter keeps the same share of both
        chunks = client.get_or_create_collection("scale_chunks", embedding_function=None,
                                                 configuration={"hnsw": {"space": "cosine"}})
        start = 0
        for ids, vecs, _, metas in batches(size):
            keep = [j for j in range(len(ids)) if (start + j) % PER_CHUNK == 0]
            start += len(ids)
            if keep:
                chunks.add(ids=[ids[j] for j in keep], embeddings=[vecs[j] for j in keep],
                           metadatas=[metas[j] for j in keep])
        return {"build_s": build_s}
    col = client.get_collection("scale")
    queries = np.load(OUT / "scale_queries.npy")[:n_queries].tolist()
    # every vector's date, in row order: what the BM25 index's arrays hold for the product's prefilter
    ids, row_ts = [], []
    for batch_ids, _, _, metas in batches(size, with_vectors=False):
        ids += batch_ids
        row_ts += [m["published_ts"] for m in metas]
    row_ts = np.asarray(row_ts)
    row = {cid: i for i, cid in enumerate(ids)}
    ordered = np.sort(row_ts)
    wide = int(ordered[len(ordered) // 2])           # keeps about half the collection
    narrow = int(ordered[len(ordered) * 49 // 50])   # keeps about 2%: "since last week" in a longer archive

    short = []  # HNSW may return fewer than asked on a large index of near-duplicate vectors: count, don't fail
    empty = {}  # ... or nothing at all (Chroma's filtered search at 1M): counted per filter

    def run(where, label="plain"):
        times = []
        for q in queries:
            t0 = time.perf_counter()
            got = col.query(query_embeddings=[q], n_results=n_results, where=where, include=include)
            times.append(time.perf_counter() - t0)
            if not got["ids"][0]:
                empty[label] = empty.get(label, 0) + 1
            elif len(got["ids"][0]) < min(n_results, size):
                short.append(len(got["ids"][0]))
        return times

    class Store:
        """The one ArticleStore call vectorstore/prefilter.py makes, on this collection."""

        @staticmethod
        def query_sentences(vector, k, where=None):
            got = col.query(query_embeddings=[vector], n_results=k, where=where, include=include)
            return {cid: 1.0 - d for cid, d in zip(got["ids"][0], got["distances"][0])}

    def prefiltered(since):
        times = []
        mask = row_ts >= since
        for q in queries:
            t0 = time.perf_counter()
            got = prefilter.nearest_chunks(Store, q, n_results, {"published_ts": {"$gte": since}}, mask, row)
            times.append(time.perf_counter() - t0)
        return times

    chunk_col = client.get_collection("scale_chunks")
    chunk_ids = [i for i in ids if row[i] % PER_CHUNK == 0]
    chunk_ts = row_ts[[row[i] for i in chunk_ids]]

    class ChunkStore:
        """ArticleStore.query_chunks_by_id, on the chunk collection."""

        @staticmethod
        def query_chunks_by_id(vector, k, allowed):
            got = chunk_col.query(query_embeddings=[vector], n_results=min(k, len(allowed)), ids=allowed,
                                  include=["distances"])
            return {cid: 1.0 - d for cid, d in zip(got["ids"][0], got["distances"][0])}

        query_sentences = Store.query_sentences

    def by_id(since):
        chunk_col.query(query_embeddings=[queries[0]], n_results=1)  # loads the chunk collection's index: not timed
        times = []
        for q in queries:
            t0 = time.perf_counter()
            mask = chunk_ts >= since
            got = prefilter.narrow(ChunkStore, q, n_results, {"published_ts": {"$gte": since}}, mask, chunk_ids)
            times.append(time.perf_counter() - t0)
            if not got:
                empty["by id"] = empty.get("by id", 0) + 1
        return times, float(mask.mean())

    t0 = time.perf_counter()
    col.query(query_embeddings=[queries[0]], n_results=n_results)  # first query loads the index
    first = time.perf_counter() - t0
    run(None)  # warm-up pass (caches, connection pool); not counted
    plain = run(None)
    out = {"first_ms": first * 1000, "plain": plain}
    for name, since in (("wide", wide), ("narrow", narrow)):
        out[f"filtered_{name}"] = run({"published_ts": {"$gte": since}}, name)
        out[f"prefiltered_{name}"] = prefiltered(since)
    out["by_id_narrow"], out["by_id_share"] = by_id(narrow)
    out["by_id_chunks"] = len(chunk_ids)
    cur, peak = rss_mb()
    return {**out, "rss": cur, "peak": peak, "base_rss": base_rss, "short": short, "empty": empty}


def call_worker(phase: str, target: str, size: int, n_queries: int, shape: str = "sentences") -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", phase, "--target", target, "--size", str(size),
                          "--queries", str(n_queries), "--shape", shape], capture_output=True, text=True,
                         timeout=7200)
    if out.returncode != 0:
        raise RuntimeError(f"worker {phase} {target} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


# --- main --------------------------------------------------------------------------------------
def pct(times: list[float], p: float) -> float:
    return percentile(times, p) * 1000  # seconds in, milliseconds out


def measure(mode: str, size: int, n_queries: int, tmp: Path, shape: str) -> dict:
    path = tmp / f"{mode}-{size}"
    if mode == "embedded":
        build = call_worker("build", str(path), size, n_queries)
        res = call_worker("query", str(path), size, n_queries, shape)
        store_rss = res["rss"]
    else:
        server = ChromaServer(path, log=tmp / f"chroma-{size}.log").start()
        try:
            build = call_worker("build", f"port:{server.port}", size, n_queries)
            server.stop()  # restart: measure a server that loaded the collection from disk, like after a deploy
            server.start()
            res = call_worker("query", f"port:{server.port}", size, n_queries, shape)
            store_rss = rss_mb(server.proc.pid)[0]
        finally:
            server.stop()
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    return {"mode": mode, "size": size, "build_s": build["build_s"], "first_ms": res["first_ms"],
            "p50": pct(res["plain"], 50), "p95": pct(res["plain"], 95),
            **{f"{kind}_{name}_{p}": pct(res[f"{kind}_{name}"], p) for kind in ("filtered", "prefiltered")
               for name in ("wide", "narrow") for p in (50, 95)},
            "by_id_50": pct(res["by_id_narrow"], 50), "by_id_95": pct(res["by_id_narrow"], 95),
            "by_id_chunks": res["by_id_chunks"], "by_id_share": res["by_id_share"], "empty": res["empty"],
            "store_rss": store_rss, "client_rss": res["rss"], "client_base": res["base_rss"], "disk_mb": disk,
            "short": res["short"]}


def table(results: list[dict]) -> str:
    lines = ["| vectors | mode | build s | 1st ms | p50 ms | p95 ms | store RSS MB | client RSS MB | disk MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        client = f"{r['client_rss']:.0f}" if r["mode"] == "server" else "(same)"
        lines.append(f"| {r['size']} | {r['mode']} | {r['build_s']:.1f} | {r['first_ms']:.1f} | {r['p50']:.1f} "
                     f"| {r['p95']:.1f} | {r['store_rss']:.0f} | {client} | {r['disk_mb']:.0f} |")
    lines += ["", "Date-filtered queries, p50 / p95 ms: before (Chroma's `where`) and after (vectorstore/prefilter.py: "
                  "unfiltered query sized by the filter's share, filtered in process)", "",
              "| vectors | mode | filter keeps | before p50 | before p95 | after p50 | after p95 |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        for name, share in (("wide", "~50 %"), ("narrow", "~2 %")):
            lines.append(f"| {r['size']} | {r['mode']} | {share} | {r[f'filtered_{name}_50']:.1f} "
                         f"| {r[f'filtered_{name}_95']:.1f} | {r[f'prefiltered_{name}_50']:.1f} "
                         f"| {r[f'prefiltered_{name}_95']:.1f} |")
    lines += ["", "For the ~2 % filter, `after` is prefilter.nearest_chunks without the chunk ids, so it falls back to "
                  "Chroma's filter as before; the retriever passes the ids and the narrow filter takes the by-id path "
                  "below."]
    lines += ["", "The narrow filter searched by id among the allowed chunks' own vectors (vectorstore/prefilter.narrow: "
                  f"a chunk collection of vectors / {PER_CHUNK} beside the sentences), p50 / p95 ms", "",
              "| vectors | mode | chunks | filter keeps | by id p50 | by id p95 |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['size']} | {r['mode']} | {r['by_id_chunks']} | {100 * r['by_id_share']:.1f} % "
                     f"| {r['by_id_50']:.1f} | {r['by_id_95']:.1f} |")
    return "\n".join(lines)


def plot(results: list[dict], png: Path, shape: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: pip install '.[bench]' for the plot)")
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, colour in (("embedded", "tab:blue"), ("server", "tab:orange")):
        rs = [r for r in results if r["mode"] == mode]
        if not rs:
            continue
        x = [r["size"] for r in rs]
        ax1.plot(x, [r["p50"] for r in rs], "o-", color=colour, label=f"{mode} p50")
        ax1.plot(x, [r["p95"] for r in rs], "o--", color=colour, label=f"{mode} p95")
        ax1.plot(x, [r["filtered_wide_50"] for r in rs], "s:", color=colour, alpha=0.6,
                 label=f"{mode} p50, date filter in Chroma")
        ax1.plot(x, [r["prefiltered_wide_50"] for r in rs], "^-.", color=colour, alpha=0.6,
                 label=f"{mode} p50, date filter in process")
        ax2.plot(x, [r["store_rss"] for r in rs], "o-", color=colour, label=f"{mode}: process holding the index")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("vectors in collection")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel(f"query latency, ms (n_results={SHAPES[shape][0]})")
    ax2.set_ylabel("RSS, MB")
    ax1.set_title("Chroma query latency")
    ax2.set_title("Memory")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated collection sizes")
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--queries", type=int, default=120, help="timed queries per size, mode and filter "
                    "(at most the eval's question count, 120)")
    ap.add_argument("--shape", choices=list(SHAPES), default="sentences",
                    help="the query a question makes with SENTENCE_VECTORS on (sentences) or off (chunks)")
    ap.add_argument("--png", default=str(OUT / "scale.png"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.target, args.size, args.queries, args.shape)))
        return 0

    prepare()
    import numpy as np

    args.queries = min(args.queries, len(np.load(OUT / "scale_queries.npy")))
    sizes = [int(s.replace("_", "").replace("k", "000")) for s in args.sizes.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="articlebot-scale-") as tmp:
        for size in sizes:
            for mode in modes:
                t0 = time.time()
                results.append(measure(mode, size, args.queries, Path(tmp), args.shape))
                print(f"  {mode} {size}: done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
                shutil.rmtree(Path(tmp) / f"{mode}-{size}", ignore_errors=True)
    print(table(results))
    for r in results:
        for label, n in r["empty"].items():
            print(f"{r['mode']} {r['size']}: {n} of {args.queries} queries ({label}) returned nothing")
        if r["short"]:
            print(f"{r['mode']} {r['size']}: {len(r['short'])} queries returned fewer results than asked "
                  f"(as few as {min(r['short'])})")
    n_results, include = SHAPES[args.shape]
    print(f"\n{args.queries} queries each; latency = collection.query(n_results={n_results}, {'+'.join(include)}); "
          f"date filters are published_ts >= a date keeping ~half or ~2% of the collection. store RSS = the "
          f"embedded query process / the chroma server after the queries.")
    (OUT / "scale.json").write_text(json.dumps(results, indent=2))
    if plot(results, Path(args.png), args.shape):
        print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
