"""The eval metrics exactly as shared/eval/README.md defines them, so figures compare across tools."""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})
_PUNCT = re.compile(r"[\"'.,;:!?()\[\]]")
_WS = re.compile(r"\s+")


def normalise(s: str) -> str:
    """NFKC, lower-case, curly quotes straight, the README's punctuation to spaces, white space folded."""
    s = unicodedata.normalize("NFKC", s).lower().translate(_QUOTES)
    return _WS.sub(" ", _PUNCT.sub(" ", s)).strip()


def answer_rank(answer: str, texts: Sequence[str]) -> int | None:
    """1-based rank of the first text containing the normalised answer, or None."""
    needle = normalise(answer)
    if not needle:
        return None
    for rank, text in enumerate(texts, 1):
        if needle in normalise(text):
            return rank
    return None


def recall_at_k(ranks: Iterable[int | None], k: int) -> float:
    ranks = list(ranks)
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at_k(ranks: Iterable[int | None], k: int) -> float:
    ranks = list(ranks)
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def answer_in_reply(answer: str, reply: str) -> bool:
    needle = normalise(answer)
    return bool(needle) and needle in normalise(reply)


def _jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_questions(path: str | Path, answerable_only: bool = False) -> list[dict]:
    rows = _jsonl(path)
    for row in rows:
        if "question" not in row or "answer" not in row:
            raise ValueError(f"{path}: every line needs 'question' and 'answer'")
    return [r for r in rows if r.get("answerable", True)] if answerable_only else rows


def load_articles(path: str | Path) -> list[dict]:
    return _jsonl(path)
