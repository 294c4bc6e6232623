"""The abstention gate: do the retrieved passages address the question, or should the reply say they don't?

One function, `judge`, called by the engine after retrieval and before either answerer; a question it turns down
never reaches the answerer (with an LLM configured, the model is not called), and the answerers read its
verdict instead of keeping a threshold of their own.

The evidence is lexical, weighed by how rare each word is in the whole corpus (BM25's own terms and document
frequencies), so it does not move when the embedding model or its quantisation changes:
- the question's words, each weighted by its idf: a name, a number or a rare noun counts far more than "said";
- for each retrieved passage, the best window of a few consecutive sentences, and the idf-weighted share of
  the question's words it holds (coverage); facts that answer a question sit together, so words scattered over
  a long passage count for less than words found in one place;
- the question's rarest words (its names, numbers, the thing asked about), which must be found in that window.
A question passes when the best window covers enough of it and misses none of its key words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer import Answer
from vectorstore.passages import Passage
from vectorstore.sentences import split

NOT_COVERED = "I couldn't find that in the articles: none of them covers it."
RELATED = "The closest is “{title}” ({when}), which is related but does not answer it."

WINDOW = 3              # consecutive sentences an answer's evidence may span
MIN_COVERAGE = 0.6      # idf-weighted share of the question's words the best window must hold
KEY_SHARE = 0.5         # the question's key words: the rarest ones, together holding this share of its weight
RELATED_COVERAGE = 0.3  # below this the closest passage is not even worth naming
# Words that frame a quiz or chat question rather than say what it is about.
_FRAME = frozenset("""following which what who whom whose name named called accord report reportedly week weekend
year month day today recent recently latest new news announc article articles tell know""".split())


@dataclass
class Verdict:
    covered: bool
    coverage: float = 0.0                    # idf-weighted share of the question's words in the best window
    best: int | None = None                  # index of the passage holding that window
    missing: tuple[str, ...] = ()            # key words of the question found in no window that could answer
    weights: dict[str, float] = field(default_factory=dict)  # the question's terms and their idf
    reason: str = ""


def question_terms(question: str, vocabulary) -> dict[str, float]:
    terms = [t for t in vocabulary.terms(question) if t not in _FRAME]
    return {t: vocabulary.idf(t) for t in dict.fromkeys(terms)}


def key_terms(weights: dict[str, float], share: float = KEY_SHARE) -> set[str]:
    """The rarest terms, together holding at least `share` of the question's weight."""
    total = sum(weights.values())
    keys, held = set(), 0.0
    for t, w in sorted(weights.items(), key=lambda kv: -kv[1]):
        if held >= share * total:
            break
        keys.add(t)
        held += w
    return keys


def _windows(passage: Passage, vocabulary, window: int) -> list[set[str]]:
    """The term sets of every `window` consecutive sentences of the passage, the title in each."""
    title = set(vocabulary.terms(passage.title))
    sents = [set(vocabulary.terms(s)) for s in split(passage.text)]
    if len(sents) <= window:
        return [title.union(*sents)]
    return [title.union(*sents[i:i + window]) for i in range(len(sents) - window + 1)]


def judge(question: str, passages: list[Passage], vocabulary, *, min_coverage: float = MIN_COVERAGE,
          key_share: float = KEY_SHARE, window: int = WINDOW) -> Verdict:
    weights = question_terms(question, vocabulary)
    if not passages:
        return Verdict(False, weights=weights, reason="nothing retrieved")
    if not weights:
        return Verdict(True, best=0, weights=weights, reason="no content words to check")
    total = sum(weights.values())
    keys = key_terms(weights, key_share)
    best, best_i, best_missing = -1.0, 0, tuple(sorted(keys))
    for i, p in enumerate(passages):
        for found in _windows(p, vocabulary, window):
            cov = sum(w for t, w in weights.items() if t in found) / total
            missing = tuple(sorted(keys - found))
            if (not missing, cov) > (not best_missing, best):
                best, best_i, best_missing = cov, i, missing
    covered = best >= min_coverage and not best_missing
    reason = f"coverage {best:.2f}" + (f", missing {', '.join(best_missing)}" if best_missing else "")
    return Verdict(covered, best, best_i, best_missing, weights, reason)


def not_covered(verdict: Verdict, passages: list[Passage], answerer: str) -> Answer:
    """The reply when the gate says no: plainly not covered, naming the closest article when it is related."""
    text = NOT_COVERED
    if verdict.best is not None and verdict.coverage >= RELATED_COVERAGE and passages:
        p = passages[verdict.best]
        when = ", ".join(x for x in (p.outlet, p.when) if x) or "undated"
        text += " " + RELATED.format(title=p.title or "(untitled)", when=when)
    return Answer(text, answerer=answerer, found=False, verdict=verdict)

