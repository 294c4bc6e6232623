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
The thresholds were chosen on the first half of the eval files and checked on the second (README, "Quality and
speed, measured"; benchmarks/abstention.py).
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from bot.answer import Answer
from vectorstore.passages import Passage
from vectorstore.sentences import split

NOT_COVERED = "I couldn't find that in the articles: none of them covers it."
RELATED = "The closest is “{title}” ({when}), which is related but does not answer it."

# Chosen on the tuning half of the eval data (benchmarks/abstention.py), reported on both halves in the README.
WINDOW = 2              # consecutive sentences an answer's evidence may span
MIN_COVERAGE = 0.38     # idf-weighted share of the question's words the best window must hold
KEY_SHARE = 0.7         # share of the weight of the question's names and numbers one passage must hold
RELATED_COVERAGE = 0.3  # below this the closest passage is not even worth naming
# Words that frame a question rather than say what it is about: function words (BM25's own stop list is short),
# question words, and the "which of the following", "this week", "according to reports" of news questions.
_FRAME = frozenset("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of off
on once only or other our ours out over own same she should so some such than that the their theirs them then
there these they this those through to too under until up very was we were what when where which while who whom
whose why will with would you your yours much many long far old ever yet still
following name named called according reported reportedly report reports week weekend weeks year years month
months day days today yesterday recent recently latest new news article articles tell know said says say
happen happens happened happening""".split())


@dataclass
class Verdict:
    covered: bool
    coverage: float = 0.0                    # idf-weighted share of the question's words in the best window
    best: int | None = None                  # index of the passage holding that window
    missing: tuple[str, ...] = ()            # key words of the question found in no window that could answer
    weights: dict[str, float] = field(default_factory=dict)  # the question's terms and their idf
    reason: str = ""


_TOKEN = re.compile(r"[\w’'.-]+")
# Capitalised, but no name: months, days, "US", and the "000" of "25,000" (BM25 splits numbers at commas).
_NOT_KEY = frozenset("""us uk un eu jan feb mar apr may jun jul aug sep sept oct nov dec januari februari march april
june juli august septemb octob novemb decemb monday tuesday wednesday thursday friday saturday sunday 000 00""".split())


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
        stems = vocabulary.terms(f"{unit.group(1)} {_UNITS[unit.group(2)]}" if unit else low, skip=_FRAME)
        # a capital at the start of a sentence says nothing; elsewhere it marks a name
        name = bool(word) and (word[0].isupper() and not opening or word.isupper() and len(word) > 1) and i not in describing
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
    return [title.union(*sents[i:i + window]) for i in range(len(sents) - window + 1)]


def judge(question: str, passages: list[Passage], vocabulary, *, min_coverage: float = MIN_COVERAGE,
          key_share: float = KEY_SHARE, window: int = WINDOW) -> Verdict:
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
                min(best / min_coverage, 1.0) + min(best_keys / key_share, 1.0), best):
            best, best_i, best_keys, best_missing = cov, i, held, missing
    covered = best >= min_coverage and best_keys >= key_share
    reason = f"coverage {best:.2f}, names and numbers {best_keys:.2f}" + (
        f", missing {', '.join(best_missing)}" if best_missing else "")
    return Verdict(covered, best, best_i, best_missing, weights, reason)


def not_covered(verdict: Verdict, passages: list[Passage], answerer: str) -> Answer:
    """The reply when the gate says no: plainly not covered, naming the closest article when it is related."""
    text = NOT_COVERED
    if verdict.best is not None and verdict.coverage >= RELATED_COVERAGE and passages:
        p = passages[verdict.best]
        when = ", ".join(x for x in (p.outlet, p.when) if x) or "undated"
        text += " " + RELATED.format(title=p.title or "(untitled)", when=when)
    return Answer(text, answerer=answerer, found=False, verdict=verdict)

