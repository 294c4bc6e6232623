"""Which language a question is in: a small function-word and script detector.

Written here because the only model the project ships is the English MiniLM and nothing may be downloaded. It
says "es" for "¿Quién ganó el Balón de Oro?", "de" for "Was kostet die Brücke?", and stays English (or None, unsure)
for "Who starred in Die Hard?", "What did Le Monde report?" and a bare name: a question is only turned away on clear
evidence.

Latin-script languages are told apart by counting their common words (question words, articles, auxiliaries, a
few news words). A word counts only in running text: lower-case, or opening the question; a capitalised one inside
is part of a name ("Die Hard", "Le Monde"), as is a lower-case particle between names ("Jan van der Berg", "Banco do
Brasil"). Words English shares ("was", "in", "a") count for both sides, so only the other language's own words can
tip a question away from English. Other scripts are told by their letters.
"""

from __future__ import annotations

import re
import unicodedata

from vectorstore.analysis import LANGUAGE

# The English side: function words, and the question words that, opening a question, say it is English.
_ENGLISH = frozenset(
    """the a an of in on at to is was were are did does do who what which when where why how many much has have had
will would and for with by from this that its it be been not after about""".split()
)
_ENGLISH_OPENERS = frozenset("who what which when where why how whose whom".split())

# Common words of each language in running text. Words that are also everyday English words ("war", "man", "come",
# "also", "over") are left out unless English counts them too.
_WORDS = {
    "es": """el los las del un una unos unas por para con que qué cuál cuáles cuánto cuánta cuántos cuántas quién
quiénes dónde cuándo cómo porqué es fue fueron son era está están estaba han ha hay había se su sus lo al y pero más
muy este esta esto ese esa estos estas entre sobre desde hasta según también sido ganó dijo semana año años hoy ayer
último última nuevo nueva personas gobierno presidente elecciones murieron cuesta costó en la de le a""",
    "fr": """le les des du un une est sont était étaient été ont avait qui que quoi quel quelle quels quelles combien
où quand comment pourquoi dans avec pour par sur sous chez entre après avant depuis pendant pas ne plus il elle ils
elles on nous vous je ce cette ces cet sa ses leur leurs au aux et ou mais qu semaine année ans mois aujourd hui
hier dernier dernière nouveau nouvelle personnes gouvernement président élection élections gagné mort morts dit
fait coûte coûté en la de a""",
    "de": """der die das den dem des ein eine einen einem einer eines und oder aber ist sind waren wird werden
wurde wurden hat haben hatte hatten wer wen wem wessen was wie wo woher wann warum wieso welche welcher welches
welchen viele wieviel wieviele mit für auf von vom zu zum zur im ins beim bei nach über unter gegen ohne durch aus
nicht kein keine keinen auch noch schon nur sehr diese dieser dieses diesem diesen jetzt heute gestern derzeit
aktuell neue neuen neueste neuesten letzte letzten gewann gewonnen sagte gesagt gibt kostet kostete passiert
passierte sich sein seine ihre ihr es sie er wir ich dass wenn ob bis seit starben gestorben in""",
    "it": """il lo la gli le un uno una di del della dello delle dei degli al alla allo ai agli alle dal dalla nel
nella nei nelle sul sulla con per tra fra che chi cosa quale quali quanto quanta quanti quante dove quando perché è
sono era erano stato stata stati state ha hanno aveva non più anche questo questa questi queste quello quella suo
sua suoi loro ci si settimana anno anni oggi ieri ultimo ultima nuovo nuova persone governo presidente elezioni
vinto morti morte detto fatto costa costato in a""",
    "pt": """o os as um uma uns umas do da dos das no na nos nas ao aos pelo pela pelos pelas com para por em de que
quem qual quais quanto quanta quantos quantas onde quando como porque é são foi foram era eram está estão tem têm
teve tinha não mais também este esta estes estas isso esse essa seu sua seus suas ele ela eles elas semana ano anos
hoje ontem último última novo nova pessoas governo presidente eleição eleições ganhou morreram morreu disse custou
custa a""",
    "nl": """de het een van en zijn wie wat waar wanneer hoe hoeveel waarom welke welk met voor niet ook dat deze dit
die er naar bij om uit aan tot nog maar of heeft hebben werd worden wordt zal zullen kan kunnen week jaar jaren
vandaag gisteren vorige nieuwe mensen regering premier verkiezingen gewonnen won gezegd zei kost kostte gestorven
omgekomen in is was""",
}
_FUNCTION_WORDS = {lang: frozenset(ws.split()) for lang, ws in _WORDS.items()}
# German capitalises its nouns: these count capitalised too (they are no English names)
_CAPITALISED = {
    "de": frozenset(
        """Menschen Leute Jahr Jahre Jahren Woche Regierung Kanzler Kanzlerin Präsident Präsidentin Wahl Wahlen
Prozent Stadt Polizei Unternehmen Mitarbeiter Stellen Arbeitsplätze Brücke Bundestag""".split()
    ),
}
# Lower-case words that join the parts of a name: between capitalised words they are the name's, not the language's
_PARTICLES = frozenset("van von der den de del della di da do dos das du la le ter ten y el al bin ibn".split())
_MARKS = {"es": "ñ", "de": "ßäöü", "pt": "ãõ", "fr": "œ"}  # letters that point to one language, in running words
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


def _in_name(tokens: list[str], i: int) -> bool:
    """Whether the lower-case particle tokens[i] joins a name: after a capitalised word (or another particle of
    the name) and before one ("Jan van der Berg", "Banco do Brasil", "Tour de France")."""
    if i == 0 or tokens[i].lower() not in _PARTICLES:
        return False
    before = tokens[i - 1]
    if not (before[:1].isupper() or (before in _PARTICLES and _in_name(tokens, i - 1))):
        return False
    after = next((t for t in tokens[i + 1 :] if t.lower() not in _PARTICLES), "")
    return after[:1].isupper()


def _running(tokens: list[str]) -> list[str]:
    """The lower-cased tokens that are running text, not names (a capitalised word may still open the question)."""
    out = []
    for i, tok in enumerate(tokens):
        if (tok == tok.lower() and not _in_name(tokens, i)) or i == 0:
            out.append(tok.lower())
    return out


def language(text: str) -> str | None:
    """The text's language as a two-letter code, or None when the evidence is too thin to say (a name, a number).

    Another Latin-script language wins with two of its words at least, and more than English has."""
    by_script = _script(text)
    if by_script:
        return by_script
    tokens = _TOKEN.findall(text)
    running = _running(tokens)
    english = sum(1 for w in (t.lower() for t in tokens) if w in _ENGLISH)
    if tokens and tokens[0].lower() in _ENGLISH_OPENERS:
        english += 1  # "Who ...?", "How many ...?" open an English question, whatever names follow
    lower = [t for t in tokens if t == t.lower()]  # a mark in a name ("São Paulo", "Müller") says nothing
    # words that cannot be a name: lower-case, or opening before a lower-case word ("Hoeveel banen", not "Van Gogh")
    opens = len(tokens) > 1 and tokens[1] == tokens[1].lower() and not _in_name(tokens, 1)
    plain = {w for w in lower + [tokens[0].lower()] * opens if len(w) > 2}
    scores: dict[str, tuple[int, int]] = {}
    for lang, fw in _FUNCTION_WORDS.items():
        hits = [w for w in running if w in fw]
        hits += [t for t in tokens if t in _CAPITALISED.get(lang, ())]
        marks = sum(w.count(m) for w in lower for m in _MARKS.get(lang, ""))
        if lang == "es":
            marks += text.count("¿") + text.count("¡")
        # words no other language has: they break ties, and with no English at all one is enough ("Hoeveel
        # banen schrapt Corvanta?")
        own = sum(1 for w in hits if w in plain and not any(w in ws for o, ws in _FUNCTION_WORDS.items() if o != lang))
        scores[lang] = (len(hits) + marks, own)
    lang, (best, own) = max(scores.items(), key=lambda kv: kv[1])
    if (best >= 2 and best > english) or (english == 0 and own >= 1):
        return lang
    return LANGUAGE if english >= 1 else None


def other_language(text: str, expected: str = LANGUAGE) -> str | None:
    """The language of `text` when it is clearly not `expected`, else None."""
    lang = language(text)
    return lang if lang is not None and lang != expected else None
