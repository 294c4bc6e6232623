"""Telegram HTML for an engine Answer: escaped text, a linked "Sources:" list, and splitting at Telegram's 4096 limit.

Everything that comes from an article (title, outlet, url) is escaped: titles are attacker-controlled text as far as
Telegram's HTML parser is concerned.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePath

from bot.answer import Answer, Citation
from bot.answering.corpus import ArticleInfo
from ingest.wording import plural

LIMIT = 4096
MAX_HREF = 2048  # longer links are shown as their title alone
_LINKABLE = re.compile(r"^(https?|tg)://", re.I)
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[^<&]", re.S)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def escape(text: str) -> str:
    return html.escape(text or "", quote=True)


def link_html(title: str, url: str) -> str:
    """The title linked to url; the title alone when url is not a web link (a file path is nothing Telegram could
    open) or too long to be a link (one HTML tag can hold no more than a message: a feed may hand us a 4 KB URL)."""
    if url and _LINKABLE.match(url) and len(escape(url)) <= MAX_HREF:
        return f'<a href="{escape(url)}">{escape(title)}</a>'
    return escape(title)


def render_citation(c: Citation) -> str:
    head = link_html(c.title or c.url or "untitled", c.url)
    when = ", ".join(escape(x) for x in (c.source, c.when) if x)
    return f"[{c.n}] {head}" + (f" — {when}" if when else "")


def render_answer(answer: Answer) -> str:
    """The whole reply as Telegram HTML (may exceed LIMIT; pass it through split_html)."""
    parts = [(f"<b>{escape(answer.lead)}.</b> " if answer.lead else "") + escape(answer.text)]
    if answer.note:
        parts.append(f"<i>({escape(answer.note)})</i>")
    if answer.citations:
        parts.append("\n".join(["<b>Sources:</b>"] + [render_citation(c) for c in answer.citations]))
    return "\n\n".join(parts)


def render_latest(articles: list[ArticleInfo], total: int) -> str:
    """/latest: the newest articles, each title linked when it has a web address; a file's date says so."""
    lines = [
        f"<b>{plural(total, 'article')}, newest first:</b>"
        if len(articles) == total
        else f"<b>Newest {len(articles)} of {total} articles:</b>"
    ]
    for a in articles:
        head = link_html(a.title or a.link, a.link)
        when = ", ".join(escape(x) for x in (a.outlet, a.when) if x)
        lines.append(f"• {head}" + (f" — {when}" if when else ""))
    return "\n".join(lines)


def render_sources(answer: Answer, *, show_paths: bool = False) -> str:
    """/sources: every source of the last answer in full, with the passage quoted from it. A file's place on the
    server (uploads carry the admin's chat id in theirs) is for admins (`show_paths`); others see its name."""
    if not answer.citations:
        return "My last answer cited no articles."
    quoted = answer.quoted()
    blocks = []
    for c in answer.citations:
        lines = [render_citation(c)]
        if c.url and not _LINKABLE.match(c.url):
            lines.append(f"<code>{escape(c.url if show_paths else PurePath(c.url).name)}</code>")
        if quoted.get(c.n):
            lines.append(f"<i>“{escape(quoted[c.n])}”</i>")
        blocks.append("\n".join(lines))
    return "<b>Sources of my last answer:</b>\n\n" + "\n\n".join(blocks)


def _tag(token: str) -> tuple[bool, str] | None:
    """(is_closing, name) for a tag token, None for text/entities."""
    m = _TAG.match(token)
    return (m.group(1) == "/", m.group(2).lower()) if m else None


def _name(tok: str) -> str:
    """The tag name of an opening or closing tag token."""
    tag = _tag(tok)
    return tag[1] if tag else ""


def _track(stack: list[str], tok: str):
    """Keep `stack` the list of tags open after `tok`; returns the token's (closing, name) or None for text."""
    tag = _tag(tok)
    if tag:
        closing, name = tag
        if closing:
            if stack and _name(stack[-1]) == name:
                stack.pop()
        elif not tok.endswith("/>"):
            stack.append(tok)
    return tag


def split_html(text: str, limit: int = LIMIT) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, each valid HTML on its own.

    Cuts prefer paragraph breaks, then line breaks, then spaces, and prefer places where no tag is open. Only when
    an element is itself too long is it cut inside, and then its tags are closed and reopened around the cut.
    Entities and tags are never cut.
    """
    if len(text) <= limit:
        return [text] if text.strip() else []
    tokens = _TOKEN.findall(text)
    parts: list[str] = []
    stack: list[str] = []  # open tags (full opening token) at the current position
    i = 0
    while i < len(tokens):
        while i < len(tokens) and tokens[i] in ("\n", " ") and not stack:
            i += 1  # a part never starts with the whitespace we cut at
        if i >= len(tokens):
            break
        prefix = "".join(stack)
        size = len(prefix)
        local = list(stack)
        best: dict[int, tuple[int, int]] = {}  # rank -> (last token index to cut after, size); lower rank is better
        j = i
        while j < len(tokens):
            tok = tokens[j]
            tag = _track(local, tok)
            closers = sum(len(_name(t)) + 3 for t in local)
            if size + len(tok) + closers > limit:
                break
            size += len(tok)
            nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
            depth0 = not local
            if nxt == "":
                best[0] = (j, size)
            elif tok == "\n" and nxt == "\n":
                best[1 if depth0 else 4] = (j, size)
            elif nxt == "\n":
                best[2 if depth0 else 5] = (j, size)
            elif nxt == " ":
                best[3 if depth0 else 6] = (j, size)
            if not tag:
                best[7] = (j, size)  # any text boundary, last resort
            j += 1
        if not best:  # a single token longer than the limit: cannot happen with sane limits
            raise ValueError(f"cannot split HTML into parts of {limit} characters")
        # a paragraph break near the start would make a tiny part: only take cuts that fill a quarter of it
        full = [r for r, (_, at) in best.items() if r == 0 or at >= limit // 4]
        cut = best[min(full or best)][0]
        # replay the stack up to the cut to know which tags to close and reopen
        body = tokens[i : cut + 1]
        for tok in body:
            _track(stack, tok)
        chunk = prefix + "".join(body)
        if not stack:
            chunk = chunk.rstrip()
        chunk += "".join(f"</{_name(t)}>" for t in reversed(stack))
        if chunk.strip():
            parts.append(chunk)
        i = cut + 1
    return parts
