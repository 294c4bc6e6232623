"""Split chunk text into sentences: the units that get their own vectors at ingest and that extractive answers quote.

all-MiniLM-L6-v2 reads at most 256 word pieces, about half of a 512-token chunk, so a chunk's own vector never
sees the rest of its text. A vector per sentence sees all of it, and a chunk is as close to a question as its
closest sentence (benchmarks/retrieval.py: recall@5 0.701 → 0.763 on the eval set).

The splitter knows abbreviations ("Bills vs. Bengals", "Jan. 6", "St. Louis", "U.S. forces", "John F. Kennedy"):
a full stop after one ends a sentence only when an abbreviation that can close a sentence ("in the U.S.", "Inc.")
is followed by a word that typically opens one ("The", "He", "But"), the rule NLTK's punkt learns from its
orthographic statistics. NLTK itself is not imported: `import nltk` alone takes ~1.7 s, more than the whole
budget of a cold `articlebot ask`; this regex and the lists below split the eval corpus the way punkt does at
sentence ends that matter (measured in benchmarks/sentences.py) in a fraction of the time.
"""

from __future__ import annotations

import functools
import re

MIN_WORDS, MAX_WORDS = 4, 80
SPLITTER = "2"  # recorded by ingest: a store split by another version is split and embedded again

# Abbreviations after which a full stop never ends the sentence: titles, months, "vs.", "No. 5", "St. Louis".
_NEVER_END = frozenset(
    """mr mrs ms messrs dr prof gen lt col maj sgt capt cmdr adm gov sen rep reps pres rev hon
st mt ft sr
jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
vs v no nos vol fig approx est dept univ ave blvd rd""".split()
)
# Abbreviations that can also close a sentence ("... moved to the U.S." / "... Apple Inc."): the stop ends the
# sentence only when the next word is a usual sentence opener.
_MAY_END = frozenset(
    """inc corp co ltd llc plc bros jr etc al
ala ariz ark calif colo conn del fla ga ill ind kan ky la md mass mich minn miss mo mont neb nev okla ore pa
tenn tex va vt wash wis wyo""".split()
)
_STARTERS = frozenset(
    """a an the he she it they we i you this that these those there here his her their its our my
but and so yet or nor however meanwhile still also then thus instead moreover nevertheless nonetheless
in on at as after before when while if although though since because during despite under among according
one some many most more both each several all no not what who why how where""".split()
)
_INITIAL = re.compile(r"^[A-Z]$")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")  # U.S, D.C, a.m, Ph.D before the final stop
# a candidate end: terminal punctuation, closing quotes or brackets, space, then something that can open a sentence
_BOUNDARY = re.compile(r"([.!?…])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_LAST_TOKEN = re.compile(r"([^\s\"'“‘(\[]+)$")
_FIRST_WORD = re.compile(r"^[\"'“‘(\[]*([A-Za-z]+)")


def _continues(before: str, after: str) -> bool:
    """True when the full stop that ends `before` belongs to an abbreviation and the sentence goes on in `after`."""
    token = _LAST_TOKEN.search(before)
    if not token:
        return False
    word = token.group(1).rstrip(".")
    low = word.lower()
    if _INITIAL.match(word):
        return True  # "John F. Kennedy"
    if low in _NEVER_END:
        return not (low == "no" and not after[:1].isdigit())  # "No. 5", but "... said no. The ..."
    if low in _MAY_END or _DOTTED.match(word):
        first = _FIRST_WORD.match(after)
        return not (first and first.group(1).lower() in _STARTERS)
    return False


def _split_line(line: str) -> list[str]:
    out, start = [], 0
    for m in _BOUNDARY.finditer(line):
        if m.group(1) == "." and not m.group(2) and _continues(line[start : m.start()], line[m.end() :]):
            continue
        out.append(line[start : m.end()])
        start = m.end()
    out.append(line[start:])
    return out


SPLIT_CACHE = 256  # texts whose sentences are kept: a question's passages are split by the gate and the reader


def split(text: str) -> list[str]:
    """Every sentence of a text in order, white space folded; a line break always ends a sentence."""
    return list(_split(text))


@functools.lru_cache(maxsize=SPLIT_CACHE)
def _split(text: str) -> tuple[str, ...]:
    out = []
    for line in text.split("\n"):
        for s in _split_line(line):
            s = " ".join(s.split())
            if s:
                out.append(s)
    return tuple(out)


def sentences(text: str) -> list[str]:
    """The sentences of a text, white space folded; fragments (captions, bylines) and run-ons left out."""
    return [s for s in split(text) if MIN_WORDS <= len(s.split()) <= MAX_WORDS]


def units(text: str) -> list[str]:
    """What gets a vector for one chunk: its sentences, or the chunk itself when it has none (a list, a table)."""
    return sentences(text) or [" ".join(text.split())]


# --- what may be quoted --------------------------------------------------------------------------------------
_ENDS_SENTENCE = re.compile(r"[.!…][\"'”’)\]]*$")
_OPENS_SENTENCE = re.compile(r"^[\"'“‘(\[]?[A-Z0-9$£€]")
# "RELATED:Headline", "Previously:Former Pope ...", "Who is the next speaker?:Kevin McCarthy was ..."
_LABEL = re.compile(r"^[^\s:][^:]{0,40}[A-Za-z?]:(?=[\"'“‘A-Z0-9])")
_BYLINE = re.compile(r"^(by|photo(graph)? by|story by|written by|reporting by|contributing:?)\s", re.I)
_ENDS_IN_ABBREVIATION = re.compile(r"(?:^|\s)[\"'“‘(\[]*([A-Za-z]+)\.$")


def fragment(s: str) -> bool:
    """A sentence that is not whole: no closing full stop (headlines, captions, cut-offs), cut after an
    abbreviation ("... Bills vs."), starting mid-sentence, or a label glued to a headline ("RELATED:...")."""
    if not _ENDS_SENTENCE.search(s) or not _OPENS_SENTENCE.match(s) or _LABEL.match(s):
        return True
    last = _ENDS_IN_ABBREVIATION.search(s)
    return last is not None and (last.group(1).lower() in _NEVER_END or _INITIAL.match(last.group(1)) is not None)


def quotable(s: str) -> bool:
    """Whether a sentence can stand in an answer: a whole statement, not a question, a fragment or a byline."""
    return not s.rstrip("\"'”’)] ").endswith("?") and not fragment(s) and not _BYLINE.match(s)
