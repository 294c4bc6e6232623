"""A real answer engine over a folder of test articles, built the way the entry points build one.

The repository's own articles (the examples, tests/data) are ingested once per test process for each set of ingest
settings and the store copied into each test's data dir: the same articles ingested again for every test that needs
an engine over them cost a fifth of the suite's time. A copied store is the one a restarted bot opens; ingest itself
is tested on its own (test_ingest.py and others ingest for real).
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SEEDS: dict[tuple, Path] = {}  # sources, embedder and ingest settings -> a store they were ingested into


@functools.cache
def _seeds_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="articlebot-test-stores-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def open_ingested(settings, embedder, sources) -> tuple:
    """(the settings' store, the sources still to ingest into it): the repository's articles come already ingested
    into a new embedded data dir; anything else (a test's own files, a Chroma server, a data dir in use) is left to
    the caller to ingest for real."""
    from ingest.pipeline import ingest
    from vectorstore.store import open_store

    paths = [Path(s).resolve() for s in sources]
    static = bool(paths) and all(p.is_relative_to(REPO) and p.exists() for p in paths)
    if not static or settings.chroma_host or settings.data_dir.exists():
        return open_store(settings), [str(s) for s in sources]
    key = (tuple(map(str, paths)), type(embedder).__name__, embedder.name, settings.collection, settings.chunk_size,
           settings.chunk_overlap, settings.sentence_vectors, settings.max_file_mb)
    if key not in _SEEDS:
        seed = _seeds_dir() / str(len(_SEEDS))
        seeding = settings.model_copy(update={"data_dir": seed})
        store = open_store(seeding)
        try:
            ingest(seeding, store, [str(p) for p in paths], embedder)
        finally:
            store.close()
        _SEEDS[key] = seed
    shutil.copytree(_SEEDS[key], settings.data_dir, ignore=shutil.ignore_patterns("articlebot.pid", "articlebot.lock"))
    return open_store(settings), []


def engine_over(settings, embedder, folder, answerer=None):
    """Ingest `folder` into the settings' store and return an Engine on it (the answerer Settings choose, unless given)."""
    from bot.answering.answerers import build_answerer
    from bot.engine import Engine
    from bot.answering.memory import Memory
    from ingest.pipeline import ingest

    store, pending = open_ingested(settings, embedder, [folder])
    if pending:
        ingest(settings, store, pending, embedder)
    return Engine(settings, store, embedder, answerer or build_answerer(settings, embedder),
                  Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns))
