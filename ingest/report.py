"""What an ingest run did, as the operator reads it (`articlebot ingest`, Telegram /ingest) or as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.article import Skip
from ingest.wording import plural


@dataclass
class Report:
    ingested: int = 0  # new articles embedded
    replaced: int = 0  # known copies whose text changed
    duplicates: int = 0  # new copies of a text already stored (kept as an extra URL, nothing embedded)
    updated: int = 0  # same text, new metadata
    unchanged: int = 0
    pruned: int = 0
    chunks: int = 0  # chunks embedded and written
    orphans: int = 0  # stray chunks collected
    skipped: list[Skip] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def read(self) -> int:
        return self.ingested + self.replaced + self.duplicates + self.updated + self.unchanged

    @property
    def wrote(self) -> bool:
        """Whether anything in the store changed (a new text, a replaced one, an extra link, new metadata)."""
        return bool(self.ingested or self.replaced or self.duplicates or self.updated)

    def as_json(self) -> dict:
        return {
            "ingested": self.ingested,
            "replaced": self.replaced,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "pruned": self.pruned,
            "chunks_written": self.chunks,
            "orphans_removed": self.orphans,
            "seconds": round(self.seconds, 2),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
        }

    def summary(self) -> str:
        head = (
            f"{self.ingested} ingested ({plural(self.chunks, 'chunk')}), {self.unchanged} unchanged, "
            f"{self.replaced} replaced, "
            f"{plural(self.duplicates, 'duplicate kept as an extra link', 'duplicates kept as extra links')}, "
            f"{len(self.skipped)} skipped"
        )
        if self.updated:
            head += f", {self.updated} metadata updated"
        if self.pruned:
            head += f", {self.pruned} pruned"
        lines = [head + f" in {self.seconds:.1f} s."]
        if self.read and not (self.wrote or self.pruned):
            lines.append("Nothing changed: no article needed embedding.")
        if self.skipped:
            lines.append("Skipped:")
            lines += [f"  {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)
