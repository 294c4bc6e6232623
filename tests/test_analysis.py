"""The one text analyser (vectorstore/analysis.py): the terms BM25 indexes are the terms every caller weighs, the
stemmer is safe to use from many threads at once; and a question's language (vectorstore/language.py) is told only on
clear evidence."""
from __future__ import annotations

import json
import threading

import pytest

from vectorstore import analysis, language

TEXTS = [
    "The Gullholm ferry will run a night crossing from April; demand from shift workers had doubled.",
    "Council approves 25,000 crowns for the harbour's new cranes (quay 7), after debating the tugboats.",
    "Volunteers rescued a harbour seal pup tangled in fishing line at the north pier on Sunday.",
]


def test_terms_are_exactly_what_bm25_indexes():
    """A saved index built before the analyser existed (bm25s's own tokenize, English stop words, one shared
    PyStemmer) holds the same terms the analyser gives, so it stays valid."""
    import bm25s
    import Stemmer

    old = bm25s.tokenize(TEXTS, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False,
                         return_ids=False)
    assert [analysis.terms(t) for t in TEXTS] == old
    new = analysis.bm25_tokenize(TEXTS)
    back = {i: t for t, i in new.vocab.items()}
    assert [[back[i] for i in doc] for doc in new.ids] == old
    assert "harbour" in analysis.terms("harbours") and "ferri" in analysis.terms("ferries")


def test_skip_words_and_stop_words_are_left_out():
    assert analysis.terms("Which of the following ferries sailed this week?", analysis.FRAME_WORDS) == ["ferri", "sail"]
    assert analysis.terms("the and of") == []


def test_the_stemmer_is_safe_from_many_threads_at_once():
    """Each thread stems with its own PyStemmer object (one shared object is not thread-safe); results agree."""
    vocabulary = [f"{w}{suffix}" for w in ("harbour", "ferry", "crane", "council", "volunteer", "rescue", "tangle")
                  for suffix in ("", "s", "ed", "ing", "ly", "ness", "ation")]
    expected = [analysis.stem(w) for w in vocabulary]
    seen_stemmers, results, errors = [], [], []
    start = threading.Barrier(8)

    def work():
        try:
            start.wait()
            for _ in range(200):
                results.append([analysis.stem(w) for w in vocabulary] == expected
                               and analysis.stem_words(vocabulary) == expected)
            seen_stemmers.append(analysis._stemmer())  # held, so no two can share an id
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 1600 and all(results)
    assert len({id(s) for s in seen_stemmers}) == 8


def test_shingles_find_a_republished_wire_story():
    story = ("The Gullholm ferry will run a night crossing from April. The operator said demand from shift workers "
             "had doubled since the fish plant reopened last autumn.")
    reprint = story.replace("April.", "April,") + " (Gullholm Post)"
    other = "Volunteers rescued a harbour seal pup tangled in fishing line at the north pier on Sunday morning."
    assert analysis.jaccard(analysis.shingles(story), analysis.shingles(reprint)) > 0.6
    assert analysis.jaccard(analysis.shingles(story), analysis.shingles(other)) == 0


@pytest.mark.parametrize("question, lang", [
    ("¿Cuántas personas murieron en el tiroteo de Monterey Park?", "es"),
    ("Quién ganó el premio al mejor actor en los Globos de Oro", "es"),
    ("Combien de personnes sont mortes dans la fusillade?", "fr"),
    ("Wer hat die Wahl in Gullholm gewonnen und wie viele Stimmen?", "de"),
    ("Quanti voti ha ottenuto il sindaco di Gullholm?", "it"),
    ("Сколько человек погибло при пожаре?", "ru"),
    ("Who won best actor at the Golden Globes?", "en"),
    ("What happened in El Paso de los Robles this week?", "en"),
    ("How much did the Banco do Brasil pay for la Niña insurance?", "en"),
    ("Who won the Tour de France?", "en"),
    ("Is the Doomsday Clock at 90 seconds?", "en"),
    ("Gullholm", None),
    ("Copa del Rey", None),
    # short questions in each language the reply names, the ones that used to slip through as English or unsure
    ("Was kostet die Brücke?", "de"),
    ("Was ist passiert?", "de"),
    ("Welche Partei gewann die Wahl?", "de"),
    ("Qui a gagné les élections?", "fr"),
    ("Combien d'emplois Corvanta supprime-t-elle?", "fr"),
    ("Chi ha vinto le elezioni?", "it"),
    ("Quanti posti di lavoro taglia Corvanta?", "it"),
    ("Quanto custou a ponte?", "pt"),
    ("Quantas pessoas morreram no tiroteio?", "pt"),
    ("Por que a balsa começou mais cedo?", "pt"),
    ("Hoeveel mensen zijn omgekomen?", "nl"),
    ("Hoeveel banen schrapt Corvanta?", "nl"),
    ("Wat kost de brug?", "nl"),
    # English questions full of foreign names, articles and particles stay English
    ("Who starred in Die Hard?", "en"),
    ("Is Die Linke in the coalition?", "en"),
    ("What did Le Monde report about the strike?", "en"),
    ("Le Monde: who is the new editor?", "en"),
    ("How many goals did Van der Berg score?", "en"),
    ("What did Jan van der Berg say about De Telegraaf?", "en"),
    ("What did Ursula von der Leyen announce?", "en"),
    ("Has Lula da Silva visited Porto Alegre?", "en"),
    ("Die Hard: was it a hit?", "en"),
    ("War in Ukraine: latest news?", "en"),
    ("Did anyone die in the fire?", "en"),
    ("What did Thomas Müller say?", "en"),
    ("Van der Berg", None),
    ("São Paulo", None),
])
def test_language_is_told_on_clear_evidence_only(question, lang):
    assert language.language(question) == lang
    assert language.other_language(question) == (lang if lang not in (None, "en") else None)


def test_a_saved_index_records_the_analyser_and_one_built_by_another_is_rebuilt(settings, store, embedder, tmp_path,
                                                                               monkeypatch):
    from ingest.pipeline import ingest
    from vectorstore import bm25index

    rows = [{"title": f"Harbour note {i}", "text": t, "url": f"https://gullholm-post.example/a{i}",
             "published": "2025-03-10", "source": "Gullholm Post (fictional)"} for i, t in enumerate(TEXTS)]
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest(settings, store, [str(path)], embedder)
    stamp_path = bm25index.index_dir(settings) / bm25index.STAMP
    stamp = json.loads(stamp_path.read_text())
    assert stamp["analyser"] == analysis.VERSION
    del stamp["analyser"]  # as saved before the analyser was recorded: same terms, still valid
    stamp_path.write_text(json.dumps(stamp))
    assert bm25index.load(settings, store.version()) is not None
    monkeypatch.setattr(analysis, "VERSION", "english-snowball-2")
    assert bm25index.load(settings, store.version()) is None
    bm25index.load_or_build(settings, store)
    assert json.loads(stamp_path.read_text())["analyser"] == "english-snowball-2"
