"""How counts read in messages people see: "1 chunk", "2 chunks"."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """`plural(1, "article")` -> "1 article"; `plural(3, "duplicate kept as an extra link", "duplicates kept as
    extra links")` -> "3 duplicates kept as extra links"."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
