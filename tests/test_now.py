"""Over an archive, "now" is its newest article: a question about now, the latest or this week, asked without
--as-of, counts from the newest article of the collection, not from the clock, so an archive that ends years ago
gives its last word."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from engines import engine_over

# all fictional, and years before the day the tests run: without the fix, both were equally "old" news
INTERIM = {
    "title": "Edda Vane named interim chair of the Marlow Harbour Board",
    "text": "Edda Vane is the interim chair of the Marlow Harbour Board, the board said on Monday, after Rolf Ambry "
    "stepped down over the dredging contract. Vane, who has sat on the board since 2015, will chair its "
    "meetings until members vote on a permanent chair. The board is the chair's responsibility until the "
    "vote, she said.",
    "url": "https://marlow-tide.example/interim-chair",
    "published": "2021-03-01",
    "source": "Marlow Tide (fictional)",
}
ELECTED = {
    "title": "Harbour board picks Tobin Asher",
    "text": "Tobin Asher was elected chair of the Marlow Harbour Board on Thursday, winning seven of the nine votes. "
    "Asher, a former ferry captain, takes over from Edda Vane, who had led the board since March. He said "
    "his first task would be to reopen the dredging tender.",
    "url": "https://marlow-tide.example/asher-elected",
    "published": "2021-06-17",
    "source": "Marlow Tide (fictional)",
}
FERRY = {
    "title": "Marlow ferry timetable changes",
    "text": "The Marlow ferry will run an extra crossing on Sundays from July, the operator said. Tickets bought "
    "before the change remain valid.",
    "url": "https://marlow-tide.example/ferry",
    "published": "2021-06-10",
    "source": "Marlow Tide (fictional)",
}
NOW = ["Who is the chair now?", "Who is the current chair of the harbour board?"]


@pytest.fixture
def engine(settings, embedder, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "marlow.jsonl").write_text("".join(json.dumps(a) + "\n" for a in (INTERIM, ELECTED, FERRY)))
    eng = engine_over(settings, embedder, folder)
    yield eng
    eng.close()


@pytest.mark.parametrize("question", NOW)
def test_now_over_an_archive_quotes_its_newest_fact_first(engine, question):
    answer = engine.ask("c", question)
    assert answer.found
    assert answer.text.startswith("Tobin Asher was elected chair of the Marlow Harbour Board")
    assert answer.citations[0].url == ELECTED["url"]
    assert engine.retrieve(question)[0].url == ELECTED["url"]


def test_an_explicit_as_of_still_decides_what_now_means(engine):
    """As of the week Vane was named, the election had not happened: the interim chair leads."""
    passages = engine.retrieve("Who is the chair now?", as_of=datetime(2021, 3, 3))
    assert passages[0].url == INTERIM["url"]


def test_a_newer_article_ingested_later_becomes_now(engine, tmp_path):
    """The newest date is read from the index, which every ingest makes anew: no stale "now" after an ingest."""
    later = {
        "title": "Mina Skarre to lead the harbour board",
        "text": "Mina Skarre is the new chair of the Marlow Harbour Board: members elected her chair on Tuesday, "
        "after Tobin Asher resigned to run for mayor. Skarre, a marine engineer, won eight of the nine "
        "votes.",
        "url": "https://marlow-tide.example/skarre-elected",
        "published": "2022-09-06",
        "source": "Marlow Tide (fictional)",
    }
    more = tmp_path / "more"
    more.mkdir()
    (more / "later.jsonl").write_text(json.dumps(later) + "\n")
    engine.ingest([str(more)])
    assert engine.retrieve("Who is the chair now?")[0].url == later["url"]
    assert engine.ask("c", "Who is the chair now?").citations[0].url == later["url"]
