"""Embedding throughput (sentences/s) on the sentences of the first N eval articles, per variant and device.

    python benchmarks/embed_device.py [--articles 40] [--variant fp32 int8 ...] [--device cpu|cuda|auto]
                                      [--sentence-transformers] [--batch N]

Needs only numpy, tokenizers, onnxruntime (onnxruntime-gpu for cuda), pydantic-settings and, to convert the model
the first time, onnx and safetensors; no chromadb, so it runs on a bare GPU machine. Or convert elsewhere with
`articlebot prepare-model` and point ARTICLEBOT_MODEL_DIR at a copy. --sentence-transformers adds a row for the
previous embedder (torch) on the same device. Each row is the best of --repeat passes after one warm-up pass; the
cosine column compares with the first row's vectors (fp32 on the CPU unless the list starts otherwise).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import eval_path

from bot.settings import Settings
from vectorstore.embeddings import VARIANTS, LocalEmbedder, OnnxEmbedder
from vectorstore.sentences import sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--variant", nargs="+", default=["fp32", "int8"], choices=list(VARIANTS))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--sentence-transformers", action="store_true", help="also time sentence-transformers")
    parser.add_argument("--batch", type=int, default=Settings().embed_batch_size, help="default: EMBED_BATCH_SIZE")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with eval_path(None, "articles.jsonl").open() as fh:
        texts = [s for line, _ in zip(fh, range(args.articles)) for s in sentences(json.loads(line)["text"])]
    rows, reference = [], None
    embedders = []
    for v in args.variant:
        onnx = OnnxEmbedder(Settings(embed_variant=v, embed_device=args.device, embed_batch_size=args.batch))
        where = onnx._document_backend()  # cpu, cuda (onnxruntime) or torch (the cuda fallback)
        embedders.append((f"{v} ({where})" if where != "torch" else "fp32 (sentence-transformers, cuda)", onnx))
    if args.sentence_transformers:
        device = "cpu" if args.device == "cpu" else "cuda"
        embedders.append((f"sentence-transformers ({device})", LocalEmbedder(batch_size=args.batch, device=device)))
    for label, embedder in embedders:
        started = time.perf_counter()
        vectors = np.asarray(embedder.embed_documents(texts))  # warm-up: loads (converts) the model
        first = time.perf_counter() - started
        best = 0.0
        for _ in range(args.repeat):
            started = time.perf_counter()
            embedder.embed_documents(texts)
            best = max(best, len(texts) / (time.perf_counter() - started))
        if reference is None:
            reference = vectors
        cos = (vectors * reference).sum(1)
        rows.append((label, best, first, cos.min(), cos.mean()))
    print(f"{len(texts)} sentences of {args.articles} articles, device {args.device}, batch {args.batch}\n")
    print("| embedder | sentences/s | first pass incl. load, s | cosine to first row min / mean |")
    print("|---|---|---|---|")
    for label, rate, first, lo, mean in rows:
        print(f"| {label} | {rate:.0f} | {first:.1f} | {lo:.4f} / {mean:.4f} |")


if __name__ == "__main__":
    main()
