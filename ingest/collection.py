"""Article collections: JSON-lines files (.jsonl, .ndjson), gzipped or not, one article per line.

A collection holds many articles (a training set is 25 MB and more, or its .jsonl.gz), so it is read a line at a time,
decompressed as it is read, and the size limit (MAX_FILE_MB) is each article's, not the file's: one oversize line is
reported and skipped, never held in memory, and the rest of the file is read.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_READ = 1 << 20  # what the rest of an oversize line is read (and dropped) in


@dataclass(frozen=True)
class Oversize:
    """A line longer than the limit: where it is and how long it was."""

    number: int
    size: int


def is_collection(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def open_collection(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzipped."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def lines(path: Path, max_bytes: int) -> Iterator[tuple[int, bytes] | Oversize]:
    """(line number, bytes) for every non-blank line, or an Oversize for one over max_bytes (whose bytes are read past,
    not kept). Raises OSError or EOFError for a damaged gzip file, after the lines read before the damage."""
    with open_collection(path) as fh:
        number = 0
        while True:
            line = fh.readline(max_bytes + 1)
            if not line:
                return
            number += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                size = len(line)
                while not line.endswith(b"\n"):
                    line = fh.readline(_READ)
                    if not line:
                        break
                    size += len(line)
                yield Oversize(number, size)
            elif line.strip():
                yield number, line
