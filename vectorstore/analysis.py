"""The one text analyser: how every part of articlebot splits text into words, drops stop words and stems (which
language a question is in: vectorstore/language.py).

BM25 indexes what `terms` returns; the abstention gate and the extractive answerer weigh a question's words with
the same `terms`, so a word the index stores under one stem is never looked up under another; the near-duplicate
check compares `shingles`. Changing what `terms` returns changes every saved BM25 index: bump `VERSION` then, and
stale indexes rebuild at their next load (vectorstore/bm25index.py).

Stemming is Snowball's English stemmer (PyStemmer). A PyStemmer object keeps a cache and is not safe to share
between threads (Telegram answers several chats at once), so each thread gets its own.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Iterable

# bm25s's own token pattern and English stop list: the saved indexes were built with exactly these
WORD = re.compile(r"(?u)\b\w\w+\b")
STOP_WORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
there these they this to was will with""".split()
)
VERSION = "english-snowball-1"  # recorded with each saved BM25 index; bump it when `terms` changes
LANGUAGE = "en"  # the language the analyser (stop words, stemmer) and the embedding model are for

# Words that frame a question rather than say what it is about: function words (STOP_WORDS is short), question
# words, and the "which of the following", "this week", "according to reports" of news questions.
FRAME_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of off
on once only or other our ours out over own same she should so some such than that the their theirs them then
there these they this those through to too under until up very was we were what when where which while who whom
whose why will with would you your yours much many long far old ever yet still
following name named called according reported reportedly report reports week weekend weeks year years month
months day days today yesterday recent recently latest new news article articles tell know said says say
happen happens happened happening""".split()
)

_local = threading.local()


def _stemmer():
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Lower-case words of two or more letters or digits, as BM25 splits text ("25,000" is "25" and "000")."""
    return WORD.findall(text.lower())


def stem(word: str) -> str:
    """The Snowball stem of one lower-case word."""
    return _stemmer().stemWord(word)


def stem_words(ws: list[str]) -> list[str]:
    return _stemmer().stemWords(ws)


TERMS_CACHE = 4096  # sentences whose terms are kept: a question's gate and reader read the same ones several times


def terms(text: str, skip: Iterable[str] = frozenset()) -> list[str]:
    """The text's stemmed terms in order, stop words and `skip` (lower-case words, e.g. FRAME_WORDS) left out:
    exactly the terms BM25 indexes and searches for."""
    return list(_terms(text, skip if isinstance(skip, frozenset) else frozenset(skip)))


@functools.lru_cache(maxsize=TERMS_CACHE)
def _terms(text: str, skip: frozenset[str]) -> tuple[str, ...]:
    kept = [w for w in words(text) if w not in STOP_WORDS and w not in skip]
    return tuple(stem_words(kept)) if kept else ()


def bm25_tokenize(texts: list[str]):
    """`bm25s.tokenize` with this analyser's pattern, stop words and (this thread's) stemmer: token ids per text
    and their vocabulary, the same terms as `terms` gives."""
    import logging

    import bm25s

    # bm25s sets its own logger to DEBUG on import, which would print into every CLI and chat reply
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s.tokenize(
        texts, token_pattern=WORD.pattern, stopwords=list(STOP_WORDS), stemmer=stem_words, show_progress=False
    )


def shingles(text: str, n: int = 5) -> set[int]:
    """Hashes of the text's word n-grams (unstemmed, stop words kept): two copies of one wire story share most."""
    ws = re.findall(r"\w+", text.lower())
    return {hash(tuple(ws[i : i + n])) for i in range(max(1, len(ws) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def idf_weights(q_terms: set[str], sentence_terms: list[set[str]]) -> dict[str, float]:
    """Each question term weighted by how few of the candidate sentences hold it, log(1 + n / (1 + df)): what the
    reader's features and the LLM's focused evidence weigh a sentence's overlap with the question by."""
    n = max(len(sentence_terms), 1)
    df: dict[str, int] = {}
    for ts in sentence_terms:
        for t in ts & q_terms:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / (1 + df.get(t, 0))) for t in q_terms}
