"""The reader's features: what the trained reader (bot/answering/reader.py) sees of a question and its candidate
sentences, and what the trained gate sees of a question and its passages.

One function builds each kind of row (lexical, full, gate), and training (bot/learning/train_reader.py) and serving
(bot/answering/extractive.py, bot/answering/gate.py) both call it, so what is fitted is what answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from vectorstore import analysis
from vectorstore.analysis import FRAME_WORDS

# --- the question ------------------------------------------------------------------------------
_NUMBER_Q = re.compile(
    r"\bhow (many|much|long|old|far|big|close|high|low|fast|large|tall|deep|heavy|often)\b|"
    r"\bwhat (percent|percentage|number|amount|share|price|rate|age|score)\b",
    re.I,
)
_DATE_Q = re.compile(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b", re.I)
_NAME_Q = re.compile(
    r"\bwho\b|\bwhom\b|\bwhose\b|\bwhere\b|\bwhich\b|\bname\b|\bwhat (company|country|city|state|"
    r"team|group|organi[sz]ation|film|movie|song|book|show|party|agency)\b",
    re.I,
)
_WHY_Q = re.compile(r"\bwhy\b|\bwhat (caused|led)\b|\breason\b", re.I)
TIMELY = re.compile(r"\b(now|current(ly)?|latest|newest|this (week|month|year)|today|so far|still|most recent)\b", re.I)


def terms(text: str) -> list[str]:
    """The content terms of a text as BM25 indexes them (vectorstore/analysis.py), question framing left out."""
    return analysis.terms(text, FRAME_WORDS)


def wants(question: str) -> str:
    """The answer type a question asks for: number, date, name, reason or ''. The question word that comes first
    decides ("Who cut the ribbon when the bridge reopened?" asks for a name, not a date); at one position, in the
    order number, date, name, reason ("which year" is a date)."""
    found = [
        (m.start(), rank, kind)
        for rank, (kind, pattern) in enumerate(
            (("number", _NUMBER_Q), ("date", _DATE_Q), ("name", _NAME_Q), ("reason", _WHY_Q))
        )
        if (m := pattern.search(question))
    ]
    return min(found)[2] if found else ""


# --- the sentence --------------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.])[$£€]?\d[\d,.]*\d|(?<![\w.])[$£€]?\d")
DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b|"
    r"\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b"
)
PROPER = re.compile(r"(?<!^)(?<![.!?]\s)(?<![\"“‘(])\b[A-Z][a-z]+")
_PRONOUN = re.compile(r"^[\"'“‘(]?(he|she|it|they|this|that|these|those|his|her|its|their|him|them)\b", re.I)
_QUOTE = re.compile(r"[\"“”]")
_SAID = re.compile(r"\b(said|says|told|according to)\b", re.I)
_CAUSE = re.compile(r"\b(because|due to|after|amid|as a result|caused|led to|since|so that|in order to)\b", re.I)
_LIST_NUMBER = re.compile(r"^\s*\d+[.)]\s")
_MONTHS = ("January February March April May June July August September October November December").split()

LEXICAL = [
    "bias",
    "cov",
    "cov_window",
    "cov_title",
    "cov_passage",
    "overlap",
    "missed_rare",
    "num_new",
    "date_any",
    "name_new",
    "want_num_x",
    "want_date_x",
    "want_name_x",
    "want_reason_x",
    "want_none_name",
    "names_frac",
    "rank_inv",
    "pscore",
    "pos_inv",
    "first",
    "recency",
    "undated",
    "timely_x_recency",
    "loglen",
    "pronoun",
    "quote",
    "said",
    "list_number",
    "next_name_new",
    "answer_by_question_word",
    "name_before_question_verb",
]
FULL = LEXICAL + ["sim", "sim_gap"]
STACKED = FULL + ["cross", "cross_gap"]  # the cross-encoder's logit beside the embedding similarity


def _new_names(sentence: str, q_lower: str) -> list[str]:
    return [w for w in PROPER.findall(sentence) if w.lower() not in q_lower and w not in _MONTHS]


def _four_words(sentence: str, item: str, before: bool) -> set[str]:
    """The terms of the four words just before (or just after) where `item` first appears; none where it does not."""
    at = sentence.find(item)
    if at < 0:
        return set()
    words = sentence[:at].split()[-4:] if before else sentence[at + len(item) :].split()[:4]
    return set(terms(" ".join(words)))


def _answer_near(sentence: str, found: list[str], q_terms: set[str]) -> bool:
    """A new name or figure within four words after one of the question's words: "The barge was *built* by the
    Norrvik boatyard of Astrid Holm" answers "who built ...", where a sentence that merely repeats the question's
    words ("A floating library opened ...") and names something else does not."""
    return bool(q_terms) and any(q_terms & _four_words(sentence, item, before=True) for item in found)


# "Who cut the ribbon ...", "Which company announced ...": the words right after the question word say what the answer
# did, and a sentence naming someone new just before them ("Mayor Ilse Brandvold cut the ribbon") says who did it,
# where an opening sentence that repeats the rest of the question ("... Lantern Bridge reopened ...") does not.
_ASKS_WHO_DID = re.compile(r"^\W*(?:who|which \w+|what \w+)\s+((?:\S+\s+){0,2}\S+)", re.I)


def question_verb_terms(question: str) -> set[str]:
    """The content terms of the (up to) three words after "who" / "which X" / "what X" opening a question."""
    m = _ASKS_WHO_DID.match(question)
    return set(terms(m.group(1))) if m else set()


def _name_before(sentence: str, names: list[str], verb: set[str]) -> bool:
    """A new name followed within four words by one of the question's words after its question word."""
    return bool(verb) and any(verb & _four_words(sentence, name, before=False) for name in names)


# "killing four people" answers "how many were killed" as well as "killing 4 people" would, so for a "how many"
# question a count in words is a figure too; "one" is left out (far more often "one of the ..." than a count), and other
# questions ("how much did the repair cost?") keep to digits: "two years after" is no answer to them
_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?|"
    r"(?:twen|thir|for|fif|six|seven|eigh|nine)ty)\b",
    re.I,
)
_HOW_MANY = re.compile(r"\bhow many\b", re.I)


def _new_numbers(sentence: str, question: str) -> list[str]:
    """The figures a sentence adds to the question: numbers, and counts written out in words."""
    digits = [n for n in NUMBER.findall(sentence) if n not in question and not re.fullmatch(r"(19|20)\d\d", n)]
    if not _HOW_MANY.search(question):
        return digits
    q_lower = question.lower()
    return digits + [w for w in _NUMBER_WORD.findall(sentence) if w.lower() not in q_lower]


def _days(published: str) -> int | None:
    try:
        return (date.fromisoformat(published[:10]) - date(1970, 1, 1)).days
    except (ValueError, TypeError):
        return None


@dataclass
class Candidate:
    text: str
    passage: int  # index of its passage
    position: int  # index of the sentence in its passage
    previous: str  # the quotable sentence before it, or ""


def lexical_features(question: str, candidates: list[Candidate], passages, sentences_of) -> np.ndarray:
    """One row of LEXICAL features per candidate. `sentences_of(i)` gives passage i's sentences in order."""
    q_terms = set(terms(question))
    sent_terms = [set(terms(c.text)) for c in candidates]
    idf = analysis.idf_weights(q_terms, sent_terms)
    total = sum(idf.values()) or 1.0
    # every term tied for the rarest: picking one of them followed the set's hash order, so the same question got
    # another reply in another process
    top = max(idf.values()) if idf else None
    rarest = frozenset(t for t, v in idf.items() if v == top)
    kind = wants(question)
    verb = question_verb_terms(question) if kind == "name" else set()
    q_lower = question.lower()
    timely = bool(TIMELY.search(question))
    # per passage: its sentences' term sets (for the window), title and whole-passage terms, and its date
    p_sents = {}
    p_title, p_all, p_day = {}, {}, {}
    for pi in {c.passage for c in candidates}:
        ss = sentences_of(pi)
        p_sents[pi] = (ss, [set(terms(s)) for s in ss])
        p_title[pi] = set(terms(passages[pi].title))
        p_all[pi] = set().union(*p_sents[pi][1]) if ss else set()
        p_day[pi] = _days(passages[pi].published)
    known = [d for d in p_day.values() if d is not None]
    newest = max(known) if known else None
    top_score = max((p.score for p in passages), default=1.0) or 1.0
    rows = []
    for c, ts in zip(candidates, sent_terms):
        s = c.text
        cov = sum(idf[t] for t in ts & q_terms) / total
        ss, sts = p_sents[c.passage]
        j = c.position
        window = ts.union(*(sts[k] for k in (j - 1, j + 1) if 0 <= k < len(sts)))
        cov_w = sum(idf[t] for t in window & q_terms) / total
        cov_t = sum(idf[t] for t in p_title[c.passage] & q_terms) / total
        cov_p = sum(idf[t] for t in p_all[c.passage] & q_terms) / total
        names = _new_names(s, q_lower)
        nums = _new_numbers(s, question)
        has_date = bool(DATE.search(s))
        nxt = ss[j + 1] if j + 1 < len(ss) else ""
        day = p_day[c.passage]
        recency = 0.0 if day is None or newest is None else max(-1.0, (day - newest) / 365.0)
        words = len(s.split())
        rows.append(
            [
                1.0,
                cov,
                cov_w,
                cov_t,
                cov_p,
                len(ts & q_terms) / (len(q_terms) or 1),
                float(bool(rarest) and rarest.isdisjoint(ts)),
                float(bool(nums)),
                float(has_date),
                float(bool(names)),
                float(kind == "number" and bool(nums)),
                float(kind == "date" and has_date),
                float(kind == "name" and bool(names)),
                float(kind == "reason" and bool(_CAUSE.search(s))),
                float(kind == "" and bool(names)),
                len(names) / words,
                1.0 / (1 + c.passage),
                passages[c.passage].score / top_score,
                1.0 / (1 + j),
                float(j == 0),
                recency,
                float(day is None),
                recency * timely,
                math.log(words),
                float(bool(_PRONOUN.match(s))),
                float(bool(_QUOTE.search(s))),
                float(bool(_SAID.search(s))),
                float(bool(_LIST_NUMBER.match(s))),
                float(bool(_new_names(nxt, q_lower))) if nxt else 0.0,
                float(_answer_near(s, names if kind == "name" else nums if kind == "number" else [], q_terms)),
                float(_name_before(s, names, verb)),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(LEXICAL))


def full_features(lexical: np.ndarray, sims: np.ndarray, cross: np.ndarray | None = None) -> np.ndarray:
    """The lexical rows of the pooled sentences, with their similarity to the question and its gap to the best
    (FULL); with `cross`, the cross-encoder's logits and their gap to the best too (STACKED)."""
    columns = [lexical]
    for v in (sims,) if cross is None else (sims, cross):
        columns += [v[:, None], (v - (v.max() if len(v) else 0.0))[:, None]]
    return np.hstack(columns)


# --- the gate's features ---------------------------------------------------------------------------
# No retrieval score: it carries the time prior (articles from the days before `as_of` score higher), and a gate
# that learned "old news is not an answer" would turn down every question over an archive. No passage count either:
# out-of-corpus examples lose the passages that hold the answer, and a gate that learned "few passages, no answer"
# would turn down every question over a small folder. No sum of the question's idf weights: it grows with the size
# of the corpus, so a model fitted on 13,000 passages read a 3-article folder as "nothing there".
GATE = [
    "bias",
    "coverage",
    "keys_held",
    "n_keys",
    "missing_keys",
    "reader_max",
    "reader_second",
    "lexical_max_cov",
    "window_max",
    "title_max",
    "passage_max",
    "coverage_x_keys",
]
GATE_CROSS = GATE + ["cross_max", "cross_second"]  # the cross-encoder's two best probabilities


def gate_features(
    verdict, reader_probs: np.ndarray, passages, lexical: np.ndarray, cross: np.ndarray | None = None
) -> np.ndarray:
    """One row of GATE features for a question and its passages: the rule-based gate's evidence (coverage of the
    question's words in two consecutive sentences, share of its names and numbers held) and the reader's; with
    `cross` (the cross-encoder's logits of the pooled sentences) a GATE_CROSS row."""
    probs = np.sort(reader_probs)[::-1] if len(reader_probs) else np.zeros(1)
    n_keys = len(getattr(verdict, "keys", ()) or ())
    row = np.array(
        [
            1.0,
            verdict.coverage,
            verdict.key_share,
            math.log1p(n_keys),
            float(len(verdict.missing)),
            float(probs[0]),
            float(probs[1] if len(probs) > 1 else 0.0),
            _column_max(lexical, "cov"),
            _column_max(lexical, "cov_window"),
            _column_max(lexical, "cov_title"),
            _column_max(lexical, "cov_passage"),
            verdict.coverage * verdict.key_share,
        ]
    )
    if cross is None:
        return row
    best = np.sort(sigmoid(cross))[::-1] if len(cross) else np.zeros(1)
    return np.concatenate([row, [float(best[0]), float(best[1] if len(best) > 1 else 0.0)]])


def _column_max(lexical: np.ndarray, name: str) -> float:
    return float(lexical[:, LEXICAL.index(name)].max()) if len(lexical) else 0.0


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
