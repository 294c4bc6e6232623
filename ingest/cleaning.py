"""Reduce an article's text to the article: drop share buttons, cookie banners, navigation and comment forms."""
from __future__ import annotations

import re
import unicodedata

from ingest.article import Article

# Lines that start the page furniture after an article (comment forms, share bars, "related" lists).
# Everything from the first of them on is cut, as long as it sits in the last part of the text.
_TAIL = re.compile(
    r"^\s*(leave a (reply|comment)|post a comment|add a comment|join the (discussion|conversation)|"
    r"\d+\s+comments?|comments? \(\d+\)|you are commenting using|fill in your details below|connecting to %s|"
    r"this site uses akismet|share this( article| story)?:?|like this:?|related (posts|articles|stories)\s*:?|"
    r"you (may|might) also like|recommended for you|more (stories|articles) from|sign up for our newsletter|"
    r"subscribe to our newsletter|notify me of (new|follow-up) (posts|comments)|cancel reply)\b.*$",
    re.IGNORECASE)

# Single lines of page chrome that can appear anywhere.
_CHROME = re.compile(
    r"^\s*(share on (facebook|twitter|x|linkedin|whatsapp|reddit|email)|(share|tweet|email|print|pin it|whatsapp|"
    r"copy link|facebook|twitter|linkedin|reddit)(\s*\|.*)?|click to (share|email|print).*|"
    r".*\b(we|this (site|website)) uses? cookies\b.*|accept (all )?cookies|cookie (policy|settings|preferences)|"
    r"manage cookies|skip to (main )?content|(main )?menu|toggle navigation|search( for)?:?|log ?in|log ?out|"
    r"sign ?in|sign ?up|subscribe( now)?|advertisement|sponsored|follow us on .*|"
    r"(twitter|facebook) (picture|photo)|logo|back to top)\s*$",
    re.IGNORECASE)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    total = sum(len(line) for line in lines) or 1
    seen = 0
    kept: list[str] = []
    for line in lines:
        # A tail marker in the first half is more likely a heading inside the story than the page footer.
        if seen > total * 0.5 and _TAIL.match(line):
            break
        seen += len(line)
        if line and _CHROME.match(line):
            continue
        kept.append(line)
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def clean(article: Article) -> Article:
    return article.with_(text=clean_text(article.text), title=_SPACES.sub(" ", article.title).strip())
