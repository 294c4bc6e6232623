"""The BM25 side of retrieval: an index over every chunk (title + text), saved beside the store it mirrors.

Building it reads every chunk's text out of Chroma and tokenizes it (seconds for a few thousand chunks, with every
text in memory meanwhile), so it is built after each write, by the writer (`ingest`, `--prune`, Telegram /ingest),
and saved. A process that answers questions loads it memory-mapped in milliseconds and holds no chunk text: the few
passages a question needs are read from Chroma by id (vectorstore/retrieval.py).

Where: `<data dir>/bm25/<collection>`; in server mode `<data dir>/bm25/<host>_<port>_<collection>`, because the
data dir is each process's own while the store is shared (`<collection>`: its Chroma name, vectorstore/collections.py).

What it mirrors is recorded beside it: `ArticleStore.version()` (chunk and manifest counts, and a token every write
to the chunks changes), the text analyser's version (vectorstore/analysis.py: the terms it was built with) and the
sha256 of every file. A saved index whose version is not the store's, built by another analyser, or whose files do
not match their digests (a crash mid-save, a damaged disk), is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore import analysis
from vectorstore.collections import chroma_name
from vectorstore.config import StoreConfig

log = logging.getLogger(__name__)

FORMAT = 1
STAMP = "stamp.json"  # written last: an index dir without it is an unfinished save
ROWS = "rows.json"  # chunk ids in row order, outlets
FIRST_ANALYSER = "english-snowball-1"
ARRAYS = "rows.npz"  # per row: published_ts, outlet code (for the filters and time prior, without the chunk's meta)


@dataclass
class Lexical:
    """A BM25 index over the store's chunks, and per row what filtering and the time prior need."""

    ids: list[str]
    published_ts: np.ndarray  # int32, -1 = unknown
    outlet_code: np.ndarray  # int32 into outlets
    outlets: list[str]
    bm25: Any | None  # bm25s.BM25 (untyped), None when the store is empty
    version: tuple

    def search(self, query: str, n: int) -> list[tuple[int, float]]:
        """The best n rows for a query, with their BM25 scores (zero scores left out)."""
        if self.bm25 is None:
            return []
        tokens = analysis.bm25_tokenize([query])
        if not tokens.vocab:
            return []
        rows, scores = self.bm25.retrieve(tokens, k=min(n, len(self.ids)), show_progress=False)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]


def index_dir(settings: StoreConfig) -> Path:
    key = chroma_name(settings.collection)
    if settings.server_mode:
        key = f"{settings.chroma_host}_{settings.chroma_port}_{key}"
    return settings.data_dir / "bm25" / re.sub(r"[^A-Za-z0-9._-]", "_", key)


def build(store) -> Lexical:
    """Read every chunk from the store and index it. The version is read first, so writes made meanwhile show up
    as a newer version at the next check rather than being missed."""
    version = store.version()
    ids, docs, metas = store.all_chunks()
    outlets: dict[str, int] = {}
    codes = np.array([outlets.setdefault(m.get("outlet", ""), len(outlets)) for m in metas], dtype=np.int32)
    ts = np.array([int(m.get("published_ts", -1)) for m in metas], dtype=np.int32)
    bm25 = None
    if ids:
        import bm25s

        tokens = analysis.bm25_tokenize([f"{m.get('title', '')}\n{d}" for d, m in zip(docs, metas)])
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
    return Lexical(ids, ts, codes, list(outlets), bm25, version)


def _digest(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def save(settings: StoreConfig, lex: Lexical) -> None:
    """Write the index to a fresh folder and swap it in, so a reader never sees half a save."""
    final = index_dir(settings)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    if lex.bm25 is not None:
        lex.bm25.save(str(tmp), show_progress=False)
    (tmp / ROWS).write_text(json.dumps({"ids": lex.ids, "outlets": lex.outlets}))
    np.savez(tmp / ARRAYS, published_ts=lex.published_ts, outlet_code=lex.outlet_code)
    files = {p.name: _digest(p) for p in sorted(tmp.iterdir())}
    (tmp / STAMP).write_text(
        json.dumps({"format": FORMAT, "analyser": analysis.VERSION, "version": list(lex.version), "files": files})
    )
    old = final.parent / f".{final.name}.{os.getpid()}.old"
    shutil.rmtree(old, ignore_errors=True)
    try:
        final.rename(old)
    except FileNotFoundError:
        pass
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load(settings: StoreConfig, version: tuple) -> Lexical | None:
    """The saved index when it mirrors this version of the store and its files are intact; None otherwise."""
    path = index_dir(settings)
    try:
        stamp = json.loads((path / STAMP).read_text())
        if stamp.get("format") != FORMAT or tuple(stamp.get("version", ())) != tuple(version):
            return None
        # indexes saved before the analyser was recorded were built with its first version's terms
        if stamp.get("analyser", FIRST_ANALYSER) != analysis.VERSION:
            return None
        files = stamp["files"]
        if sorted(files) != sorted(p.name for p in path.iterdir() if p.name != STAMP):
            return None
        if any(_digest(path / name) != digest for name, digest in files.items()):
            log.warning("the saved BM25 index in %s is damaged; rebuilding it", path)
            return None
        rows = json.loads((path / ROWS).read_text())
        with np.load(path / ARRAYS) as arrays:
            ts, codes = arrays["published_ts"], arrays["outlet_code"]
        ids = rows["ids"]
        bm25 = None
        if ids:
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)
            bm25 = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
            if bm25.scores["num_docs"] != len(ids):
                return None
        if not (len(ts) == len(codes) == len(ids)):
            return None
        return Lexical(ids, ts, codes, rows["outlets"], bm25, tuple(version))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_or_build(settings: StoreConfig, store) -> Lexical:
    """The saved index if it mirrors the store, else a fresh one (saved for the next process)."""
    version = store.version()
    lex = load(settings, version)
    if lex is None:
        lex = build(store)
        try:
            save(settings, lex)
        except OSError as exc:  # a read-only data dir still answers, it just rebuilds at every start
            log.warning("could not save the BM25 index in %s: %s", index_dir(settings), exc)
    return lex


def update(settings: StoreConfig, store) -> Lexical:
    """After a write: bring the saved index up to date, so the next process that answers loads it at once."""
    return load_or_build(settings, store)
