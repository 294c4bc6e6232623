"""What the answer engine returns to every front end: answer text, numbered citations, and which answerer spoke."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vectorstore.passages import shown_date


@dataclass
class Citation:
    """One cited article. Everything here comes from chunk metadata, never from model output."""
    n: int
    title: str
    url: str           # web address, or the file path when there is none
    published: str     # YYYY-MM-DD or ""
    source: str        # outlet
    text: str          # the cited chunk's text
    published_from: str = ""  # where the date came from; "file-time" = only the file's modification time

    @property
    def when(self) -> str:
        return shown_date(self.published, self.published_from)


@dataclass
class Answer:
    text: str                                   # answer body with [n] markers; no sources list
    citations: list[Citation] = field(default_factory=list)
    answerer: str = "extractive"                # "extractive" or "llm"
    note: str = ""                              # one line, e.g. "The language model was unreachable; ..."
    found: bool = True                          # False when the articles had nothing relevant
    verdict: Any = field(default=None, repr=False)  # the abstention gate's bot.gate.Verdict, when it ran

    def as_json(self) -> dict:
        return {"answer": self.text, "citations": [asdict(c) for c in self.citations],
                "answerer": self.answerer, "note": self.note}

    def render_text(self) -> str:
        """The plain-text reply shape every front end follows."""
        parts = [self.text]
        if self.note:
            parts.append(f"({self.note})")
        if self.citations:
            lines = ["Sources:"]
            for c in self.citations:
                when = ", ".join(x for x in (c.source, c.when) if x)
                lines.append(f"[{c.n}] {c.title}" + (f" — {when}" if when else "") + (f", {c.url}" if c.url else ""))
            parts.append("\n".join(lines))
        return "\n\n".join(parts)
