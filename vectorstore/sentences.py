"""Split chunk text into sentences: the units that get their own vectors at ingest and that extractive answers quote.

all-MiniLM-L6-v2 reads at most 256 word pieces, about half of a 512-token chunk, so a chunk's own vector never
sees the rest of its text. A vector per sentence sees all of it, and a chunk is as close to a question as its
closest sentence (benchmarks/retrieval.py: recall@5 0.701 → 0.763 on the eval set).
"""
from __future__ import annotations

import re

# the closing quote or bracket after a full stop stays with its sentence (two fixed-width lookbehinds: re has no
# variable-width one)
_SENT = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)]))\s+(?=[\"'“‘(]?[A-Z0-9])|\n+")
MIN_WORDS, MAX_WORDS = 4, 80


def sentences(text: str) -> list[str]:
    """The sentences of a text, white space folded; fragments (captions, bylines) and run-ons left out."""
    out = []
    for s in _SENT.split(text):
        s = " ".join(s.split())
        if MIN_WORDS <= len(s.split()) <= MAX_WORDS:
            out.append(s)
    return out


def units(text: str) -> list[str]:
    """What gets a vector for one chunk: its sentences, or the chunk itself when it has none (a list, a table)."""
    return sentences(text) or [" ".join(text.split())]
