"""The offline answerer: quotes the 1-4 retrieved sentences that best answer the question, each with its [n].

Which sentences, in which order, and whether a short direct answer line leads them, is decided by the trained
reader (bot/answering/reader.py, docs/reader.md): it scores every quotable sentence of the passages, embeds the best few and
re-scores them with their similarity to the question (when training found that better than the lexical stage
alone). When the sources give different figures for the same thing (a count, a price, "100 seconds to midnight"
then "90"), the newest source's figure leads and the reply says what it moved from, with both dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np

from bot.answer import Answer
from bot.answering.citations import citation, strip_foreign_urls
from bot.answering.cross_encoder import pair
from bot.answering.features import (
    NUMBER,
    PROPER,
    Candidate,
    full_features,
    lexical_features,
    sigmoid,
    terms,
    wants,
)
from bot.answering.reader import POOL, POOL_CROSS, Reader, default_reader
from bot.answering.reasons import reason_first
from vectorstore.passages import Passage
from vectorstore.sentences import MAX_WORDS, MIN_WORDS, quotable, split

NOT_FOUND = "I couldn't find anything about that in the articles."
MAX_SENTENCES = 4
_WORD_KEY = re.compile(r"\w+")


class Choices(Protocol):
    """The settings choose() reads from a Reader (the training grid passes candidate values instead)."""

    @property
    def nearly(self) -> float: ...

    @property
    def lead_threshold(self) -> float: ...


@dataclass
class Reading:
    """The reader's view of one question's passages: every candidate sentence with its lexical score, and the pooled
    best few ordered by the full model (`pool[k]` is a candidate index, `probs[k]` its probability)."""

    candidates: list[Candidate]
    lexical: np.ndarray
    lexical_probs: np.ndarray
    pool: list[int]
    probs: np.ndarray
    cross: np.ndarray | None = None  # the cross-encoder's logits, in the order of `pool`, when it read them


def candidates(question: str, passages: list[Passage]) -> list[Candidate]:
    """Every sentence that may be quoted: whole statements only, never a question, a headline, a byline, a teaser
    or an echo of the user's question."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for pi, p in enumerate(passages):
        title = _words(p.title)
        previous = ""
        for si, s in enumerate(split(p.text)):
            ok = (
                MIN_WORDS <= len(s.split()) <= MAX_WORDS
                and quotable(s)
                and not headline(s, title)
                and not echoes(s, question)
            )
            # one sentence from two copies of a wire story ("—" in one, "–" in the other) is quoted once
            key = " ".join(_WORD_KEY.findall(s.lower()))
            if ok and key not in seen:
                seen.add(key)
                out.append(Candidate(s, pi, si, previous))
            previous = s if ok else ""
    return out


def scan(question: str, passages: list[Passage], reader: Reader) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """The first, cheap stage (no embedding): candidates, their lexical features and probabilities."""
    cands = candidates(question, passages)
    sentences = {}

    def sentences_of(pi: int) -> list[str]:
        if pi not in sentences:
            sentences[pi] = split(passages[pi].text)
        return sentences[pi]

    lexical = lexical_features(question, cands, passages, sentences_of)
    return cands, lexical, reader.lexical.prob(lexical)


def cross_pairs(question: str, passages: list[Passage], cands: list[Candidate], order: list[int]) -> list:
    """What the cross-encoder reads for each pooled candidate: the question, the sentence and its context."""
    return [
        pair(
            question,
            cands[i].text,
            passages[cands[i].passage].title,
            passages[cands[i].passage].published,
            cands[i].previous,
        )
        for i in order
    ]


def similarities(embedder, question: str, cands: list[Candidate], order: list[int]) -> np.ndarray:
    """The pooled candidates' embedding similarity to the question."""
    vectors = np.array(embedder.embed_documents([question] + [cands[i].text for i in order]))
    return vectors[1:] @ vectors[0]


def read(question: str, passages: list[Passage], reader: Reader, embedder, scanned=None) -> Reading:
    """Both stages: the lexical scan (or the gate's, when it made one), then the best few re-scored: by the
    cross-encoder when the model has one (its probability alone, or stacked with the lexical features), else by
    their embedding similarity to the question."""
    cands, lexical, p_lex = scanned or scan(question, passages, reader)
    if not cands:
        return Reading([], lexical, p_lex, [], np.zeros(0))
    if reader.cross is not None:
        order = [int(i) for i in np.argsort(-p_lex, kind="stable")[:POOL_CROSS]]
        logits = reader.cross.logits(cross_pairs(question, passages, cands, order))
        if reader.stacked is not None:
            probs = reader.stacked.prob(
                full_features(lexical[order], similarities(embedder, question, cands, order), logits)
            )
        else:
            probs = sigmoid(logits)
        ranked = np.argsort(-probs, kind="stable")
        return Reading(cands, lexical, p_lex, [order[k] for k in ranked], probs[ranked], logits[ranked])
    if not reader.use_full:  # training found the lexical stage alone as good: nothing to embed
        ranked = np.argsort(-p_lex, kind="stable")[:POOL]
        return Reading(cands, lexical, p_lex, [int(i) for i in ranked], p_lex[ranked])
    order = [int(i) for i in np.argsort(-p_lex, kind="stable")[:POOL]]
    probs = reader.full.prob(full_features(lexical[order], similarities(embedder, question, cands, order)))
    ranked = np.argsort(-probs, kind="stable")
    return Reading(cands, lexical, p_lex, [order[k] for k in ranked], probs[ranked])


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder, reader: Reader | None = None):
        self.embedder = embedder
        # loaded (and its digest checked) here, so a damaged model stops the bot at start, not at a question
        self.reader = reader or default_reader()

    # --- the interface -----------------------------------------------------------------------
    def answer(self, question: str, passages: list[Passage], history: list | None = None, verdict=None) -> Answer:
        reading = getattr(verdict, "reading", None) if verdict is not None else None
        if reading is None:  # the gate reads the passages itself when it has the cross-encoder: reused here
            scanned = getattr(verdict, "scanned", None) if verdict is not None else None
            reading = read(question, passages, self.reader, self.embedder, scanned)
        picked, lead = choose(question, passages, reading, self.reader)
        if not picked:
            return Answer(NOT_FOUND, answerer=self.name, found=False)
        numbers: dict[int, int] = {}
        parts = []
        for sentence, pi in picked:
            n = numbers.setdefault(pi, len(numbers) + 1)
            # article text is untrusted too: a quoted sentence keeps only the sources' own links
            parts.append(f"{strip_foreign_urls(sentence, passages)} [{n}]")
        cites = [citation(n, passages[pi]) for pi, n in sorted(numbers.items(), key=lambda kv: kv[1])]
        return Answer(" ".join(parts), cites, answerer=self.name, lead=lead)

    def stream(
        self, question: str, passages: list[Passage], history: list | None = None, verdict=None
    ) -> Iterator[Answer]:
        yield self.answer(question, passages, history, verdict)

    def condense(self, question: str, history: list) -> str:
        """A follow-up ("and what share of its workforce is that?") is searched and read with the subject of the
        question it follows (bot/answering/follow_up.py)."""
        from bot.answering.follow_up import condense

        return condense(question, history)


def choose(
    question: str,
    passages: list[Passage],
    reading: Reading,
    reader: Choices,
    nearly: float | None = None,
    lead_threshold: float | None = None,
) -> tuple[list[tuple[str, int]], str]:
    """The sentences to quote, in order, as (sentence, passage index), and the direct answer line ("" for none)."""
    if not reading.pool:
        return [], ""
    nearly = reader.nearly if nearly is None else nearly
    lead_threshold = reader.lead_threshold if lead_threshold is None else lead_threshold
    best = float(reading.probs[0])
    # further sentences only when they are nearly as likely: a short answer beats a padded one
    chosen = [i for i, p in zip(reading.pool[:MAX_SENTENCES], reading.probs) if p >= nearly * best]
    change = changed_value(question, passages, reading)
    lead = ""
    if change is not None:
        newer, older, lead = change
        chosen = [newer, older] + [i for i in chosen if i not in (newer, older)][: MAX_SENTENCES - 2]
    elif best >= lead_threshold:
        lead = direct_answer(question, reading.candidates[reading.pool[0]].text, passages)
    return _with_referents(reason_first(question, chosen, reading, MAX_SENTENCES), reading.candidates), lead


def _with_referents(chosen: list[int], cands: list[Candidate]) -> list[tuple[str, int]]:
    """The chosen sentences as (text, passage); "She now has 17 goals" comes with the sentence that says who."""
    picked: list[tuple[str, int]] = []
    quoted: set[str] = set()
    for i in chosen:
        c = cands[i]
        s, pi, previous = c.text, c.passage, c.previous
        if s in quoted:
            continue
        quoted.add(s)
        if previous and _REFERS_BACK.match(s):
            at = next((k for k, (text, _) in enumerate(picked) if text.endswith(previous)), None)
            if at is not None:
                picked[at] = (f"{picked[at][0]} {s}", pi)
                continue
            if previous not in quoted:
                s = f"{previous} {s}"
                quoted.add(previous)
        picked.append((s, pi))
    return picked


_REFERS_BACK = re.compile(r"^[\"'“‘(]?(he|she|it|they|this|that|these|those|his|her|its|their|him|them)\b", re.I)
_VALUE = re.compile(r"(?<![\w.$£€])([$£€]?\d[\d,]*(?:\.\d+)?)\s?(%|percent|[a-z]{3,})")
_NOT_UNIT = frozenset(
    """and or in on at of to the for by from with was were are is has had have people percent""".split()
)
CHANGE_SHARE = 0.10  # a differing figure is weighed only in a sentence at least this likely, relative to the best
SAME_THING = 0.5  # share of the shorter sentence's terms (figures aside) the two must share to be about one thing
# "million", "percent" and the like say how big, not what: "1 million visitors" and "1.1 million dollars" differ
_SCALE = frozenset("hundred thousand million billion trillion".split())


def _values(sentence: str) -> dict[str, str]:
    """unit → figure for the figures a sentence gives ("90 seconds" → {"second": "90"}); years are no figures."""
    out: dict[str, str] = {}
    ambiguous: set[str] = set()
    for num, unit in _VALUE.findall(sentence):
        if re.fullmatch(r"(19|20)\d\d", num) or unit in _NOT_UNIT or unit in _SCALE:
            continue
        key = "%" if unit == "percent" else terms(unit)[0] if terms(unit) else unit
        if out.setdefault(key, num) != num:  # "moved from 100 seconds to 90 seconds": the sentence says it itself
            ambiguous.add(key)
    return {k: v for k, v in out.items() if k not in ambiguous}


def _long_date(published: str) -> str:
    try:
        d = date.fromisoformat(published[:10])
    except (ValueError, TypeError):
        return ""
    return f"{d.day} {d:%B %Y}"


def changed_value(question: str, passages: list[Passage], reading: Reading) -> tuple[int, int, str] | None:
    """When the reader's best sentence and another likely one, from sources of different dates, give different
    figures with the same unit for the same thing (the two say otherwise much the same), for a question that asks
    how many or how much: (the newer one's candidate, the older one's, the lead line saying what changed, with
    both dates)."""
    if wants(question) != "number":  # "which sport drew a record crowd this week" asks for no figure
        return None
    best = float(reading.probs[0])
    first = reading.candidates[reading.pool[0]]
    when_first = passages[first.passage].published[:10]
    values_first = _values(first.text)
    if not when_first or not values_first:
        return None
    about_first = set(terms(NUMBER.sub(" ", first.text)))
    names_first = _names(first.text, question)
    for j, p in zip(reading.pool[1:], reading.probs[1:]):
        other = reading.candidates[j]
        when = passages[other.passage].published[:10]
        if p < CHANGE_SHARE * best or not when or when == when_first:
            continue
        about = set(terms(NUMBER.sub(" ", other.text)))
        if len(about & about_first) < SAME_THING * min(len(about), len(about_first)):
            continue
        if _names(other.text, question) != names_first:  # two games, two teams: not one figure that changed
            continue
        for unit, num in values_first.items():
            then = _values(other.text).get(unit)
            if then is None or then == num or num in question or then in question:
                continue
            (new, new_when, new_num), (old, old_when, old_num) = sorted(
                [(reading.pool[0], when_first, num), (j, when, then)], key=lambda x: x[1], reverse=True
            )
            shown = "%" if unit == "%" else f" {_unit_word(reading.candidates[new].text, new_num)}"
            old_shown = "%" if unit == "%" else f" {_unit_word(reading.candidates[old].text, old_num)}"
            return (
                new,
                old,
                (
                    f"{new_num}{shown} as of {_long_date(new_when)}, moved from {old_num}{old_shown} "
                    f"({_long_date(old_when)})"
                ),
            )
    return None


def _names(sentence: str, question: str) -> set[str]:
    """The names a sentence gives that the question does not: who or what its figure is about."""
    asked = question.lower()
    return {m.lower() for m in PROPER.findall(sentence) if m.lower() not in asked and not _MONTH_OR_DAY.match(m)}


def _unit_word(sentence: str, num: str) -> str:
    m = re.search(re.escape(num) + r"\s?([A-Za-z%]+)", sentence)
    return m.group(1) if m else ""


_NUMBER_PHRASE = re.compile(
    r"(?<![\w.])[$£€]?\d[\d,.]*(?:-\d+)?(?:\s?(?:%|percent|million|billion|trillion|thousand))?"
    r"(?:\s(?!(?:and|or|in|on|at|of|to|the|a|an|for|by|from|with)\b)[a-z]+)?"
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&.-]*(?:\s(?:of|de|la|van|von|del|the)?\s?[A-Z][\w’'&.-]*)*")
_LIST_ITEM = re.compile(r"^\s*[\"'“‘(]?\d+[.)]\s")
_HOW_MANY = re.compile(r"\bhow (?:many|much)\s+([a-z]+)", re.I)
_MONTH_OR_DAY = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*$")


def direct_answer(question: str, sentence: str, passages: list[Passage]) -> str:
    """A short answer ("17 goals", "Maja Lindqvist") shown before the quotes, or "": only a whole figure or name
    that the question asks for and does not already say, the one such in the reader's best sentence; never a list
    number ("3.") or a cut-off phrase. The reader decides whether it is sure enough to show one at all."""
    kind = wants(question)
    if kind == "number":
        if _LIST_ITEM.match(sentence):
            sentence = _LIST_ITEM.sub("", sentence)
        found = [f.strip(" ,.") for f in _NUMBER_PHRASE.findall(sentence)]
        found = [f for f in found if not re.fullmatch(r"(19|20)\d\d", f.split()[0])]
        asked = _HOW_MANY.search(question)
        percent = re.search(r"\bpercent(age)?\b", question, re.I)
        if asked:  # "how many ballots": only a figure counting ballots ("600 years" is no count of centuries)
            noun = terms(asked.group(1))
            found = [f for f in found if noun and terms(f.split()[-1])[:1] == noun]
        elif percent:
            found = [f for f in found if "%" in f or "percent" in f]
        else:  # "how old", "how far": the unit is not said, so a bare figure could be anything in the sentence
            return ""
    elif kind == "name" and re.match(r"\s*(who|whom)\b", question, re.I):
        found = [m.strip(" .,'’") for m in _NAME.findall(sentence)]
        # a person's full name only: a lone capitalised word is as often a place or a label used as an adjective
        # ("more wins for a Hollywood legend" led a "who won best actor" reply with "Hollywood.")
        found = [f for f in found if not _MONTH_OR_DAY.match(f) and len(f.split()) >= 2]
    else:
        return ""
    q = question.lower()
    found = list(dict.fromkeys(f for f in found if f and f.lower() not in q))
    if len(found) != 1 or not NUMBER.search(found[0]) and kind == "number":
        return ""
    return found[0]


_WORDS = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower()))


def headline(sentence: str, title_words: set[str]) -> bool:
    """The article's own headline (or most of it) repeated in its text."""
    words = _words(sentence)
    return bool(words) and bool(title_words) and len(words & title_words) >= 0.8 * len(words)


def echoes(sentence: str, question: str) -> bool:
    """A sentence that only restates the question: at least 70% of its content words are the question's."""
    words = set(terms(sentence))
    return bool(words) and len(words & set(terms(question))) >= 0.7 * len(words)
