"""Numbered citations: built only from retrieved chunks' metadata, never from model output.

Model output (and article text) is untrusted: links that are not the sources' own are removed, bare domains
("evil.com", which Telegram would turn into a link) too, and a marker whose claim shares no key word with the
passage it cites is moved to the passage that does, or dropped.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from bot.answer import Citation
from vectorstore.passages import Passage

MARKER = re.compile(r"\[(\d+)\]")
URL = re.compile(r"https?://[^\s\])>\"'<]+")
# A bare host name: labels of letters, digits and hyphens ending in a top-level domain that people read as one.
# The TLD list is deliberate: any-letters would take "said.The" or "Node.js" for domains.
_TLDS = (
    "com|net|org|info|biz|io|co|ai|app|dev|xyz|top|online|site|club|shop|store|link|click|live|news|"
    "me|tv|cc|ly|gg|to|sh|ws|so|is|it|in|us|uk|de|fr|ru|cn|su|tk|ml|ga|cf|gq|pw|biz|mobi|win|bid|"
    "zip|mov|gov|edu|int|eu|ca|au|nl|be|ch|es|pl|jp|kr|br|mx|ar|za|ng|ke|ua|tr|ir|pk|bd|vn|id|ph|my|sg|nz|ie|"
    "at|se|no|dk|fi|cz|pt|gr|hu|ro|il|sa|ae|eg|hk|tw"
)
BARE_DOMAIN = re.compile(
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r")(?![\w-])"
    r"(?:/[^\s\])>\"'<]*)?",
    re.I,
)
LINK_REMOVED = "[link removed]"


def citation(n: int, p: Passage) -> Citation:
    return Citation(
        n=n,
        title=p.title or "(untitled)",
        url=p.link,
        published=p.published or p.file_date,  # shown as "undated (file date …)" when that is what it is
        source=p.outlet,
        text=p.text,
        published_from=p.published_from,
    )


def renumber(text: str, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Keep only markers that name a passage, renumber them 1..m by first use, and list just those."""
    order: dict[int, int] = {}

    def swap(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(passages):
            return ""
        order.setdefault(n, len(order) + 1)
        return f"[{order[n]}]"

    cleaned = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", MARKER.sub(swap, text))  # "[1][1]" after a marker moved
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return cleaned, [citation(new, passages[old - 1]) for old, new in sorted(order.items(), key=lambda kv: kv[1])]


def append_cited(first: str, cites: list[Citation], second: str, more: list[Citation]) -> tuple[str, list[Citation]]:
    """`second` (with markers into `more`) after `first` (markers into `cites`): one numbering, each article once."""
    key = {(c.url, c.title): c.n for c in cites}
    merged = list(cites)
    remap: dict[int, int] = {}
    for c in more:
        n = key.get((c.url, c.title))
        if n is None:
            n = key[(c.url, c.title)] = len(merged) + 1
            merged.append(replace(c, n=n))
        remap[c.n] = n
    second = MARKER.sub(lambda m: f"[{remap[int(m.group(1))]}]" if int(m.group(1)) in remap else "", second)
    return f"{first}\n\n{second}", merged


def _hosts(passages: list[Passage]) -> set[str]:
    hosts = set()
    for p in passages:
        for u in [p.url, *p.urls]:
            host = urlsplit(u).hostname if u and "://" in u else None
            if host:
                hosts.add(host.lower().removeprefix("www."))
    return hosts


def strip_foreign_urls(text: str, passages: list[Passage]) -> str:
    """A URL or bare domain in model output that is not one of the sources' own is removed: output is untrusted."""
    allowed = {u.rstrip("/.") for p in passages for u in [p.url, *p.urls] if u}
    text = URL.sub(lambda m: m.group(0) if m.group(0).rstrip("/.") in allowed else LINK_REMOVED, text)
    hosts = _hosts(passages)

    def bare(m: re.Match) -> str:
        host = m.group(0).split("/", 1)[0].lower().removeprefix("www.")
        return m.group(0) if host in hosts and "/" not in m.group(0) else LINK_REMOVED

    # the placeholder itself must not be taken apart, so the bare-domain pass skips it
    return LINK_REMOVED.join(BARE_DOMAIN.sub(bare, part) for part in text.split(LINK_REMOVED))


# --- does a claim rest on the passage it cites? -------------------------------------------------
_WORD = re.compile(r"[^\W_]+", re.U)
_NAME_OR_NUMBER = re.compile(r"\d[\d.,]*|(?<!^)(?<![.!?]\s)\b[A-Z][\w’'-]+")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this that
these those it its he she they them his her their we you i what which who when where why how does do did has have
had will would can could should may might not no than then there here about into over after before also said says
says according source sources article articles""".split()
)
MIN_SHARE = 0.25  # of a claim's content words found in the passage it cites


def _key_words(text: str) -> set[str]:
    return {w.lower()[:6] for w in _WORD.findall(text) if len(w) > 2 and w.lower() not in _STOP}


def supported(claim: str, passage: str) -> bool:
    """Cheap check that a claim shares key words with the passage it cites: a quarter of its content words (first
    six letters, so "raised"/"raises" agree), or any of its numbers and names (a reply in another language
    keeps those)."""
    words = _key_words(claim)
    if not words:
        return True  # nothing to check ("[1]" after a bare "Yes.")
    have = _key_words(passage)
    if len(words & have) >= MIN_SHARE * len(words):
        return True
    folded = " ".join(passage.split()).lower()
    return any(k.lower().strip(".,") in folded for k in _NAME_OR_NUMBER.findall(claim) if len(k.strip(".,")) > 1)


def recheck_markers(text: str, passages: list[Passage]) -> str:
    """Each [n] whose claim does not rest on passage n moves to the passage it does rest on, or is dropped.
    Markers naming no passage are left for renumber() to drop."""
    out, start, claim = [], 0, ""
    for m in MARKER.finditer(text):
        between = text[start : m.start()]
        if between.strip(" ,;.") or not claim:  # "claim [1][2]": both markers belong to the same claim
            claim = between
        out.append(between)
        n = int(m.group(1))
        if 1 <= n <= len(passages) and not supported(claim, passages[n - 1].text):
            better = next((i for i, p in enumerate(passages, 1) if supported(claim, p.text)), None)
            out.append(f"[{better}]" if better else "")
        else:
            out.append(m.group(0))
        start = m.end()
    out.append(text[start:])
    return "".join(out)
