"""Offline follow-ups keep the subject of the question they follow: "And what share of its workforce is that?" after a
question about one company is answered from that company's article, not from another company's layoffs."""

from __future__ import annotations

import json

import pytest

from bot.answering.follow_up import condense, names, subject

from engines import engine_over

pytestmark = pytest.mark.xdist_group("follow-up")  # one worker ingests the module's store

# fictional companies; the second article matches "share of its workforce" word for word, the first says it otherwise
CORVANTA = {
    "title": "Corvanta Systems to cut 1,200 jobs",
    "text": "Corvanta Systems, the Brisholm software maker, said on Tuesday it would cut 1,200 jobs as orders for "
    "its warehouse scheduling software slowed. The cuts amount to about 8 percent of the company's 15,000 "
    "employees, chief executive Mara Ellison told staff in a memo. Corvanta said most of the affected roles "
    "were in sales and recruiting. The company will pay four months of salary to those who leave.",
    "url": "https://brisholm-ledger.example/corvanta-cuts",
    "published": "2025-02-11",
    "source": "Brisholm Ledger (fictional)",
}
HELIOTROPE = {
    "title": "Heliotrope Logistics lays off 3,400 workers",
    "text": "Heliotrope Logistics will cut 3,400 jobs, the parcel carrier said on Monday. That is roughly 12 "
    "percent of its workforce, the largest share of its workforce the company has ever cut. Heliotrope "
    "blamed falling parcel volumes after the holiday season. Drivers at its Quarry Lane depot said they "
    "learned of the layoffs from a notice on the canteen wall.",
    "url": "https://quarrytown-post.example/heliotrope-layoffs",
    "published": "2025-02-10",
    "source": "Quarrytown Post (fictional)",
}
FERRY = {
    "title": "Brisholm ferry adds a Sunday crossing",
    "text": "The Brisholm ferry will run an extra crossing on Sundays from March, the operator said on Friday. "
    "Tickets bought before the change remain valid for either crossing.",
    "url": "https://brisholm-ledger.example/ferry",
    "published": "2025-02-07",
    "source": "Brisholm Ledger (fictional)",
}
SHARE = "And what share of its workforce is that?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, model_dir, embedder):
    """One store for the module: ingesting embeds, and every test asks in its own conversation."""
    from bot.settings import Settings

    root = tmp_path_factory.mktemp("follow-up")
    settings = Settings(data_dir=root / "data", model_dir=model_dir)
    folder = root / "articles"
    folder.mkdir()
    (folder / "layoffs.jsonl").write_text("".join(json.dumps(a) + "\n" for a in (CORVANTA, HELIOTROPE, FERRY)))
    eng = engine_over(settings, embedder, folder)
    yield eng
    eng.close()


@pytest.mark.parametrize(
    "first, article, share, other",
    [
        ("How many jobs is Corvanta Systems cutting?", CORVANTA, "8 percent", HELIOTROPE),
        ("How many jobs is Heliotrope Logistics cutting?", HELIOTROPE, "12 percent", CORVANTA),
    ],
)
@pytest.mark.slow
def test_a_follow_up_is_answered_from_the_article_about_the_company_asked_about(engine, first, article, share, other):
    conversation = f"c-{article['url']}"
    assert engine.ask(conversation, first).citations[0].url == article["url"]
    follow = engine.ask(conversation, SHARE)
    assert follow.found
    assert share in follow.text
    assert {c.url for c in follow.citations} == {article["url"]}
    assert other["title"].split()[0] not in follow.text  # not a word quoted from the other company's article


def test_a_follow_up_of_a_follow_up_still_carries_the_first_subject(engine):
    engine.ask("chain", "How many jobs is Corvanta Systems cutting?")
    engine.ask("chain", SHARE)
    third = engine.ask("chain", "And what will it pay those who leave?")
    assert third.found
    assert {c.url for c in third.citations} == {CORVANTA["url"]}
    assert "Heliotrope" not in third.text


def test_a_follow_up_naming_another_company_switches_to_it(engine):
    engine.ask("switch", "How many jobs is Corvanta Systems cutting?")
    other = engine.ask("switch", "And how many is Heliotrope Logistics cutting?")
    assert "3,400" in other.text
    assert {c.url for c in other.citations} == {HELIOTROPE["url"]}


def test_the_subject_is_the_names_of_the_question_followed():
    assert names("How many jobs is Corvanta Systems cutting?") == ["Corvanta Systems"]
    assert names("Did Google's board approve it?") == ["Google"]
    assert names("Who is the governor of the Central Bank of Examplia?") == ["Central Bank", "Examplia"]
    assert names(SHARE) == []
    history = [("How many jobs is Corvanta Systems cutting?", "1,200 [1]"), (SHARE, "8 percent [1]")]
    assert subject("And when do they leave?", history) == ["Corvanta Systems"]
    assert subject("And what did they say on Monday?", history) == ["Corvanta Systems"]  # a day is no subject
    query = condense("And when do they leave?", history)
    assert query.startswith("Corvanta Systems:") and query.endswith("And when do they leave?")
    # a question about this week is no follow-up, and one that names its subject is taken as it is
    assert condense("What happened this week?", history) == "What happened this week?"
    assert "Corvanta" not in condense("What about Heliotrope Logistics?", history[:1])
