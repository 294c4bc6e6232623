"""Does a new article match a watched topic? Decided the way an answer is: the engine's retrieval finds the topic's
best passages, and the abstention gate (bot/answering/gate.py) must find the topic's words together in two
consecutive sentences of the article's passage, its names and numbers all there. Never a substring test: "ferry"
in a story about the ferry timetable does not match "ferry strike".

A topic is terser than a question: a two-word topic half met is another story, so the gate is asked for more of the
topic's weight (TOPIC_COVERAGE) than of a question's. Measured on fictional and real articles: docs/telegram.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.answering.gate import judge
from bot.news.articles import NewArticle
from vectorstore.passages import Passage
from vectorstore.sentences import split

TOPIC_COVERAGE = 0.75  # idf-weighted share of the topic's words one two-sentence window must hold (questions: 0.38)
DEPTH = 30  # passages retrieved per topic: the new articles must be among them to match
MAX_TOPIC_CHARS = 100
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Match:
    article: NewArticle
    passage: Passage
    sentence: str  # the article's sentence that holds most of the topic
    coverage: float


def matches(engine, topic: str, articles: list[NewArticle], coverage: float = TOPIC_COVERAGE) -> list[Match]:
    """The articles (new ones, given) that match the topic, best first."""
    if not articles or not topic.strip():
        return []
    by_key = {a.key: a for a in articles}
    passages = engine.retrieve(topic, k=DEPTH, since=_oldest(articles))
    vocabulary = engine.retriever.vocabulary()
    found = []
    for p in passages:
        article = by_key.get(p.article_hash)
        if article is None:
            continue
        verdict = judge(topic, [p], vocabulary, min_coverage=coverage)
        if verdict.covered:
            found.append(Match(article, p, best_sentence(p, verdict.weights, vocabulary), verdict.coverage))
    return found


def _oldest(articles: list[NewArticle]) -> date | None:
    """Retrieval within the new articles' dates, so older stories on the topic cannot crowd them out of the DEPTH
    best; no date filter when one of them has no publication date (a date filter would leave it out)."""
    days = [a.published for a in articles if a.published_from != "file-time" and _DAY.match(a.published)]
    if len(days) < len(articles):
        return None
    return date.fromisoformat(min(days))


def best_sentence(passage: Passage, weights: dict[str, float], vocabulary) -> str:
    """The passage's sentence holding the most of the topic's weight (the first of equals)."""
    best, best_score = "", -1.0
    for s in split(passage.text):
        if s == passage.title:
            continue
        score = sum(weights.get(t, 0.0) for t in set(vocabulary.terms(s)))
        if score > best_score:
            best, best_score = s, score
    return best
