"""The answer engine and the CLI front end over it: cited answers, follow-ups, memory, filters, JSON output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES
from engines import engine_over


@pytest.fixture
def engine(settings, embedder):
    eng = engine_over(settings, embedder, EXAMPLES)
    yield eng
    eng.close()


def test_answer_cites_the_article_it_quotes(engine):
    answer = engine.ask("t1", "How much did the Lantern Bridge repair cost?")
    assert answer.found
    assert "86 million crowns" in answer.text
    assert "[1]" in answer.text
    first = answer.citations[0]
    assert first.n == 1
    assert first.title == "Lantern Bridge reopens to traffic after two-year repair"
    assert first.url.endswith("lantern-bridge-reopens.md")
    assert "86 million crowns" in first.text
    rendered = answer.render_text()
    assert "Sources:" in rendered and "[1] Lantern Bridge reopens" in rendered
    # the .md file says its date under its headline ("The Harbor City Gazette (fictional) — 14 March 2025")
    assert first.published == "2025-03-14" and first.published_from == "article"
    assert "2025-03-14" in rendered and "(file date)" not in rendered


def test_a_short_question_gets_the_lede_that_answers_it_not_a_sentence_that_merely_echoes_it(engine):
    # the lede scores only ~0.27 cosine to this short question; "The decision was expected by most economists."
    # scores higher and says nothing
    answer = engine.ask("t1", "What did the central bank decide?")
    assert "raised its key interest rate by a quarter point to 4.5 percent" in answer.text
    assert answer.citations[0].title == "Central Bank of Examplia raises key rate to 4.5%"


def test_question_the_articles_cannot_answer_says_so(engine):
    answer = engine.ask("t1", "Who won the 1994 football world cup final?")
    assert not answer.found
    assert answer.citations == []
    assert "couldn't find" in answer.text.lower() or "could not find" in answer.text.lower()


def test_follow_up_uses_the_conversation_and_reset_forgets_it(engine):
    engine.ask("t2", "Who is the governor of the Central Bank of Examplia?")
    follow = engine.ask("t2", "What inflation did she report?")
    assert "6.1 percent" in follow.text
    assert engine.memory.history("t2")[0][0] == "Who is the governor of the Central Bank of Examplia?"
    assert engine.memory.history("other") == []
    engine.reset("t2")
    assert engine.memory.history("t2") == []


def test_memory_survives_a_restart_and_is_bounded(settings):
    from bot.answering.memory import Memory

    path = settings.data_dir / "memory.sqlite3"
    first = Memory(path, max_turns=3)
    for i in range(5):
        first.add("c", f"question {i}", f"answer {i}")
    first.close()
    again = Memory(path, max_turns=3)
    assert again.history("c") == [("question 2", "answer 2"), ("question 3", "answer 3"), ("question 4", "answer 4")]
    again.close()


def test_outlet_and_date_filters_restrict_retrieval(engine):
    from datetime import date

    only_quill = engine.retrieve("interest rate", outlet="The Daily Quill")
    assert only_quill and {p.outlet for p in only_quill} == {"The Daily Quill"}
    march_22 = engine.retrieve("news", since=date(2025, 3, 22), until=date(2025, 3, 22))
    assert march_22 and {p.published for p in march_22} == {"2025-03-22"}


def test_empty_question_and_empty_corpus_get_a_helpful_reply(settings, embedder, tmp_path):
    from bot.answering.answerers import build_answerer
    from bot.engine import Engine
    from bot.answering.memory import Memory
    from vectorstore.store import open_store

    store = open_store(settings)
    eng = Engine(settings, store, embedder, build_answerer(settings, embedder), Memory(tmp_path / "m.sqlite3"))
    try:
        assert "no articles yet" in eng.ask("c", "anything new?").text.lower()
        assert not eng.ask("c", "   ").found
    finally:
        eng.close()


def _cli(args, tmp_path, stdin=None):
    env = dict(os.environ, ARTICLEBOT_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=300)


@pytest.mark.slow  # articlebot processes ingesting and answering
def test_cli_ingest_then_ask_json_and_chat(tmp_path):
    done = _cli(["ingest", str(EXAMPLES)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "5 ingested" in done.stdout and "1 duplicate kept as an extra link" in done.stdout
    asked = _cli(["ask", "Who won the world junior chess championship?", "--json"], tmp_path)
    assert asked.returncode == 0, asked.stderr
    reply = json.loads(asked.stdout)
    assert "Runa Halvorsen" in reply["answer"]
    assert reply["answerer"] == "extractive"
    cited = reply["citations"][0]
    assert set(cited) >= {"n", "title", "url", "published", "source", "text"}
    assert cited["url"] == "https://northwind-wire.example/2025/03/22/examplia-chess-title"
    assert cited["published"] == "2025-03-22" and cited["source"] == "Northwind Wire (fictional)"
    chat = _cli(["chat"], tmp_path, stdin="When did the Lantern Bridge reopen?\n/reset\n/help\n/quit\n")
    assert chat.returncode == 0, chat.stderr
    assert "Sources:" in chat.stdout and "Conversation forgotten." in chat.stdout and "/sources" in chat.stdout
    assert "Traceback" not in chat.stderr


def _examples_ingested(settings, embedder) -> None:
    """The example articles in the CLI's data dir, as `articlebot ingest examples/articles` leaves them."""
    from engines import open_ingested

    store, pending = open_ingested(settings, embedder, [EXAMPLES])
    assert pending == [] and settings.data_dir == Path(os.environ["ARTICLEBOT_DATA_DIR"])
    store.close()


def test_cli_output_into_a_closed_pipe_stops_without_a_traceback(settings, embedder, tmp_path):
    """`articlebot sources | head -1`: the reader goes away before the listing is written."""
    _examples_ingested(settings, embedder)
    env = dict(os.environ, ARTICLEBOT_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sources"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # closed long before the process has opened the store and written anything
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


@pytest.mark.slow
def test_search_json_has_the_documented_fields(settings, embedder, tmp_path):
    _examples_ingested(settings, embedder)
    out = _cli(["search", "ferry on Glacier Lake", "-k", "2", "--json"], tmp_path)
    hits = json.loads(out.stdout)
    assert len(hits) == 2
    assert set(hits[0]) >= {"text", "title", "url", "published", "source", "score"}
    assert "Glacier Lake" in hits[0]["text"]
    assert len(hits[0]["urls"]) == 2  # the wire story's two copies


@pytest.mark.slow  # two articlebot processes ingesting
def test_cli_without_any_readable_source_exits_nonzero(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    done = _cli(["ingest", str(empty)], tmp_path)
    assert done.returncode == 1
    assert "empty file" in done.stdout and "nothing could be read" in done.stderr
    strict = _cli(["ingest", str(EXAMPLES), str(empty), "--strict", "--quiet"], tmp_path)
    assert strict.returncode == 1


def test_help_is_instant_because_nothing_heavy_is_imported():
    code = ("import sys; from bot.cli.main import build_parser; build_parser();"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb', 'llama_index.core', 'telegram')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # articlebot processes ingesting and answering
def test_ingest_quiet_prints_nothing_and_plain_progress_when_not_a_terminal(tmp_path):
    quiet = _cli(["ingest", str(EXAMPLES), "--quiet"], tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    src = tmp_path / "more"
    src.mkdir()
    (src / "note.txt").write_text("Kettlevik harbour crane arrives\n\nThe new harbour crane arrived in Kettlevik "
                                  "on Monday after a three-day journey by barge from the southern shipyards.")
    (src / "blank.md").write_text("")
    loud = _cli(["ingest", str(src)], tmp_path)  # stderr is a pipe here, as in cron or CI
    assert "skipped " in loud.stderr and "blank.md: empty file" in loud.stderr
    assert "\r" not in loud.stderr  # no progress-bar redraws in logs
    assert "1 ingested" in loud.stdout


def test_quoted_sentences_keep_their_closing_quote():
    from vectorstore.sentences import sentences

    text = ('The governor said the bank was "prepared to act again in May if prices do not cool." '
            "The decision was expected by most economists. (Shares fell by two percent.) Trading ended early today.")
    assert sentences(text) == ['The governor said the bank was "prepared to act again in May if prices do not cool."',
                               "The decision was expected by most economists.", "(Shares fell by two percent.)",
                               "Trading ended early today."]
