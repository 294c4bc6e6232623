"""The abstention gate: do the retrieved passages address the question, or should the reply say they don't?

One function, `judge`, called by the engine after retrieval and before either answerer; a question it turns down
never reaches the answerer (with an LLM configured, the model is not called), and the answerers read its
verdict instead of keeping a threshold of their own.

The evidence is lexical, weighed by how rare each word is in the whole corpus (BM25's own terms and document
frequencies), so it does not move when the embedding model or its quantisation changes:
- the question's words, framing left out ("which of the following", "this week"), each weighted by its idf;
- its names and numbers: one retrieved passage (title included) must hold most of their weight;
- and two consecutive sentences of that passage must hold enough of the whole question's weight: facts that
  answer a question sit together, and a passage that only shares a name with it is related, not an answer.
With the trained reader (bot/answering/reader.py, docs/reader.md), that evidence and the reader's scan of the sentences
go into a model learned on the training weeks, which decides (the names and numbers must still be held) when
training found it better than the rule on the validation weeks; the shipped model did not, so the rule decides. Without
one (`reader=None`), the rule's thresholds below decide; they were chosen on the first half of the eval files and
checked on the second (benchmarks/abstention.py).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

import numpy as np

from bot.answer import Answer
from vectorstore.analysis import FRAME_WORDS
from vectorstore.passages import Passage
from vectorstore.sentences import split

NOT_COVERED = "I couldn't find that in the articles: none of them covers it."
RELATED = "The closest is “{title}” ({when}), which is related but does not answer it."

# Chosen on the tuning half of the eval data (benchmarks/abstention.py), reported on both halves in the README.
WINDOW = 2  # consecutive sentences an answer's evidence may span
MIN_COVERAGE = 0.38  # idf-weighted share of the question's words the best window must hold
KEY_SHARE = 0.7  # share of the weight of the question's names and numbers one passage must hold
RELATED_COVERAGE = 0.3  # below this the closest passage is not even worth naming
RELATED_PROBABILITY = 0.2  # the trained gate's probability below which it is not named either (docs/reader.md)


@dataclass
class Verdict:
    covered: bool
    coverage: float = 0.0  # idf-weighted share of the question's words in the best window
    best: int | None = None  # index of the passage holding that window
    missing: tuple[str, ...] = ()  # key words of the question found in no window that could answer
    weights: dict[str, float] = field(default_factory=dict)  # the question's terms and their idf
    reason: str = ""
    key_share: float = 1.0  # share of the weight of the question's names and numbers held
    keys: tuple[str, ...] = ()  # the question's names and numbers
    probability: float | None = None  # the trained gate's: the passages answer the question
    scanned: tuple | None = field(default=None, repr=False)  # the reader's lexical scan, reused by the answerer
    reading: object = field(default=None, repr=False)  # the cross-encoder's reading (extractive.py), reused too


_TOKEN = re.compile(r"[\w’'.-]+")
# Capitalised, but no name: months, days, "US", and the "000" of "25,000" (BM25 splits numbers at commas).
_NOT_KEY = frozenset(
    """us uk un eu jan feb mar apr may jun jul aug sep sept oct nov dec januari februari march april
june juli august septemb octob novemb decemb monday tuesday wednesday thursday friday saturday sunday 000 00""".split()
)


def question_terms(question: str, vocabulary) -> tuple[dict[str, float], set[str]]:
    """The question's terms with their weights, and its key terms: the names and numbers it asks about.

    A term is weighted by its idf in the corpus. A lower-case word no article uses at all ("decide" where the
    articles say "raised") is more often a paraphrase than a new subject, so it weighs as much as the question's
    typical word rather than the most; a name or number no article uses is a key term that cannot be found.
    """
    weights: dict[str, float] = {}
    keys: set[str] = set()
    unknown: set[str] = set()
    opening = True
    tokens = list(_TOKEN.finditer(question))
    describing = _describing(tokens)
    for i, m in enumerate(tokens):
        word = m.group(0).strip(".’'-")
        low = word.lower()
        if low.endswith(("'s", "’s")):
            low = low[:-2]
        unit = _UNIT.match(low)
        # "$2tn" in a British report is "$2 trillion" in an American one
        stems = vocabulary.terms(f"{unit.group(1)} {_UNITS[unit.group(2)]}" if unit else low, skip=FRAME_WORDS)
        # a capital at the start of a sentence says nothing; elsewhere it marks a name
        name = (
            bool(word)
            and (word[0].isupper() and not opening or word.isupper() and len(word) > 1)
            and i not in describing
        )
        opening = m.group(0).endswith((".", "?", "!", ":"))
        for t in stems:
            weights[t] = vocabulary.idf(t)
            if (any(c.isdigit() for c in t) or name) and t not in _NOT_KEY:
                keys.add(t)
            elif vocabulary.df(t) == 0:
                unknown.add(t)
    known = [w for t, w in weights.items() if t not in unknown]
    if unknown and known:
        typical = statistics.median(known)
        for t in unknown:
            weights[t] = typical
    return weights, keys


_UNIT = re.compile(r"^[$£€]?(\d+(?:\.\d+)?)(tn|bn|m|k)$")
_UNITS = {"tn": "trillion", "bn": "billion", "m": "million", "k": "thousand"}
_PLACE_ADJECTIVE = re.compile(r"[A-Z][a-z]+(?:ian|ean|ican|ese|ish)$")


def _describing(tokens: list[re.Match]) -> set[int]:
    """Positions of capitalised words that describe rather than name: a place adjective before a common noun and
    the capitals leading up to it ("which South Asian country", "a European nation", "his Mexican counterpart").
    An article about the crash in Nepal need not say "Asian"; one about "Asian Games" still has to."""
    out: set[int] = set()
    for i, m in enumerate(tokens):
        word = m.group(0).strip(".’'-")
        after = tokens[i + 1].group(0) if i + 1 < len(tokens) else ""
        if _PLACE_ADJECTIVE.match(word) and after[:1].islower() and not m.group(0).endswith((".", "?", "!", ":", ",")):
            j = i
            while j >= 0 and tokens[j].group(0)[:1].isupper():
                out.add(j)
                j -= 1
    return out


def _windows(passage: Passage, vocabulary, window: int) -> list[set[str]]:
    """The term sets of every `window` consecutive sentences of the passage, the title in each."""
    title = set(vocabulary.terms(passage.title))
    sents = [set(vocabulary.terms(s)) for s in split(passage.text)]
    if len(sents) <= window:
        return [title.union(*sents)]
    return [title.union(*sents[i : i + window]) for i in range(len(sents) - window + 1)]


def judge(
    question: str,
    passages: list[Passage],
    vocabulary,
    *,
    min_coverage: float = MIN_COVERAGE,
    key_share: float = KEY_SHARE,
    window: int = WINDOW,
    reader=None,
    embedder=None,
) -> Verdict:
    """The gate's verdict. With a `reader` (bot/answering/reader.py) the trained gate decides; without one, the rule alone."""
    weights, keys = question_terms(question, vocabulary)
    if not passages:
        return Verdict(False, weights=weights, reason="nothing retrieved")
    if not weights:
        return Verdict(True, best=0, weights=weights, reason="no content words to check")
    total = sum(weights.values())
    key_weight = sum(weights[t] for t in keys)
    best, best_i, best_keys, best_missing = -1.0, 0, 0.0, tuple(sorted(keys))
    for i, p in enumerate(passages):
        windows = _windows(p, vocabulary, window)
        # the names and numbers asked about may sit anywhere in the article (its title, its first paragraph) ...
        found = set().union(*windows)
        missing = tuple(sorted(keys - found))
        held = 1 - sum(weights[t] for t in missing) / key_weight if key_weight else 1.0
        # ... but the rest of the question must be met in one place
        cov = max(sum(w for t, w in weights.items() if t in terms) / total for terms in windows)
        if (min(cov / min_coverage, 1.0) + min(held / key_share, 1.0), cov) > (
            min(best / min_coverage, 1.0) + min(best_keys / key_share, 1.0),
            best,
        ):
            best, best_i, best_keys, best_missing = cov, i, held, missing
    covered = best >= min_coverage and best_keys >= key_share
    reason = f"coverage {best:.2f}, names and numbers {best_keys:.2f}" + (
        f", missing {', '.join(best_missing)}" if best_missing else ""
    )
    verdict = Verdict(covered, best, best_i, best_missing, weights, reason, best_keys, tuple(sorted(keys)))
    if reader is not None:
        decide(verdict, question, passages, reader, embedder)
    return verdict


def decide(verdict: Verdict, question: str, passages: list[Passage], reader, embedder=None) -> None:
    """The trained gate: the rule's evidence above and the reader's scan of the sentences, weighed by a model
    learned on the training weeks (bot/answering/reader.py), replaces the rule's yes or no."""
    from bot.answering.extractive import read, scan
    from bot.answering.features import gate_features

    verdict.scanned = scan(question, passages, reader)
    cross = None
    # the cross-encoder's best probabilities are the trained gate's main evidence (docs/reader.md); when the rule
    # decides and says no, they matter only for naming the closest article, so the reading (most of a question's
    # time) is skipped where that cannot happen
    if reader.cross is not None and (reader.use_gate or verdict.covered or _may_relate(verdict)):
        verdict.reading = read(question, passages, reader, embedder, verdict.scanned)
        cross = verdict.reading.cross
    elif reader.cross is not None:
        cross = np.zeros(0)
    x = gate_features(verdict, verdict.scanned[2], passages, verdict.scanned[1], cross)
    verdict.probability = float(reader.gate.prob(x[None, :])[0])
    # the names and numbers asked about must be there whatever the model says: an answer about "Norrvik" cannot come
    # from passages that never name it
    if reader.use_gate:  # else training found the rule as good, and the rule decides
        verdict.covered = verdict.probability >= reader.gate_threshold and verdict.key_share >= KEY_SHARE
    verdict.reason += f", answers it {verdict.probability:.2f} (needs {reader.gate_threshold:.2f}" + (
        ")" if reader.use_gate else ", not used)"
    )


def not_covered(verdict: Verdict, passages: list[Passage], answerer: str) -> Answer:
    """The reply when the gate says no: plainly not covered, naming the closest article only when it is really
    close: it holds every name and number the question asks about and most of its words, and (with the trained
    gate) the gate was not far from letting it through."""
    text = NOT_COVERED
    if verdict.best is not None and passages and related(verdict):
        p = passages[verdict.best]
        when = ", ".join(x for x in (p.outlet, p.when) if x) or "undated"
        text += " " + RELATED.format(title=p.title or "(untitled)", when=when)
    return Answer(text, answerer=answerer, found=False, verdict=verdict)


def _may_relate(verdict: Verdict) -> bool:
    return verdict.coverage >= RELATED_COVERAGE and verdict.key_share >= 1.0


def related(verdict: Verdict) -> bool:
    if not _may_relate(verdict):
        return False
    return verdict.probability is None or verdict.probability >= RELATED_PROBABILITY
