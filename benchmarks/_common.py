"""Shared by the benchmarks: where the eval data is, and how to skip cleanly without it."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval" / "realtimeqa-2023-01"
sys.path.insert(0, str(REPO))


def use_test_peers() -> None:
    """Import the loopback peers from tests/, with benchmarks/ off the path: benchmarks/telegram.py is named like the
    python-telegram-bot package and would shadow it."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(REPO / "tests"))


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


# Forks the measured command from a small process: a child forked straight from a large one (the warm benchmark
# process) reports that process's RSS as its own peak (Linux carries the high-water mark across exec).
_MEASURE = ("import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n"
            "_, status, usage = os.wait4(pid, 0)\nsys.stderr.write(f'\\nMAXRSS_KB {usage.ru_maxrss}\\n')\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_measured(cmd: list[str], **kwargs) -> tuple[float, float]:
    """Run a command to completion; its wall seconds (a small wrapper adds ~20 ms) and its own peak RSS in MB."""
    import subprocess
    import time

    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, **kwargs)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kb = int(done.stderr.rsplit("MAXRSS_KB ", 1)[1].split()[0])
    return seconds, peak_kb / 1024


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
