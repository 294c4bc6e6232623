"""What a plain-text article states about itself at its top: its publication date (a "Published …" line or a
dateline) and its outlet (a line naming a site or network under the headline).

A saved .txt or .md article carries no metadata, so the loader falls back to the file's modification time (the
day it was copied, not the day it was published). News text usually says its date near the top, in one of a few
shapes, and that is what is read here:

    Published January 5, 2023            Updated: 2023-01-05 14:02          Posted Jan. 5, 2023
    January 5, 2023                      (a line that is only a date)
    WASHINGTON, Jan. 5, 2023 (AP) — ...  LONDON, 5 January (Reuters) - ...  (a dateline; no year: the file's)
    The Harbor City Gazette — 14 March 2025                                  (outlet or byline, then the date)
"""

from __future__ import annotations

import datetime as dt
import re

HEAD_LINES = 6  # a date further down is a date in the story, not the article's own
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
_DATE = (
    rf"(?:{_DAY}{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|{_DAY}\d{{1,2}}\s+{_MONTH}(?:,?\s+\d{{4}})?|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})"
)
_LABELLED = re.compile(
    rf"^\W*(?:published|posted|updated|last updated|date|first published)\b[\s:,-]*(?:on\s+)?"
    rf"({_DATE})",
    re.I,
)
_BARE = re.compile(rf"^\W*({_DATE})(?:\s*(?:at\s+)?\d{{1,2}}[:.]\d{{2}}.*)?\W*$", re.I)
# "CITY, Jan. 5 (AP) —" / "CITY (Reuters) Jan 5, 2023 -": a place in capitals or title case, then the date
_DATELINE = re.compile(
    rf"^[A-Z][A-Za-z.'’ -]{{1,40}},?\s+(?:\([^)]{{1,30}}\)\s*)?({_DATE})\s*(?:\([^)]{{1,30}}\)\s*)?[—–-]"
)

_CREDIT = re.compile(rf"^\W*[^—–|\n]{{1,80}}\s[—–|-]\s*({_DATE})\W*$")


def _parse(raw: str, fallback_year: int) -> dt.date | None:
    from dateutil import parser

    has_year = re.search(r"\d{4}", raw)
    try:
        when = parser.parse(raw.replace(".", " "), default=dt.datetime(fallback_year, 1, 1), fuzzy=True).date()
    except (ValueError, OverflowError):
        return None
    return when if has_year or when.year == fallback_year else None


def stated_date(text: str, file_date: str) -> str:
    """YYYY-MM-DD the text gives for itself near its top, or "" when it gives none. A dateline without a year
    ("LONDON, Jan. 5 (Reuters) -") takes the year of `file_date`, or the year before when that would put it after
    the file was written."""
    try:
        file_day = dt.date.fromisoformat(file_date)
    except ValueError:
        file_day = dt.date.today()
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()][:HEAD_LINES]
    for line in lines:
        found = _LABELLED.match(line) or _BARE.match(line) or _DATELINE.match(line) or _CREDIT.match(line)
        if not found:
            continue
        raw = found.group(1)
        when = _parse(raw, file_day.year)
        if when and not re.search(r"\d{4}", raw) and when > file_day:
            when = when.replace(year=when.year - 1)
        if when and dt.date(1900, 1, 1) <= when <= file_day + dt.timedelta(days=1):
            return when.isoformat()
    return ""


# The outlet a saved article names under its headline: "Newsroom24x7 Network", "The Harbor City Gazette — 14 March
# 2025", "example-news.com". A short line of capitalised words is only taken when it ends in a word outlets use for
# themselves (or is a site name), so that a subheading, a place or a person's name is not mistaken for one.
OUTLET_LINES = 2  # the outlet sits right under the headline, perhaps after a date line
_OUTLET_WORD = re.compile(
    r"\b(news|network|times|post|herald|gazette|tribune|journal|daily|wire|press|media|agency|chronicle|observer|"
    r"guardian|telegraph|independent|express|mail|mirror|standard|record|review|magazine|weekly|today|online|tv|"
    r"radio|broadcasting|reuters|bloomberg|bbc|cnn|npr|afp|inquirer|dispatch|bulletin|courier|examiner|sentinel|"
    r"register|ledger|monitor|insider|digest|globe|reporter|newsroom|newswire|dispatches)\b",
    re.I,
)
_SITE = re.compile(r"^[\w-]+(\.[\w-]+)*\.(com|org|net|news|info|co|io|[a-z]{2})(\.[a-z]{2})?$", re.I)
_CREDIT_OUTLET = re.compile(rf"^(.{{2,60}}?)\s[—–|-]\s*{_DATE}\W*$", re.I)
_SMALL = {"of", "the", "and", "&", "for", "de", "la", "le", "el", "on", "in", "at", "a"}


def stated_outlet(text: str) -> str:
    """The outlet named on a line of its own just under the headline, or "" when there is none."""
    lines = [line.strip().strip("*_").strip() for line in text.strip().split("\n") if line.strip()][:OUTLET_LINES]
    for line in lines:
        credit = _CREDIT_OUTLET.match(line)
        name = (credit.group(1) if credit else line).strip().strip("*_").strip()
        if _is_outlet(name):
            return name
    return ""


def _is_outlet(name: str) -> bool:
    if not name or len(name) > 60 or name[-1] in '.!?:;,"”' or name.lower().startswith("by "):
        return False
    if _SITE.match(name):
        return True
    words = re.sub(r"\([^)]*\)", "", name).split()  # "(fictional)", "(AP)" say nothing either way
    if not 1 <= len(words) <= 6:
        return False
    if not all(w[0].isupper() or w[0].isdigit() or w.lower() in _SMALL for w in words):
        return False
    return bool(_OUTLET_WORD.search(" ".join(words)))
