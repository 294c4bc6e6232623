"""A real answer engine over a folder of test articles, built the way the entry points build one."""
from __future__ import annotations


def engine_over(settings, embedder, folder, answerer=None):
    """Ingest `folder` into the settings' store and return an Engine on it (the answerer Settings choose, unless given)."""
    from bot.answering.answerers import build_answerer
    from bot.engine import Engine
    from bot.answering.memory import Memory
    from ingest.pipeline import ingest
    from vectorstore.store import open_store

    store = open_store(settings)
    ingest(settings, store, [str(folder)], embedder)
    return Engine(settings, store, embedder, answerer or build_answerer(settings, embedder),
                  Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns))
