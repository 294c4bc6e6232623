"""Shared by the benchmarks: where the eval data is, and how to skip cleanly without it."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval" / "realtimeqa-2023-01"
sys.path.insert(0, str(REPO))


def eval_path(given: str | None, name: str) -> Path:
    """The eval file, or exit 0 with a clear 'skipped' line when it is not there."""
    path = Path(given) if given else EVAL / name
    if not path.exists():
        print(f"skipped: eval data not found at {path}")
        raise SystemExit(0)
    return path


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measured(cmd: list[str], **kwargs) -> tuple[float, float]:
    """Run a command to completion; its wall seconds and its own peak RSS in MB (from wait4, not RUSAGE_CHILDREN,
    which is the largest child so far)."""
    import os
    import subprocess
    import time

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def corpus_settings(data_dir: str | None):
    """Settings for a store holding the whole eval corpus, ingesting it first if needed (about 8 min on 2 cores)."""
    from bot.settings import Settings
    from ingest.pipeline import ingest
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    articles = eval_path(None, "articles.jsonl")
    settings = Settings(data_dir=Path(data_dir) if data_dir else REPO / ".bench" / "realtimeqa")
    store = open_store(settings)
    try:
        if store.count() == 0:
            print(f"building the eval store in {settings.data_dir} (once; about 8 min) ...", flush=True)
        # incremental: embeds nothing when the store is complete
        ingest(settings, store, [str(articles)], build_embedder(settings))
    finally:
        store.close()
    return settings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
