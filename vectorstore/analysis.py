"""The one text analyser: how every part of articlebot splits text into words, drops stop words, stems, and tells
which language a text is in.

BM25 indexes what `terms` returns; the abstention gate and the extractive answerer weigh a question's words with
the same `terms`, so a word the index stores under one stem is never looked up under another; the near-duplicate
check compares `shingles`. Changing what `terms` returns changes every saved BM25 index: bump `VERSION` then, and
stale indexes rebuild at their next load (vectorstore/bm25index.py).

Stemming is Snowball's English stemmer (PyStemmer). A PyStemmer object keeps a cache and is not safe to share
between threads (Telegram answers several chats at once), so each thread gets its own.

`language` is a small function-word and script detector, written here because the only model the project ships is
the English MiniLM and nothing may be downloaded: it says "es" for "¿Quién ganó el Balón de Oro?" and stays
None (unsure) for a few capitalised names, so a question is only turned away on clear evidence.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
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


def terms(text: str, skip: Iterable[str] = frozenset()) -> list[str]:
    """The text's stemmed terms in order, stop words and `skip` (lower-case words, e.g. FRAME_WORDS) left out:
    exactly the terms BM25 indexes and searches for."""
    skip = skip if isinstance(skip, (set, frozenset)) else frozenset(skip)
    kept = [w for w in words(text) if w not in STOP_WORDS and w not in skip]
    return stem_words(kept) if kept else []


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


# --- language ----------------------------------------------------------------------------------------------------
# Function words that are not English words too ("die", "war", "come", "as", "do" are left out), lower-case in
# running text; a capitalised one is part of a name ("El Paso", "Banco do Brasil") unless it opens the text.
_FUNCTION_WORDS = {
    "en": frozenset(
        """the a an of in on at to is was were are did does do who what which when where why how many much
has have had will would and for with by from this that its it be been not after about""".split()
    ),
    "es": frozenset(
        """el los las del una unos unas por para con que qué cuál cuáles cuánto cuánta cuántos cuántas
quién quiénes dónde cuándo cómo porqué es fue fueron son está están han ha hay se su sus lo al y o pero más muy este
esta esto ese esa entre sobre desde hasta según también sido ganó dijo semana año en la de le""".split()
    ),
    "fr": frozenset(
        """le les des du une est sont qui quel quelle quels quelles combien où quand comment pourquoi dans
avec pour par sur pas ne il elle ils elles ce cette ces été au aux et ou mais plus qu cette semaine année en la de
un""".split()
    ),
    "de": frozenset(
        """der das den dem des ein eine einen einer und oder ist sind wurde wurden hat haben wer wie wo
wann warum welche welcher welches mit für auf von zu im nicht auch diese dieser woche jahr gewann sagte""".split()
    ),
    "it": frozenset(
        """il gli della delle degli dello nel nella che chi quale quali quanti quante quanto dove quando
perché è sono stato stata hanno non per con una uno di da si questa questo settimana anno la le""".split()
    ),
    "pt": frozenset(
        """os um uma da dos das na nos nas que quem qual quais quantos quantas onde quando como porque é
foi são está estão tem têm com para pelo pela não mais esta este semana ano ganhou em de""".split()
    ),
    "nl": frozenset(
        """het een van de en zijn wie wat waar wanneer hoe waarom welke met voor niet ook dat deze dit
werd heeft hebben week jaar won""".split()
    ),
}
_MARKS = {"es": "¿¡ñ", "de": "ßäöü", "pt": "ãõ", "fr": "œ"}  # letters and signs that point to one language
_SCRIPTS = (
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CJK", "zh"),
    ("DEVANAGARI", "hi"),
    ("THAI", "th"),
)
NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "el": "Greek",
    "ar": "Arabic",
    "he": "Hebrew",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
    "hi": "Hindi",
    "th": "Thai",
}
_TOKEN = re.compile(r"\w+", re.UNICODE)


def _script(text: str) -> str | None:
    """The language of a non-Latin script that most of the text's letters are written in."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    counts: dict[str, int] = {}
    for c in letters:
        name = unicodedata.name(c, "")
        for prefix, lang in _SCRIPTS:
            if name.startswith(prefix):
                counts[lang] = counts.get(lang, 0) + 1
                break
    if not counts:
        return None
    lang = max(counts, key=counts.__getitem__)
    if lang == "zh" and "ja" in counts:  # Japanese mixes kanji with kana
        lang = "ja"
    return lang if sum(counts.values()) > len(letters) / 2 else None


def language(text: str) -> str | None:
    """The text's language as a two-letter code, or None when the evidence is too thin to say (a name, a number).

    Latin-script languages are told apart by their function words (two at least, more than the English ones);
    other scripts by their letters."""
    by_script = _script(text)
    if by_script:
        return by_script
    tokens = _TOKEN.findall(text)
    hits = dict.fromkeys(_FUNCTION_WORDS, 0.0)
    for i, tok in enumerate(tokens):
        low = tok.lower()
        opening = i == 0
        for lang, fw in _FUNCTION_WORDS.items():
            if low in fw and (tok == low or opening or lang == "en"):
                hits[lang] += 1
    for lang, marks in _MARKS.items():
        hits[lang] += sum(text.count(m) for m in marks) + sum(text.count(m.upper()) for m in marks if m.isalpha())
    english = hits.pop("en")
    lang, best = max(hits.items(), key=lambda kv: kv[1])
    if best >= 2 and best > english:
        return lang
    return "en" if english >= 1 else None


def other_language(text: str, expected: str = LANGUAGE) -> str | None:
    """The language of `text` when it is clearly not `expected`, else None."""
    lang = language(text)
    return lang if lang is not None and lang != expected else None


def idf_weights(q_terms: set[str], sentence_terms: list[set[str]]) -> dict[str, float]:
    """Each question term weighted by how few of the candidate sentences hold it, log(1 + n / (1 + df)): what the
    reader's features and the LLM's focused evidence weigh a sentence's overlap with the question by."""
    n = max(len(sentence_terms), 1)
    df: dict[str, int] = {}
    for ts in sentence_terms:
        for t in ts & q_terms:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / (1 + df.get(t, 0))) for t in q_terms}
