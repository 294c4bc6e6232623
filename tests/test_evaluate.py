"""`articlebot eval`: one column per question file, a seeded week split, an answer counted only in a reply that
cites, and the lead line's accuracy."""
from __future__ import annotations

import json

from bot.answer import Answer, Citation
from bot.learning.evaluate import same_answer, evaluate, split_questions, validation_weeks


class FixedEngine:
    """Replies from a table, so the measurement itself is what is tested."""

    class answerer:
        name = "fixed"

    def __init__(self, replies: dict[str, Answer]):
        self.replies = replies

    def retrieve(self, question, k=5, as_of=None):
        return []

    def answer(self, question, passages):
        return self.replies[question]


def _q(question, answer, **extra):
    return {"question": question, "answer": answer, "answerable": True, "supported": True, "date": "2025/03/14",
            **extra}


CITED = Citation(1, "Ferry adds a night crossing", "https://gullholm-post.example/2", "2025-03-12", "Gullholm Post",
                 "The ferry will run a night crossing from April.")


def test_a_not_covered_reply_naming_a_title_that_holds_the_answer_does_not_count_as_answered():
    not_covered = Answer("I couldn't find that in the articles: none of them covers it. The closest is “Ferry adds a "
                         "night crossing” (Gullholm Post, 12 March 2025), which is related but does not answer it.",
                         found=False)
    quoted = Answer("The ferry will run a night crossing from April [1].", [CITED])
    engine = FixedEngine({"What does the ferry add?": not_covered, "When does the night crossing start?": quoted})
    result = evaluate(engine, [_q("What does the ferry add?", "night crossing"),
                               _q("When does the night crossing start?", "April")])
    rows = {r["question"]: r for r in result["questions"]}
    assert rows["What does the ferry add?"]["in_reply"] is False
    assert rows["When does the night crossing start?"]["in_reply"] is True
    assert result["metrics"]["answer_in_reply"] == 0.5


def test_lead_accuracy_and_wrong_lead_lines_per_100_answered():
    replies = {
        "How many ballots did it take?": Answer("On the 15th ballot the council chose Lindqvist [1].", [CITED], lead="3"),
        "Who chairs the council?": Answer("Maja Lindqvist chairs the council [1].", [CITED], lead="Maja Lindqvist"),
        "Which year did the ferry start?": Answer("The ferry started in 2023 [1].", [CITED]),
        "Who won the regatta?": Answer("I couldn't find that in the articles.", found=False, lead="Lindqvist"),
    }
    engine = FixedEngine(replies)
    result = evaluate(engine, [_q("How many ballots did it take?", "15"), _q("Who chairs the council?", "Lindqvist"),
                               _q("Which year did the ferry start?", "2023"), _q("Who won the regatta?", "Lindqvist")])
    m = result["metrics"]
    assert m["lead_lines"] == 2  # the abstaining reply's lead is not shown as an answer
    assert m["lead_accuracy"] == 0.5
    assert m["wrong_leads_per_100_answered"] == 100 / 3
    assert not same_answer("3", "2023") and same_answer("Bills", "Buffalo Bills") and same_answer("15 ballots", "15")


def test_the_week_split_is_seeded_and_keeps_each_week_on_one_side():
    questions = [_q(f"q{i}", "a", week=f"2025{w:02d}01") for w in range(1, 13) for i in range(3)]
    held = validation_weeks(questions)
    assert len(held) == 3 and held == validation_weeks(list(reversed(questions)))
    validation, training = split_questions(questions, "validation"), split_questions(questions, "training")
    assert len(validation) == 9 and len(training) == 27
    assert not {q["week"] for q in validation} & {q["week"] for q in training}
    assert split_questions(questions, None) == questions


def test_eval_reports_one_column_per_file(tmp_path, capsys):
    from bot.cli import main

    articles = tmp_path / "news.jsonl"
    articles.write_text(json.dumps({
        "title": "Gullholm ferry adds a night crossing", "url": "https://gullholm-post.example/2",
        "published": "2025-03-12", "source": "Gullholm Post (fictional)",
        "text": "The Gullholm ferry will run a night crossing from April. The operator said demand from shift "
                "workers had doubled since the fish plant reopened last autumn."}) + "\n")
    assert main(["ingest", "--quiet", str(articles)]) == 0
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(_q("When will the Gullholm ferry run a night crossing?", "April")) + "\n")
    second.write_text(json.dumps(_q("Why did demand for the Gullholm ferry double?", "fish plant")) + "\n")
    capsys.readouterr()
    assert main(["eval", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "a.jsonl" in header and "b.jsonl" in header
    recall = next(line for line in out.splitlines() if line.startswith("| answer_recall@5 |"))
    assert recall == "| answer_recall@5 | 1.000 | 1.000 |"
