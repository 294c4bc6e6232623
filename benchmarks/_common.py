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
