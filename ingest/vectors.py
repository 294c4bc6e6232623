"""What ingest embeds: a vector per sentence of each chunk (each distinct text once) and the chunk's own as their mean,
or a vector per chunk; the knobs are the pipeline's (ingest/pipeline.py), measured by benchmarks/ingest.py."""

from __future__ import annotations

import numpy as np

from ingest.chunking import Chunk
from vectorstore.sentences import units
from vectorstore.store import SENTENCE_META, sentence_id


def embed_sentences(
    embedder, chunks: list[Chunk], ids: list[str], metas: list[dict], skip_overlap: bool = True, distinct: bool = True
):
    """Embed every sentence (each distinct text once); a chunk's own vector is the mean of its sentences'
    (embedding the chunk as well would cost a third more time and measured no better: benchmarks/retrieval.py).
    Returns the chunk vectors and (ids, vectors, metadatas) of the sentence vectors to store."""
    texts: list[str] = []
    row_of: dict[str, int] = {}
    owners, rows, keep, s_ids = [], [], [], []
    previous: tuple[str, set[str]] = ("", set())
    for i, c in enumerate(chunks):
        article = c.article.content_hash
        shared = previous[1] if skip_overlap and previous[0] == article else set()
        mine = units(c.text)
        for n, text in enumerate(mine):
            owners.append(i)
            if not (distinct and text in row_of):
                row_of[text] = len(texts)
                texts.append(text)
            rows.append(row_of[text])
            keep.append(text not in shared)
            s_ids.append(sentence_id(ids[i], n))
        previous = (article, set(mine))
    unique = as_array(embedder, texts)
    vectors = unique[rows]
    sums = np.zeros((len(chunks), vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, owners, vectors)
    sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
    kept = [j for j, k in enumerate(keep) if k]
    s_metas = [{"chunk": ids[owners[j]], **{k: metas[owners[j]][k] for k in SENTENCE_META}} for j in kept]
    # numpy arrays straight to Chroma: .tolist() and Chroma's conversion back cost ~1 s per 10k vectors
    return sums, ([s_ids[j] for j in kept], vectors[kept], s_metas)


def as_array(embedder, texts: list[str]) -> np.ndarray:
    """The embedder's vectors as one float32 array (the ONNX embedder gives one without a list of lists between)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    if hasattr(embedder, "embed_array"):
        return embedder.embed_array(texts)
    return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
