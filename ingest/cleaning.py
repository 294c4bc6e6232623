"""Reduce an article's text to the article: drop share buttons, cookie banners, navigation, comment forms, teasers
for other stories, bylines and the headline repeated in the text.

CLEANING names this version of the rules: the ingest manifest records it, so a store cleaned by older rules is
cleaned and embedded again on the next ingest.
"""

from __future__ import annotations

import re
import unicodedata

from ingest.article import Article

CLEANING = "2"

# Lines that start the page furniture after an article (comment forms, share bars, "related" lists).
# Everything from the first of them on is cut, as long as it sits in the last part of the text.
_TAIL = re.compile(
    r"^\s*(leave a (reply|comment)|post a comment|add a comment|join the (discussion|conversation)|"
    r"\d+\s+comments?|comments? \(\d+\)|you are commenting using|fill in your details below|connecting to %s|"
    r"this site uses akismet|share this( article| story)?:?|like this:?|related (posts|articles|stories)\s*:?|"
    r"you (may|might) also like|recommended for you|more (stories|articles) from|sign up for our newsletter|"
    r"subscribe to our newsletter|notify me of (new|follow-up) (posts|comments)|cancel reply)\b.*$",
    re.IGNORECASE,
)

# Single lines of page chrome that can appear anywhere.
_CHROME = re.compile(
    r"^\s*(share on (facebook|twitter|x|linkedin|whatsapp|reddit|email)|(share|tweet|email|print|pin it|whatsapp|"
    r"copy link|facebook|twitter|linkedin|reddit)(\s*\|.*)?|click to (share|email|print).*|"
    r".*\b(we|this (site|website)) uses? cookies\b.*|accept (all )?cookies|cookie (policy|settings|preferences)|"
    r"manage cookies|skip to (main )?content|(main )?menu|toggle navigation|search( for)?:?|log ?in|log ?out|"
    r"sign ?in|sign ?up|subscribe( now)?|advertisement|sponsored|follow us on .*|"
    r"(twitter|facebook) (picture|photo)|logo|back to top)\s*$",
    re.IGNORECASE,
)

# A teaser for another story, glued to its label by the page's markup ("RELATED:Historic 'bomb cyclone' crashes
# into coast", "More:Walmart sales increase 10%", "Previously:Former Pope Benedict XVI, first to resign ..."): in
# real prose a colon is followed by a space. A glued line that is a whole sentence under a place or topic label
# ("Topeka:Union members at the plant approved a new contract.") is kept, with the space put back.
# a question as the label ("Who is the next speaker?:Kevin McCarthy was once rejected ...") is a teaser too
_GLUED = re.compile(r"^([^\s:][^:]{0,40}[A-Za-z?]):(?=[\"'“‘A-Z0-9$£€])")
_TEASER_LABEL = re.compile(
    r"^(more|related|read more|read also|also read|see also|also|also this week|previously|"
    r"earlier|watch|listen|opinion|review|explained|live updates|latest updates|fact check|"
    r"you may like|don't miss|trending|recommended|.*newsletter.*|subscribe.*|sign up.*)$",
    re.I,
)
_SPACED_TEASER = re.compile(
    r"^(RELATED|READ MORE|MORE|SEE ALSO|WATCH|LISTEN|ALSO READ|LATEST UPDATES|"
    r"RELATED (STORY|STORIES|ARTICLE|COVERAGE)) ?: ",
    re.I,
)
_ENDS_SENTENCE = re.compile(r"[.!…][\"'”’)\]]*$")
# Bylines and credits on a line of their own.
_BYLINE = re.compile(
    r"^(by|story by|written by|reporting by|contributing:?|additional reporting by)\s+[A-Z][^.!?]{0,80}$|"
    r"^video ad feedback\b|.*\bcontributed to this (report|story)\.?$",
    re.IGNORECASE,
)


def _furniture(line: str, title: str) -> str | None:
    """The line as it should be kept, or None when it is a teaser, byline or repeat of the headline."""
    if title and line.casefold().rstrip(" .") == title:
        return None
    if _SPACED_TEASER.match(line) or _BYLINE.match(line):
        return None
    glued = _GLUED.match(line)
    if glued:
        label, rest = glued.group(1), line[glued.end() :]
        if (
            _TEASER_LABEL.match(label)
            or label.endswith("?")
            or label.isupper()
            or not _ENDS_SENTENCE.search(rest)
            or rest.rstrip("\"'”’)] ").endswith("?")
        ):
            return None
        return f"{label}: {rest}"
    return line


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_text(text: str, title: str = "") -> str:
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
        kept_line = _furniture(line, title) if line else line
        if kept_line is not None:
            kept.append(kept_line)
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def clean(article: Article) -> Article:
    title = _SPACES.sub(" ", article.title).strip()
    return article.with_(text=clean_text(article.text, title.casefold().rstrip(" .")), title=title)
