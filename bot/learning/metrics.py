"""The eval metrics exactly as shared/eval/README.md defines them, so figures compare across tools."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
    }
)
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


# --- the reply's form (articlebot's own measures; README "Quality and speed, measured") --------------------------
_MARK = re.compile(r"\[\d+\]")
_BOLD_LINE = re.compile(r"^\*\*[^*\n]+\*\*\s*", re.M)
_CONTENT = re.compile(r"[a-z0-9][a-z0-9'-]*")
_STOP = frozenset(
    """a an the and or but of to in on at by for with from as is are was were be been has have had
this that these those it its he she they his her their what which who whom whose when where why how do does did
will would can could not no this week year said says""".split()
)


def quoted_sentences(reply: str) -> list[str]:
    """The sentences a reply quotes: the text before each group of [n] markers, split into sentences. A direct
    answer line ("**15 ballots.**") is the bot's own words, not a quote."""
    from vectorstore.sentences import split

    body = _BOLD_LINE.sub("", reply)
    return [s for claim in _MARK.split(body) for s in split(claim.strip(" ,;")) if s.strip(" .,;")]


def _content(text: str) -> set[str]:
    return {w.strip("'-") for w in _CONTENT.findall(normalise(text))} - _STOP


def is_question(sentence: str) -> bool:
    """A quoted question: the sentence ends in a question mark (closing quotes aside)."""
    return sentence.rstrip("\"'”’)] ").endswith("?")


def is_echo(sentence: str, question: str) -> bool:
    """A quoted echo of the user's question: at least 70% of the sentence's content words are the question's."""
    words = _content(sentence)
    return bool(words) and len(words & _content(question)) >= 0.7 * len(words)


def is_fragment(sentence: str) -> bool:
    """A quoted fragment: not a whole sentence (no closing full stop: a headline, caption or cut-off; cut after an
    abbreviation such as "vs."; starting mid-sentence; a "Label:Headline" teaser)."""
    from vectorstore.sentences import fragment

    return not is_question(sentence) and fragment(sentence)


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
