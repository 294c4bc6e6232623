"""What an offline follow-up question is about: the names of the question it follows.

"How many jobs is Corvanta cutting?" then "And what share of its workforce is that?": the second question never
says whose workforce. An LLM rewrites it (bot/answering/llm.py); without one, the follow-up is searched and read together
with the subject it carries over (`condense`), and only the passages that name that subject are answered from
(`about`), so a second company's layoffs, which match "share of its workforce" better, are not quoted.

A subject is the names of a question: its capitalised words outside the question's framing ("How", "And", "The"),
runs of them kept together ("Corvanta Systems"). A follow-up that names something of its own ("What about
Heliotrope?") is about that instead.
"""

from __future__ import annotations

import re

from vectorstore.analysis import FRAME_WORDS, STOP_WORDS
from vectorstore.passages import Passage

# a follow-up opens with a conjunction or refers back with a pronoun; longer questions are taken as they are
FOLLOW_UP = re.compile(
    r"^(and|but|so|what about|how about|and what|then)\b|\b(it|its|they|them|their|he|she|his|"
    r"her|him|this|that|those|these|there)\b",
    re.I,
)
MAX_FOLLOW_UP_WORDS = 20
# "this week", "that year" point at a time, not back at the conversation
_TIME = re.compile(
    r"\b(this|that|these|those)\s+(week|weekend|month|year|morning|afternoon|evening|night|days?|time|season)\b", re.I
)
_NAME_RUN = re.compile(r"[A-Z][\w&-]*(?:\s+(?:[A-Z][\w&-]*))*")
# capitalised, but a day or month says when, not who: "And what did she say on Monday?" keeps its subject
_CALENDAR = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april june july august
september october november december""".split()
)
_NOT_NAMES = FRAME_WORDS | STOP_WORDS | _CALENDAR | {"i"}


def names(question: str) -> list[str]:
    """The question's names, in order: runs of capitalised words ("Corvanta Systems"), possessive "'s" dropped,
    the words that frame a question ("What", "And", "The", "I") and days and months left out wherever they stand."""
    out: list[str] = []
    for run in _NAME_RUN.findall(question):
        words = [w for w in run.split() if w.lower() not in _NOT_NAMES]
        # a framing word splits a run: "And Corvanta" is "Corvanta"
        if words:
            name = " ".join(re.sub(r"['’]s$", "", w) for w in words)
            if name not in out:
                out.append(name)
    return out


def is_follow_up(question: str, history: list) -> bool:
    """Whether the question leans on the conversation before it ("and what did she say?")."""
    if not history or len(question.split()) > MAX_FOLLOW_UP_WORDS:
        return False
    return bool(FOLLOW_UP.search(_TIME.sub(" ", question)))


def subject(question: str, history: list) -> list[str]:
    """The names a follow-up is about: its own when it has any, else those of the latest question before it that
    had some (a follow-up of a follow-up still carries the first question's subject)."""
    own = names(question)
    if own:
        return own
    for previous, _answer in reversed(history):
        carried = names(previous)
        if carried:
            return carried
    return []


def condense(question: str, history: list) -> str:
    """The follow-up as one search query: the subject first, then the question before it (whose words say what
    "that" is), then the follow-up. A follow-up naming its own subject drops the earlier one's names, so "What about
    Heliotrope?" after a question about Corvanta searches Heliotrope's figures, not Corvanta's."""
    if not is_follow_up(question, history):
        return question
    previous = history[-1][0]
    if names(question):
        for name in names(previous):
            previous = previous.replace(name, " ")
        return " ".join(f"{previous} {question}".split())
    carried = subject(question, history)
    if not carried:
        return f"{previous} {question}"
    # the subject named twice, first and in (or beside) the question before it, so it outweighs the follow-up's own
    # words in BM25 and the embedding; the reader weighs it as the query's rarest term
    again = " ".join(name for name in carried if name not in previous)
    return " ".join(f"{', '.join(carried)}: {again} {previous} {question}".split())


def mentions(passage: Passage, name: str) -> bool:
    """Whether the passage (title or text) names `name`, or any word of it ("Corvanta" for "Corvanta Systems")."""
    text = f"{passage.title}\n{passage.text}"
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in name.split() if len(word) > 2 or word.isupper())


def about(passages: list[Passage], names_: list[str]) -> list[Passage]:
    """The passages that name the subject, in their order, when any does; otherwise all of them (the subject may be
    paraphrased, and the gate then judges)."""
    if not names_:
        return passages
    kept = [p for p in passages if any(mentions(p, n) for n in names_)]
    return kept or passages
