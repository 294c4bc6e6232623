"""Prompt templates, one file each, so they can be read and changed without touching code."""
from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def load(name: str) -> str:
    """The template `prompts/<name>.txt`; fill it with str.format."""
    return (_HERE / f"{name}.txt").read_text(encoding="utf-8").strip()
