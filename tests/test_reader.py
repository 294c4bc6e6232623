"""The trained reader and gate (bot/answering/reader.py): the sentence that answers rather than the one beside it, the newest
figure first with both dates, a lead line that is a whole answer or absent, a model file checked against its
digest, and the training command end to end. Fictional articles (tests/reader_fixture.py)."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime

import pytest

from engines import engine_over
from reader_fixture import write_articles, write_questions


@pytest.fixture
def engine(settings, embedder, tmp_path):
    eng = engine_over(settings, embedder, write_articles(tmp_path / "articles"))
    yield eng
    eng.close()


def _ask(engine, question, as_of):
    passages = engine.retrieve(question, as_of=datetime.fromisoformat(as_of))
    return engine.answer(question, passages)


def test_a_who_won_question_gets_the_sentence_with_the_name_not_the_ceremony(engine):
    """An expected failure until the reader was refitted on both training folders (docs/reader.md)."""
    answer = _ask(engine, "Who won best actor at the Harbour Film Awards?", "2025-01-14")
    first = answer.text.split("[")[0]
    assert "Tomas Eklund" in first, answer.text
    assert "returned to the Glasshouse" not in first


def test_who_built_gets_the_sentence_naming_the_builder(engine):
    """The builder's sentence is quoted (the reader still puts the opening sentence first: docs/reader.md)."""
    answer = _ask(engine, "Who built the floating library?", "2025-01-14")
    assert "The barge was built by the Norrvik boatyard of Astrid Holm" in answer.text, answer.text


def test_the_question_word_that_opens_the_question_decides_what_it_asks_for():
    from bot.answering.features import wants

    assert wants("Who cut the ribbon when the Lantern Bridge reopened?") == "name"
    assert wants("When did the bridge, which was closed, reopen?") == "date"
    assert wants("How many people came when the bridge reopened?") == "number"
    assert wants("In which year did the bridge open?") == "date"  # one position: a date before a name
    assert wants("Why did the ferry stop running?") == "reason"
    assert wants("The council said what about the bridge?") == ""


def test_a_new_name_just_before_the_questions_verb_is_a_feature():
    from bot.answering.features import _name_before, _new_names, question_verb_terms

    q = "Who cut the ribbon when the Lantern Bridge reopened?"
    verb = question_verb_terms(q)
    assert verb == {"cut", "ribbon"}
    mayor = "Mayor Ilse Brandvold cut the ribbon at 7 a.m. and was the first to cross."
    opening = "Harbor City's Lantern Bridge reopened to cars and cyclists on Friday morning."
    assert _name_before(mayor, _new_names(mayor, q.lower()), verb)
    assert not _name_before(opening, _new_names(opening, q.lower()), verb)
    assert question_verb_terms("What is the name of the mission?") == set()  # framing words only


def test_a_count_in_words_is_a_figure_for_how_many_questions_only():
    from bot.answering.features import _new_numbers

    shooting = "A gunman opened fire, killing four people and wounding seven, the sheriff said."
    assert _new_numbers(shooting, "How many people were killed?") == ["four", "seven"]
    bridge = "The bridge reopened on Friday, two years after engineers closed it."
    assert _new_numbers(bridge, "How much did the repair cost?") == []  # "two years" is no cost
    assert _new_numbers("The suspect, a 61-year-old man, died in 2023.", "How many died?") == ["61"]


def test_the_reader_reads_a_question_the_same_way_in_every_process():
    """Picking one of several equally rare question words followed the set's hash order, so the same question got
    another reply after a restart (PYTHONHASHSEED)."""
    import subprocess
    import sys

    probe = ("from bot.answering.features import lexical_features; from bot.answering.extractive import candidates; "
             "from vectorstore.passages import Passage; from vectorstore.sentences import split; "
             "p = Passage(id='a:0', text='A floating library opened this week. The barge was built by Astrid Holm.', "
             "title='A library that floats', score=1.0); q = 'Who built the floating library?'; "
             "c = candidates(q, [p]); print(lexical_features(q, c, [p], lambda i: split(p.text)).tolist())")
    runs = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": "", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}).stdout for seed in ("0", "1", "2", "3")}
    assert len(runs) == 1, runs


def test_two_figures_for_one_thing_the_newer_leads_and_both_dates_show(engine):
    answer = _ask(engine, "How close is the Flood Clock to high water now?", "2025-01-27")
    assert answer.lead.startswith("90 minutes"), answer.lead
    assert "24 January 2025" in answer.lead and "20 January 2024" in answer.lead and "100 minutes" in answer.lead
    # the newer article is quoted first, as [1]
    assert answer.citations[0].published == "2025-01-24"
    assert answer.text.index("90 minutes") < answer.text.index("100 minutes")


def test_figures_from_two_different_games_are_no_changed_figure():
    """"71 points as of 2 January, moved from 32 points (22 October)" read two games as one revised figure."""
    import numpy as np

    from bot.answering.extractive import Reading, changed_value
    from bot.answering.features import Candidate
    from vectorstore.passages import Passage

    def reading(first: str, second: str) -> tuple[list[Passage], Reading]:
        passages = [Passage(id="a:0", text=first, score=1.0, published="2025-01-02"),
                    Passage(id="b:0", text=second, score=0.9, published="2024-10-22")]
        cands = [Candidate(first, 0, 0, ""), Candidate(second, 1, 0, "")]
        return passages, Reading(cands, np.zeros((2, 1)), np.zeros(2), [0, 1], np.array([0.9, 0.8]))

    q = "How many points did Jonas Wiik score?"
    passages, r = reading("Jonas Wiik scored 71 points as the Kettlevik Gulls beat the Norrvik Herons.",
                          "Jonas Wiik scored 32 points as the Kettlevik Gulls lost to the Dalby Foxes.")
    assert changed_value(q, passages, r) is None
    passages, r = reading("Jonas Wiik has scored 71 points for the Kettlevik Gulls this season.",
                          "Jonas Wiik has scored 32 points for the Kettlevik Gulls this season.")
    change = changed_value(q, passages, r)
    assert change is not None and change[2].startswith("71 points as of 2 January 2025"), change


def test_the_lead_line_is_never_a_list_number_and_counts_what_was_asked():
    from bot.answering.extractive import direct_answer

    assert direct_answer("How many ballots did it take?", "3. It took 15 ballots over four days.", []) == "15 ballots"
    assert direct_answer("How many ballots did it take?", "3. The vote went on for days.", []) == ""
    assert direct_answer("Who was elected speaker?", "The council elected Per Lundgren on Friday.", []) == "Per Lundgren"


def test_a_question_the_articles_do_not_cover_is_turned_down_without_an_unrelated_suggestion(engine):
    answer = _ask(engine, "Who won the chess olympiad in Tbilisi?", "2025-01-14")
    assert not answer.found and not answer.citations
    assert "closest" not in answer.text


# --- the model file ------------------------------------------------------------------------------------
@pytest.fixture
def model_copy(tmp_path):
    from bot.answering.reader import MODEL_DIR

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    return folder


def test_a_damaged_model_file_is_refused_with_one_line(model_copy):
    from bot.answering.reader import MODEL_FILE, ModelError, Reader

    raw = bytearray((model_copy / MODEL_FILE).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (model_copy / MODEL_FILE).write_bytes(bytes(raw))
    with pytest.raises(ModelError) as err:
        Reader.load(model_copy)
    assert "damaged or was swapped" in str(err.value) and "\n" not in str(err.value)


def test_a_swapped_model_file_is_refused(model_copy):
    from bot.answering.reader import MODEL_FILE, ModelError, Reader

    model = json.loads((model_copy / MODEL_FILE).read_text())
    model["gate_threshold"] = 0.0  # a valid model, but not the one the manifest records
    (model_copy / MODEL_FILE).write_text(json.dumps(model))
    with pytest.raises(ModelError, match="damaged or was swapped"):
        Reader.load(model_copy)


def test_the_cli_refuses_a_damaged_model_in_one_line(model_copy, monkeypatch, capsys):
    import bot.answering.reader
    from bot.cli import main
    from bot.answering.reader import MODEL_FILE

    (model_copy / MODEL_FILE).write_text("{}")
    monkeypatch.setattr(bot.answering.reader, "MODEL_DIR", model_copy)
    monkeypatch.setattr(bot.answering.reader, "_loaded", {})
    assert main(["ask", "Who won best actor?"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("articlebot: the reader model") and "\n" not in err and "train-reader" in err


# --- training ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_training_command_runs_end_to_end_and_its_model_loads(settings, embedder, tmp_path):
    from bot.answering.reader import MANIFEST, Reader
    from bot.learning.train_reader import train
    from ingest.pipeline import ingest
    from vectorstore.retrieval import Retriever
    from vectorstore.store import open_store

    store = open_store(settings)
    try:
        ingest(settings, store, [str(write_articles(tmp_path / "articles"))], embedder)
        questions = write_questions(tmp_path / "questions.jsonl")
        report = train(Retriever(settings, store, embedder), embedder, questions, tmp_path / "out", log=lambda m: None)
    finally:
        store.close()
    reader = Reader.load(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["files"]["reader.json"] == report["sha256"]
    assert reader.meta["training_questions"] == 10 and len(report["validation_weeks"]) == 1
    assert 0.0 < reader.gate_threshold < 1.0
    # seeded: the same data gives the same model, byte for byte
    first = (tmp_path / "out" / "reader.json").read_bytes()
    store = open_store(settings)
    try:
        train(Retriever(settings, store, embedder), embedder, questions, tmp_path / "again", log=lambda m: None)
    finally:
        store.close()
    assert (tmp_path / "again" / "reader.json").read_bytes() == first


def test_a_who_lead_is_a_full_name_never_a_lone_capitalised_word():
    """"Tuesday night featured ... more wins for a Hollywood legend." once led a "who won" reply with "Hollywood."."""
    from bot.answering.extractive import direct_answer

    assert direct_answer("Who won best actor at the Harbour Film Awards?",
                         "Tuesday night brought more wins for a Hollywood legend.", []) == ""
    assert direct_answer("Who won best actor at the Harbour Film Awards?",
                         "Best actor went to Tomas Lindqvist for his role as a ferry captain.", []) == "Tomas Lindqvist"


def test_who_cut_the_ribbon_quotes_the_sentence_naming_her(settings, embedder):
    """On the README's example articles. "when ... reopened" made this a date question, and a name before the
    question's verb ("Mayor Ilse Brandvold cut the ribbon") counted for nothing; the bridge's opening sentence, which
    repeats the rest of the question, is still quoted first (docs/reader.md)."""
    from conftest import EXAMPLES
    from engines import engine_over

    engine = engine_over(settings, embedder, EXAMPLES)
    try:
        answer = engine.ask("rb", "Who cut the ribbon when the Lantern Bridge reopened?")
    finally:
        engine.close()
    assert "Brandvold" in answer.text, answer.text


def test_a_why_question_quotes_the_reason_not_how_it_was_studied(settings, embedder, tmp_path):
    """A new user's "why" questions got how something was studied, not what was found."""
    folder = tmp_path / "why"
    folder.mkdir()
    (folder / "ferry.txt").write_text(
        """Kettlevik night ferry suspended

Published: 3 February 2025

The Kettlevik night ferry will not run for the rest of the winter, the harbour board said on Monday.
Inspectors spent two weeks examining the hull with divers, sonar and a team of twelve engineers.
The ferry was withdrawn because the inspectors found cracks in its rudder that could fail in heavy ice.
Passengers can take the morning bus to Norrvik instead, the board said.
""",
        encoding="utf-8",
    )
    engine = engine_over(settings, embedder, folder)
    try:
        answer = _ask(engine, "Why was the Kettlevik night ferry suspended?", "2025-02-05")
    finally:
        engine.close()
    first = answer.text.split("[")[0]
    assert "cracks in its rudder" in first, answer.text
