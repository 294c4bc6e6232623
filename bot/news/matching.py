"""Does a new article match a watched topic? Decided the way an answer is: the engine's retrieval finds the topic's
best passages, and the abstention gate (bot/answering/gate.py) must find the topic's words together in two
consecutive sentences of the article's passage, its names and numbers all there. Never a substring test: "ferry"
in a story about the ferry timetable does not match "ferry strike".

A topic is terser than a question: a two-word topic half met is another story, so the gate is asked for more of the
topic's weight (TOPIC_COVERAGE) than of a question's. And an article about a name says so at its start: the topic's
names (the gate's key terms: "Golden Globes", "Jacinda Ardern") must be in the title or the lead (LEAD_SENTENCES),
so a report that mentions them in passing further down is no alert. Measured on fictional and real articles
(benchmarks/watch.py): docs/telegram.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.answering.gate import judge
from bot.news.articles import NewArticle
from vectorstore.passages import Passage
from vectorstore.sentences import quotable, split
from vectorstore.store import chunk_id

TOPIC_COVERAGE = 0.75  # idf-weighted share of the topic's words one two-sentence window must hold (questions: 0.38)
LEAD_SENTENCES = 3  # a news article's lead: its first whole sentences, where the topic's names must be
DEPTH = 30  # passages retrieved per topic: the new articles must be among them to match
MAX_TOPIC_CHARS = 100
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Match:
    article: NewArticle
    passage: Passage
    sentence: str  # the article's sentence that holds most of the topic
    coverage: float


def matches(
    engine, topic: str, articles: list[NewArticle], coverage: float = TOPIC_COVERAGE, lead: int = LEAD_SENTENCES
) -> list[Match]:
    """The articles (new ones, given) that match the topic, best first; `coverage` and `lead` (0: no lead rule) are
    what benchmarks/watch.py varies."""
    if not articles or not topic.strip():
        return []
    by_key = {a.key: a for a in articles}
    passages = engine.retrieve(topic, k=DEPTH, since=_oldest(articles))
    vocabulary = engine.retriever.vocabulary()
    covered = []
    for p in passages:
        article = by_key.get(p.article_hash)
        if article is None:
            continue
        verdict = judge(topic, [p], vocabulary, min_coverage=coverage)
        if verdict.covered:
            covered.append((p, verdict))
    names = set(covered[0][1].keys) if covered and lead else set()
    leads = _leads(engine.store, [p for p, _ in covered], lead) if names else {}
    return [
        Match(by_key[p.article_hash], p, best_sentence(p, v.weights, vocabulary), v.coverage)
        for p, v in covered
        if not names or names <= set(vocabulary.terms(leads[p.article_hash]))
    ]


def _leads(store, passages: list[Passage], lead: int) -> dict[str, str]:
    """Each passage's article's title and first `lead` whole sentences (its first chunk, read when the passage is
    another)."""
    wanted = [chunk_id(p.article_hash, 0) for p in passages if p.position != 0]
    got = store.get_chunks(wanted) if wanted else {}
    out = {}
    for p in passages:
        text = p.text if p.position == 0 else got.get(chunk_id(p.article_hash, 0), ("", {}))[0]
        out[p.article_hash] = " ".join([p.title] + [s for s in split(text) if quotable(s)][:lead])
    return out


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
