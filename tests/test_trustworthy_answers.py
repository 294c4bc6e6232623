"""Answers a reader can trust: "not covered" when the articles don't say (both answerers; the LLM not even called),
whole sentences (abbreviations, no headlines, questions, teasers or echoes; a pronoun with its referent), a
plain-text article's own dateline, and /sources vs /latest in chat. Fictional articles, written here."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engines import engine_over
from peers.openai_server import Reply

DERBY = """Rovers and United share the points in the harbour derby

KETTLEVIK, March 3, 2025 (Kettlevik Courier) — The Kettlevik Rovers vs. Stonewake United derby ended 2-2 on Saturday in front of 11,400 fans at Harbour Park.

Who will win the title now?

RELATED:Stonewake United sign goalkeeper from Norrvik

Rovers striker Maja Lindqvist scored both home goals in the second half. She now has 17 goals this season, a club record for a single campaign.

United's coach, Tobias Brenner, said the draw was fair. "We came for three points and leave with one," he said.
"""

FERRY = """Night ferry to Glacier Lake cancelled for the winter

Published: 14 January 2025

The harbour authority cancelled the night ferry between Harbor City and Glacier Lake until April because of thin ice on the northern channel.

The day ferry keeps running twice a day, the authority said on Tuesday.
"""


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "derby.txt").write_text(DERBY, encoding="utf-8")
    (folder / "ferry.md").write_text(FERRY, encoding="utf-8")
    return folder


def _engine(settings, embedder, articles, answerer=None):
    return engine_over(settings, embedder, articles, answerer)


@pytest.fixture
def engine(settings, embedder, articles):
    eng = _engine(settings, embedder, articles)
    yield eng
    eng.close()


@pytest.fixture
def llm_engine(settings, embedder, articles, openai_server):
    settings = settings.model_copy(update={"openai_base_url": openai_server.base_url, "openai_model": "test-model",
                                           "openai_timeout": 2.0, "openai_max_retries": 0})
    eng = _engine(settings, embedder, articles)
    yield eng
    eng.close()


# --- "not covered" -----------------------------------------------------------------------------
def test_a_question_the_articles_do_not_cover_gets_not_covered_and_no_sources(engine):
    answer = engine.ask("c", "Who won the 2030 World Cup final in Madrid?")
    assert not answer.found and answer.citations == []
    assert "couldn't find" in answer.text and "[" not in answer.text


def test_the_llm_is_not_called_when_the_gate_says_not_covered(llm_engine, openai_server):
    answer = llm_engine.ask("c", "Who won the 2030 World Cup final in Madrid?")
    assert not answer.found and answer.citations == [] and "couldn't find" in answer.text
    streamed = list(llm_engine.stream("s", "Who won the 2030 World Cup final in Madrid?"))
    assert len(streamed) == 1 and not streamed[0].found
    assert openai_server.requests == []  # the model never saw the question


def test_the_llm_is_called_when_the_articles_cover_the_question_and_its_not_found_never_hides_the_quotes(
        llm_engine, openai_server):
    # the gate's evidence is strong (coverage 0.88): the reply is never worse than the quotes, and says the model
    # found no answer in them (issue 20); with weak evidence the NOT FOUND stands (test_llm_answerer.py)
    openai_server.default = Reply("NOT FOUND. The sources do not give the attendance.")
    answer = llm_engine.ask("c", "How many fans watched the Kettlevik Rovers vs. Stonewake United derby?")
    assert len(openai_server.requests) == 1
    assert answer.answerer == "extractive" and "found no answer" in answer.note and answer.citations
    assert "The sources do not give" not in answer.text and "NOT FOUND" not in answer.text


def test_not_covered_names_the_closest_article_only_when_it_holds_every_name_asked_about(engine):
    answer = engine.ask("c", "Which goalkeeper did Stonewake United sign from Norrvik?")
    # the teaser line was page furniture: removed at ingest, so the derby report does not answer; it never says
    # "Norrvik", so it is not close enough to be offered either (bot/answering/gate.py, related)
    assert not answer.found and answer.citations == []
    assert "closest" not in answer.text
    from bot.answering.gate import Verdict, related

    close = Verdict(False, coverage=0.5, best=0, key_share=1.0, probability=0.3)
    assert related(close)
    assert not related(Verdict(False, coverage=0.5, best=0, key_share=0.6, probability=0.3))
    assert not related(Verdict(False, coverage=0.5, best=0, key_share=1.0, probability=0.05))


def test_a_place_adjective_describing_the_subject_need_not_be_in_the_article_but_a_name_must(engine):
    # the ferry report never says "Scandinavian": it describes the place asked about, it does not name it
    answer = engine.ask("c", "Which Scandinavian ferry route to Glacier Lake was cancelled until April?")
    assert answer.found and "Glacier Lake" in answer.text and "[1]" in answer.text
    # capitalised and followed by a name, it is part of one ("Scandinavian Ferry Awards") and must be found
    answer = engine.ask("d", "Which route won the Scandinavian Ferry Awards in Glacier Lake?")
    assert not answer.found and answer.citations == []


def test_an_abbreviated_amount_is_looked_for_as_it_is_spelled_out(engine):
    # "$2tn" in one outlet is "$2 trillion" in another: the gate looks for the number and the word, not "2tn"
    from bot.answering.gate import question_terms

    weights, keys = question_terms("Which company fell below $2tn this week?", engine.retriever.vocabulary())
    assert "2tn" not in weights and "2tn" not in keys and any(t.startswith("trillion") for t in weights)


# --- whole, relevant sentences -----------------------------------------------------------------
def test_a_sentence_with_vs_is_quoted_whole(engine):
    answer = engine.ask("c", "What was the score of the Kettlevik Rovers vs. Stonewake United derby?")
    assert answer.found
    assert ("The Kettlevik Rovers vs. Stonewake United derby ended 2-2 on Saturday in front of 11,400 fans at "
            "Harbour Park. [1]") in answer.text


def test_a_pronoun_led_sentence_comes_with_the_sentence_it_refers_to(engine):
    answer = engine.ask("c", "How many goals has Maja Lindqvist scored this season?")
    assert "17 goals" in answer.text
    assert ("Rovers striker Maja Lindqvist scored both home goals in the second half. She now has 17 goals this "
            "season") in answer.text


def test_headline_questions_teasers_and_echoes_are_never_quoted(engine):
    for question in ("Who will win the title now?", "Who did Stonewake United sign?",
                     "Rovers and United share the points in the harbour derby?"):
        text = engine.ask("c", question).text
        assert "Who will win the title now?" not in text
        assert "RELATED" not in text and "sign goalkeeper" not in text
        assert "share the points in the harbour derby [" not in text


def test_teaser_lines_are_removed_at_ingest(engine):
    texts = " ".join(p.text for p in engine.retrieve("Stonewake United goalkeeper", k=5))
    assert "Stonewake United derby ended 2-2" in texts
    assert "RELATED" not in texts and "sign goalkeeper" not in texts


# --- dates -------------------------------------------------------------------------------------
def test_a_txt_dateline_and_a_published_line_give_the_articles_dates(engine):
    derby = engine.retrieve("Kettlevik Rovers derby", k=5)
    by_title = {p.title: p for p in derby + engine.retrieve("night ferry Glacier Lake", k=5)}
    assert by_title["Rovers and United share the points in the harbour derby"].published == "2025-03-03"
    assert by_title["Rovers and United share the points in the harbour derby"].published_from == "article"
    assert by_title["Night ferry to Glacier Lake cancelled for the winter"].published == "2025-01-14"
    answer = engine.ask("d", "Why was the night ferry to Glacier Lake cancelled?")
    assert "2025-01-14" in answer.render_text() and "(file date)" not in answer.render_text()


# --- /sources and /latest in chat --------------------------------------------------------------
@pytest.mark.slow
def test_chat_sources_shows_the_last_answers_sources_in_full_and_latest_the_newest(settings, embedder, articles):
    eng = _engine(settings, embedder, articles)
    eng.close()
    env = {"ARTICLEBOT_DATA_DIR": str(settings.data_dir)}
    import os

    out = subprocess.run([sys.executable, "-m", "bot.cli", "chat"], capture_output=True, text=True, timeout=300,
                         input="/sources\nWhy was the night ferry to Glacier Lake cancelled?\n/sources\n/latest\n",
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.split("No answer yet", 1)  # /sources before any question
    answer, sources = after.split("\n[1] Night ferry to Glacier Lake cancelled for the winter\n", 1)
    assert "Sources:" in answer
    lines = sources.splitlines()
    assert lines[0] == "    2025-01-14" and lines[1].endswith("ferry.md")
    assert lines[2].startswith("    “The harbour authority cancelled the night ferry between Harbor City and Glacier Lake")
    latest = [line for line in lines[3:] if line.startswith("- ")]
    assert len(latest) == 2  # newest first
    assert "Rovers and United share the points in the harbour derby — 2025-03-03" in latest[0]
    assert "Night ferry to Glacier Lake cancelled for the winter — 2025-01-14" in latest[1]


def test_one_sentence_from_two_copies_of_a_wire_story_is_quoted_once(embedder):
    """Republished copies differ in punctuation ("—" against "–"); a reader should not get the sentence twice."""
    from bot.answering.extractive import ExtractiveAnswerer
    from vectorstore.passages import Passage

    fact = ("The harbour board has been reviewing whether to add the Kettlevik ferry {d} which also serves Stillwater "
            "and Ravnsby {d} to the winter timetable for several years.")
    other = "The winter timetable starts on Monday, the harbour board said in a statement."
    passages = [Passage(id=f"p{i}", text=f"{fact.format(d=d)} {other}", score=1.0, title=f"Ferry news {i}",
                        outlet=outlet, url=f"https://{outlet}.example/ferry")
                for i, (d, outlet) in enumerate((("—", "quill"), ("–", "gazette")))]
    reply = ExtractiveAnswerer(embedder).answer("Which ferry may join the winter timetable?", passages).text
    assert reply.count("has been reviewing whether to add the Kettlevik ferry") == 1, reply
