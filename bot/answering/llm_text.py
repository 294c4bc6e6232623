"""The untrusted text on both sides of the LLM: article text fenced into the prompt, and the model's reply read back.

Article text cannot forge a source: each is fenced by a code drawn afresh for every request and cannot close its
fence or open a numbered source of its own. The reply is read as untrusted too: "NOT FOUND" (with words after it,
or on a line of its own), a copy of the prompt's sources, source headers copied into it, markers before their
claim, a loop of repeated words, and a reply that only restates the question are recognised here; checked() keeps
only valid, supported markers and the sources' own URLs, or says the reply cited nothing.
"""

from __future__ import annotations

import re

from bot.answer import Answer
from bot.answering.citations import MARKER, recheck_markers, renumber, strip_foreign_urls
from bot.answering.extractive import NOT_FOUND
from vectorstore.analysis import terms
from vectorstore.passages import Passage

# The model's "NOT FOUND" is honoured even with words after it ("NOT FOUND. The sources only mention ...").
SENTINEL = re.compile(r"^\W*not\s+found\b", re.I)
SENTINEL_TEXT = "NOT FOUND"
REPEAT_WORDS = 8  # a run of this many words said twice is a loop, not an answer


def cut_repetition(text: str, n: int = REPEAT_WORDS) -> tuple[str, bool]:
    """The text up to where it starts saying again a run of n words it already said (a small model's loop, or
    table rows copied over and over), and whether it was cut."""
    words = list(re.finditer(r"\S+", text))
    seen: dict[tuple[str, ...], int] = {}
    keys = [re.sub(r"\W+", "", w.group(0).lower()) for w in words]
    for i in range(len(words) - n + 1):
        gram = tuple(keys[i : i + n])
        first = seen.setdefault(gram, i)
        if first != i and i - first >= 1:
            return text[: words[i].start()].rstrip(" ,;:|-"), True
    return text, False


def restates(reply: str, question: str) -> bool:
    """True for a reply that only says the question again ("NASA will launch ... What is the mission called? [1]"):
    it asks something back, or has no word of its own besides the question's."""
    body = " ".join(MARKER.sub(" ", reply).split())
    if not body or SENTINEL.match(body):
        return False
    if body.endswith("?"):
        return True
    asked = set(terms(question))
    return not [t for t in terms(body) if t not in asked]


def checked(text: str, passages: list[Passage], answerer: str) -> Answer | None:
    """The model's text with only valid, supported markers and the sources' own URLs; None when it cites
    nothing. `passages` are the ones the prompt numbered; a NOT FOUND comes back as an Answer with found=False."""
    if _ECHO.search(text):  # the model copied the prompt's sources back: no answer of its own
        return None
    text = _headers_as_markers(text.strip(), passages)
    if SENTINEL.match(text) or _SENTINEL_LINE.search(text):
        return Answer(NOT_FOUND, answerer=answerer, found=False)
    text = recheck_markers(strip_foreign_urls(_markers_after_claims(text), passages), passages)
    cleaned, cites = renumber(text, passages)
    if not cites or len(MARKER.sub(" ", cleaned).split()) < MIN_WORDS:  # "[1]" alone says nothing
        return None
    return Answer(cleaned, cites, answerer=answerer)


# A source's header copied into the reply ("[1] Title — outlet, 2023-01-04" on a line of its own), which small
# models write before their answer to say where it comes from.
_HEADER_LINE = re.compile(r"^[ \t]*\[(\d+)\][ \t]+([^\n]*)$\n?", re.M)
_HEADER_TAIL = re.compile(r" — [^—]{1,80}, (?:\d{4}-\d{2}-\d{2}|date unknown)$")
_LEADING_MARKERS = re.compile(r"^((?:\[\d+\]\s*)+)([^\n]*?[.!?])(?=\s|$)")
_MARKERS_LINE = re.compile(r"\n+[ \t]*((?:\[\d+\][ \t]*)+)(?=\n|$)")


def _markers_after_claims(text: str) -> str:
    """ "[1] Amazon lays off thousands." → "Amazon lays off thousands [1]." (Qwen2.5-Coder 1.5B puts the marker
    first), and a line holding only markers joins the line before it."""
    text = _MARKERS_LINE.sub(lambda m: " " + m.group(1).strip(), text)
    return _LEADING_MARKERS.sub(lambda m: f"{m.group(2)[:-1].rstrip()} {m.group(1).strip()}{m.group(2)[-1]}", text)


# "NOT FOUND" in capitals on a line of its own after a header the model copied with a changed title ("[1] Oscars
# nominations 2023 full list: ... — www.usatoday.com, 2023-01-24\nNOT FOUND."; Qwen2.5-Coder 0.5B on dev)
_SENTINEL_LINE = re.compile(r"(?m)^\W*NOT FOUND\b")
_ECHO = re.compile(r"<<<SRC[0-9A-F]{8}|SRC[0-9A-F]{8}>>>")
MIN_WORDS = 3  # an answer shorter than this, markers aside, is no answer


def _is_header(n: int, line: str, passages: list[Passage]) -> bool:
    """ "[n] Title — outlet, date", or the title of source n alone, on a line of its own."""
    if not 1 <= n <= len(passages):
        return False
    title = " ".join((passages[n - 1].title or "").split())
    line = " ".join(line.split())
    if _HEADER_TAIL.search(line):  # "… — outlet, 2023-01-24": the header's shape, whatever the model did to the title
        return True
    return " — " in line and line.rsplit(" — ", 1)[0] == title or bool(title) and line.rstrip(".") == title.rstrip(".")


def _headers_as_markers(text: str, passages: list[Passage]) -> str:
    """Copied source headers removed; when the rest cites nothing, it cites the sources those headers named."""
    named = [int(m.group(1)) for m in _HEADER_LINE.finditer(text) if _is_header(int(m.group(1)), m.group(2), passages)]
    if not named:
        return text
    rest = _HEADER_LINE.sub(
        lambda m: "" if _is_header(int(m.group(1)), m.group(2), passages) else m.group(0), text
    ).strip()
    if not rest or SENTINEL.match(rest) or MARKER.search(rest):
        return rest
    return rest + " " + "".join(f"[{n}]" for n in dict.fromkeys(named))


def one_line(text: str) -> str:
    """Metadata shown in a source's header: one line, and no marker or fence of its own."""
    return _neutral(" ".join((text or "").split()))


def _neutral(text: str) -> str:
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››")


def fenced(text: str, fence: str) -> str:
    """Article text as fence content: it cannot contain the fence, a fence-like line, or a line that starts like a
    numbered source header ("[6] Title — Reuters")."""
    text = _neutral(text.strip()).replace(fence, "")
    return re.sub(r"(?m)^(\s*)\[(\d+)\]", r"\1(\2)", text)
