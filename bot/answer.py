"""What the answer engine returns to every front end: answer text, numbered citations, and which answerer spoke."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from vectorstore.passages import shown_date

_MARKER = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"\w+")


@dataclass
class Citation:
    """One cited article. Everything here comes from chunk metadata, never from model output."""

    n: int
    title: str
    url: str  # web address, or the file path when there is none
    published: str  # YYYY-MM-DD or ""
    source: str  # outlet
    text: str  # the cited chunk's text
    published_from: str = ""  # where the date came from; "file-time" = only the file's modification time

    @property
    def when(self) -> str:
        return shown_date(self.published, self.published_from)


@dataclass
class Answer:
    text: str  # answer body with [n] markers; no sources list
    citations: list[Citation] = field(default_factory=list)
    answerer: str = "extractive"  # "extractive" or "llm"
    note: str = ""  # one line, e.g. "The language model was unreachable; ..."
    found: bool = True  # False when the articles had nothing relevant
    lead: str = ""  # a short direct answer ("17 goals") shown before the quotes, or ""
    verdict: Any = field(default=None, repr=False)  # the abstention gate's bot.answering.gate.Verdict, when it ran
    once: str = ""  # when set, the note is said once per conversation for this key (Engine drops it after that)

    def quoted(self) -> dict[int, str]:
        """For each cited source, the passage of it this answer rests on: the sentences the reply attached to its
        [n] when they are the article's own words (extractive answers), else the article sentence sharing the most
        words with them (an LLM's paraphrase)."""
        from vectorstore.sentences import split

        claims: dict[int, list[str]] = {}
        start, claim = 0, ""
        for m in _MARKER.finditer(self.text):
            between = self.text[start : m.start()].strip(" ,;")
            if between.strip(" ."):  # "claim [1] [2]": both markers belong to the same claim
                claim = between
            claims.setdefault(int(m.group(1)), []).append(claim)
            start = m.end()
        out = {}
        for c in self.citations:
            source = " ".join(c.text.split())
            sentences = split(c.text)
            picked: list[str] = []
            for text in claims.get(c.n, []):
                for s in split(text):
                    if s not in source:
                        words = set(_WORD.findall(s.lower()))
                        s = max(sentences, key=lambda x: len(words & set(_WORD.findall(x.lower()))), default=s)
                    if s not in picked:
                        picked.append(s)
            out[c.n] = " ".join(picked)
        return out

    def render_sources(self) -> str:
        """Every source of this answer in full: title, outlet, date, link and the passage quoted from it."""
        if not self.citations:
            return "The last answer cited no articles."
        quoted = self.quoted()
        blocks = []
        for c in self.citations:
            lines = [f"[{c.n}] {c.title}", "    " + (", ".join(x for x in (c.source, c.when) if x) or "undated")]
            if c.url:
                lines.append(f"    {c.url}")
            if quoted.get(c.n):
                lines.append(f"    “{quoted[c.n]}”")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def as_json(self) -> dict:
        return {
            "answer": self.text,
            "citations": [asdict(c) for c in self.citations],
            "answerer": self.answerer,
            "note": self.note,
            "lead": self.lead,
        }

    def render_text(self) -> str:
        """The plain-text reply shape every front end follows."""
        parts = [f"{self.lead}. {self.text}" if self.lead else self.text]
        if self.note:
            parts.append(f"({self.note})")
        if self.citations:
            lines = ["Sources:"]
            for c in self.citations:
                when = ", ".join(x for x in (c.source, c.when) if x)
                lines.append(f"[{c.n}] {c.title}" + (f" — {when}" if when else "") + (f", {c.url}" if c.url else ""))
            parts.append("\n".join(lines))
        return "\n\n".join(parts)
