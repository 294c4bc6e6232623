"""Honest about language: offline, a question in another language than the articles' gets a one-line reply saying
so, never "none of them covers it"; with an LLM configured the question goes on (the LLM writes the search query)."""
from __future__ import annotations

import json
from typing import ClassVar

import pytest

from engines import engine_over

SHOOTING = {
    "title": "Gunman kills four at Valderrey dance hall",
    "text": "A gunman opened fire at a dance hall in Valderrey on Saturday night, killing four people and wounding "
            "seven, the county sheriff said. The suspect, a 61-year-old man, was found dead in a van the next "
            "morning. Investigators said they had not yet found a motive for the shooting at the Lucero Dance "
            "Studio, where hundreds had gathered for a lunar new year celebration.",
    "url": "https://valderrey-courier.example/dance-hall-shooting", "published": "2025-01-22",
    "source": "Valderrey Courier (fictional)",
}
SPANISH = "¿Cuántas personas murieron en el tiroteo del salón de baile de Valderrey?"


@pytest.fixture
def engine(settings, embedder, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "news.jsonl").write_text(json.dumps(SHOOTING) + "\n")
    eng = engine_over(settings, embedder, folder)
    yield eng
    eng.close()


def test_a_spanish_question_gets_the_language_reply(engine):
    answer = engine.ask("t1", SPANISH)
    assert not answer.found and answer.citations == []
    assert answer.text.startswith("Your question looks like Spanish.") and "in English" in answer.text
    assert "none of them covers it" not in answer.text and "\n" not in answer.text
    streamed = list(engine.stream("t1", SPANISH))
    assert [a.text for a in streamed] == [answer.text]
    assert engine.memory.history("t1") == []  # not a turn: a follow-up in English starts afresh


@pytest.mark.parametrize("question, named", [
    ("Wie viele Menschen starben bei der Schießerei in Valderrey?", "German"),
    ("Was ist im Tanzsaal passiert?", "German"),
    ("Combien de personnes sont mortes dans la fusillade de Valderrey?", "French"),
    ("Quante persone sono morte nella sparatoria di Valderrey?", "Italian"),
    ("Quantas pessoas morreram no tiroteio de Valderrey?", "Portuguese"),
    ("Hoeveel mensen zijn omgekomen bij de schietpartij in Valderrey?", "Dutch"),
])
def test_questions_in_other_european_languages_get_the_language_line(engine, question, named):
    answer = engine.ask("t1", question)
    assert not answer.found and answer.citations == []
    assert answer.text == (f"Your question looks like {named}. Without an LLM I can only answer questions in "
                           "English, the language of the articles: please ask it in English.")


@pytest.mark.parametrize("question", [
    "Did the Lucero Dance Studio shooting in Valderrey happen at a Die Hard screening?",
    "What did Le Monde say about the Valderrey dance hall shooting?",
    "Did Sheriff van der Berg name the Valderrey suspect?",
])
def test_english_questions_with_foreign_names_are_not_turned_away(engine, question):
    assert "looks like" not in engine.ask("t1", question).text


def test_the_same_question_in_english_is_answered(engine):
    answer = engine.ask("t1", "How many people were killed in the Valderrey dance hall shooting?")
    assert answer.found and "killing four people" in answer.text


def test_with_an_llm_configured_the_question_is_not_turned_away(settings, embedder, tmp_path):
    """The LLM's condense step writes an English search query, so the engine leaves the language to it."""
    from bot.answer import Answer

    class Recording:
        name = "recording"
        asked: ClassVar[list[str]] = []

        def answer(self, question, passages, history, verdict=None):
            self.asked.append(question)
            return Answer("Cuatro personas murieron [1].", found=True)

        def stream(self, question, passages, history, verdict=None):
            yield self.answer(question, passages, history, verdict)

        def condense(self, question, history):
            return question

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "news.jsonl").write_text(json.dumps(SHOOTING) + "\n")
    llm_settings = settings.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    assert llm_settings.llm_configured
    engine = engine_over(llm_settings, embedder, folder, answerer=Recording())
    try:
        # half Spanish, half the words of the article: the gate lets it through, so the answerer gets it
        reply = engine.ask("t1", "Valderrey dance hall shooting: ¿cuántas personas murieron?")
        assert "Spanish" not in reply.text
        assert Recording.asked == ["Valderrey dance hall shooting: ¿cuántas personas murieron?"]
    finally:
        engine.close()
