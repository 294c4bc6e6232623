"""The offline answerer: quotes the 1-4 retrieved sentences that best answer the question, each with its [n].

Scoring is two-stage to stay within the latency budget: a cheap lexical pass over every sentence of the
passages (idf-weighted stemmed term overlap, the answer type the question asks for, the passage's rank), then
the best few are embedded and re-scored by semantic similarity to the question. Embedding every sentence
would cost ~0.5 s per answer on 2 cores; embedding eight costs a few tens of milliseconds.
"""
from __future__ import annotations

import math
import re
from typing import Iterator

import numpy as np

from bot.answer import Answer
from bot.citations import citation, strip_foreign_urls
from vectorstore.passages import Passage
from vectorstore.sentences import MAX_WORDS, MIN_WORDS, quotable, split

NOT_FOUND = "I couldn't find anything about that in the articles."
MAX_SENTENCES = 4
_WORD_KEY = re.compile(r"\w+")
SEMANTIC_POOL = 8
NEARLY = 0.35       # how close to the best sentence a further one must score to be quoted too
NAME_BONUS = 0.1    # a sentence naming something the question does not, when it asks for a name

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’&.-]*")
_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being this that
these those it its it's he she they them his her their we you i what which who whom whose when where why how
does do did done has have had will would can could should may might must not no yes than then there here about
into over after before during up down out so such also just only very more most some any each other all both
according said says say week year years day days today new latest recently one two first""".split())
_FOLLOW_UP = re.compile(r"^(and|but|so|what about|how about|and what|then)\b|\b(it|its|they|them|their|he|she|his|"
                        r"her|him|this|that|those|these|there)\b", re.I)
_NUMBER = re.compile(r"\d")
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")


def _stem(word: str) -> str:
    w = word.lower().strip(".'’-")
    for suffix in ("ies", "es", "s", "ing", "ed", "ly"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1]


def _wants(question: str) -> str:
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|far|big)\b|\bwhat (percent|percentage|number|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month|time)\b", q):
        return "date"
    if re.search(r"\bwho\b|\bwhich (person|man|woman|player|singer|actor|company|team|country|state|city)\b|"
                 r"\bwhere\b|\bwhich\b|\bname\b", q):
        return "name"
    return ""


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder):
        self.embedder = embedder

    # --- the interface -----------------------------------------------------------------------
    def answer(self, question: str, passages: list[Passage], history: list | None = None, verdict=None) -> Answer:
        picked = self.pick(question, passages)
        if not picked:
            return Answer(NOT_FOUND, answerer=self.name, found=False)
        numbers: dict[int, int] = {}
        parts = []
        for sentence, pi in picked:
            n = numbers.setdefault(pi, len(numbers) + 1)
            # article text is untrusted too: a quoted sentence keeps only the sources' own links
            parts.append(f"{strip_foreign_urls(sentence, passages)} [{n}]")
        cites = [citation(n, passages[pi]) for pi, n in sorted(numbers.items(), key=lambda kv: kv[1])]
        return Answer(" ".join(parts), cites, answerer=self.name, lead=direct_answer(question, picked[0][0], passages))

    def stream(self, question: str, passages: list[Passage], history: list | None = None, verdict=None
               ) -> Iterator[Answer]:
        yield self.answer(question, passages, history, verdict)

    def condense(self, question: str, history: list) -> str:
        """A follow-up ("and what did she say?") is searched together with the question it follows."""
        if not history or not _FOLLOW_UP.search(question) or len(question.split()) > 20:
            return question
        return f"{history[-1][0]} {question}"

    # --- scoring -----------------------------------------------------------------------------
    def candidates(self, question: str, passages: list[Passage]) -> list[tuple[str, int, int, str]]:
        """(sentence, passage index, position, the sentence before it) for every sentence that may be quoted: whole
        statements only, never a question, a headline, a byline, a teaser or an echo of the user's question."""
        out: list[tuple[str, int, int, str]] = []
        seen: set[str] = set()
        for pi, p in enumerate(passages):
            title = _words(p.title)
            previous = ""
            for si, s in enumerate(split(p.text)):
                ok = (MIN_WORDS <= len(s.split()) <= MAX_WORDS and quotable(s) and not headline(s, title)
                      and not echoes(s, question))
                # one sentence from two copies of a wire story ("—" in one, "–" in the other) is quoted once
                key = " ".join(_WORD_KEY.findall(s.lower()))
                if ok and key not in seen:
                    seen.add(key)
                    out.append((s, pi, si, previous))
                previous = s if ok else ""
        return out

    def pick(self, question: str, passages: list[Passage]) -> list[tuple[str, int]]:
        q_terms = set(terms(question))
        candidates = self.candidates(question, passages)
        if not candidates:
            return []
        sent_terms = [set(terms(s)) for s, _, _, _ in candidates]
        df: dict[str, int] = {}
        for ts in sent_terms:
            for t in ts & q_terms:
                df[t] = df.get(t, 0) + 1
        n = len(candidates)
        idf = {t: math.log(1 + n / (1 + df.get(t, 0))) for t in q_terms}
        total_idf = sum(idf.values()) or 1.0
        wants = _wants(question)
        q_lower = question.lower()
        lexical = []
        for (s, pi, si, _), ts in zip(candidates, sent_terms):
            coverage = sum(idf[t] for t in ts & q_terms) / total_idf
            bonus = 0.0
            if wants == "number" and _NUMBER.search(s):
                bonus += 0.15
            elif wants == "date" and _DATE.search(s):
                bonus += 0.15
            elif wants == "name" and any(w.lower() not in q_lower for w in _PROPER.findall(s)):
                bonus += NAME_BONUS  # it names something the question does not: likely the answer
            lexical.append(coverage + bonus + 0.08 / (1 + pi) + 0.02 / (1 + si))
        order = sorted(range(n), key=lambda i: -lexical[i])[:SEMANTIC_POOL]
        vectors = np.array(self.embedder.embed_documents([question] + [candidates[i][0] for i in order]))
        sims = vectors[1:] @ vectors[0]
        scored = sorted(((float(sim) + lexical[i], i) for i, sim in zip(order, sims)), reverse=True)
        best = scored[0][0]
        # further sentences only when they are nearly as good: a short answer beats a padded one
        chosen = [i for score, i in scored[:MAX_SENTENCES] if score >= best - NEARLY]
        picked, quoted = [], set()
        for i in chosen:
            s, pi, _, previous = candidates[i]
            if s in quoted:
                continue
            quoted.add(s)
            # "She now has 17 goals" needs the sentence that says who: the two are quoted together, in order
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


_WORDS = re.compile(r"[a-z0-9]+")
_REFERS_BACK = re.compile(r"^[\"'“‘(]?(he|she|it|they|this|that|these|those|his|her|its|their|him|them)\b", re.I)
_DATE = re.compile(r"\b(19|20)\d\d\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b|"
                   r"\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b")


_NUMBER_PHRASE = re.compile(r"(?<![\w.])[$£€]?\d[\d,.]*(?:-\d+)?(?:\s?(?:%|percent|million|billion|trillion|thousand))?"
                            r"(?:\s(?!(?:and|or|in|on|at|of|to|the|a|an|for|by|from|with)\b)[a-z]+)?")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&.-]*(?:\s(?:of|de|la|van|von|del|the)?\s?[A-Z][\w’'&.-]*)*")


def direct_answer(question: str, sentence: str, passages: list[Passage]) -> str:
    """A short answer ("17 goals", "Maja Lindqvist") shown before the quotes, only where the evidence is clear: the
    question asks for a number or a name, the best sentence holds exactly one that the question does not already
    say, and another retrieved article says it too."""
    wants = _wants(question)
    if wants == "number":
        found = _NUMBER_PHRASE.findall(sentence)
    elif wants == "name" and re.match(r"\s*who\b", question, re.I):
        found = [m.strip(" .,'’") for m in _NAME.findall(sentence)]
    else:
        return ""
    q = question.lower()
    found = list(dict.fromkeys(f.strip(" ,.") for f in found if f and f.lower() not in q))
    if len(found) != 1:
        return ""
    agreeing = sum(1 for p in passages if found[0].lower() in p.text.lower())
    return found[0] if agreeing >= 2 else ""


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
