"""The bot as a news app, against the loopback Bot API (tests/peers/botapi_server.py): watched topics and their
alerts, the daily digest, inline answers, streamed drafts, 👍 / 👎 feedback and the link preview of the first source.
The real Application polls the stand-in; the real engine answers from the example articles and fictional news."""
from __future__ import annotations

import time

import pytest

from conftest import EXAMPLES, TelegramHTML, reply
from news_articles import SECOND_STRIKE, STRIKE, TIMETABLE, write
from peers.botapi_server import BOT_USERNAME

FERRY_URL = "https://northwind-wire.example/2025/03/21/glacier-lake-ferry"


def alerts(api, chat):
    return [t for t in api.texts(chat) if t.startswith("🔔")]


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def added(tmp_path, n):
    """The followed folder's poll has stored n articles (ingest/follow_list.py's own record)."""
    from ingest.follow import FollowList

    follows = FollowList(tmp_path / "data" / "follow.sqlite3")
    return wait_until(lambda: (f := follows.all()) and f[0].articles_added >= n)


# --- watches -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_watch_alerts_once_for_the_matching_article_and_not_for_one_sharing_its_words(api, make_bot, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    make_bot(follow=(str(folder),), follow_every="1s", telegram_allowed_users={42})
    api.push_text(42, 42, "/watch ferry strike")
    assert "Watching “ferry strike” (#1)" in reply(api, 42)[0]

    write(folder, "timetable.md", TIMETABLE)  # a ferry story, but no strike
    added(tmp_path, 1)
    write(folder, "strike.md", STRIKE)
    api.wait_for(lambda s: alerts(s, 42), 60)
    added(tmp_path, 2)
    [alert] = alerts(api, 42)  # the look that found it looked at the timetable story too (or one before it did)
    plain = TelegramHTML.check(alert).plain
    assert plain.startswith("🔔 ferry strike — a new article")
    assert "“Crews on the Glacier Lake ferries went on strike on Monday morning over pay" in plain and "[1]" in plain
    assert "[1] Ferry crews strike over pay on the Glacier Lake line — Northwind Wire (fictional), 2025-03-24" in plain
    assert TIMETABLE[0] not in " ".join(api.texts(42))

    api.push_text(42, 42, "/watches")
    listing = TelegramHTML.check(reply(api, 42, 3)[2]).plain
    assert "#1 ferry strike" in listing
    api.push_text(42, 42, "/unwatch 1")
    assert reply(api, 42, 4)[3] == "Stopped watching “ferry strike”."
    api.push_text(42, 42, "/unwatch 1")
    assert "no watch #1" in reply(api, 42, 5)[4]


@pytest.mark.slow
def test_alerts_past_the_hourly_limit_are_summed_up_in_one_line(api, make_bot, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    make_bot(follow=(str(folder),), follow_every="1s", watch_alerts_per_hour=1)
    api.push_text(43, 43, "/watch ferry strike")
    reply(api, 43)
    write(folder, "strike.md", STRIKE)
    write(folder, "second-strike.md", SECOND_STRIKE)
    sent = api.wait_for(lambda s: len(alerts(s, 43)) >= 2 and alerts(s, 43), 90)
    assert len(sent) == 2
    assert sum("a new article" in t for t in sent) == 1
    [summed] = [TelegramHTML.check(t).plain for t in sent if "a new article" not in t]
    assert "1 more new article this hour, past the 1 alerts an hour" in summed
    assert STRIKE[0] in summed or SECOND_STRIKE[0] in summed


def test_watch_needs_a_topic_and_a_stranger_cannot_watch(api, make_bot):
    make_bot(telegram_allowed_users={1})
    api.push_text(44, 1, "/watch")
    assert reply(api, 44)[0].startswith("Usage: /watch TOPIC")
    api.push_text(44, 1, "/watch " + "word " * 30)
    assert "at most 100 characters" in reply(api, 44, 2)[1]
    api.push_text(45, 2, "/watch ferry strike")
    assert "private" in reply(api, 45)[0]


# --- digest --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_digest_sends_the_new_articles_once_and_nothing_when_nothing_is_new(api, make_bot, tmp_path):
    from bot.news.digests import Digests

    folder = tmp_path / "incoming"
    folder.mkdir()
    for name, article in (("strike.md", STRIKE), ("timetable.md", TIMETABLE)):
        write(folder, name, article)
    engine = make_bot(digest_period=3)
    api.push_text(46, 46, "/watch ferry strike")
    api.push_text(46, 46, "/digest 07:30 Europe/Oslo")
    # two commands sent at once are handled concurrently: their replies may come in either order
    assert any("Daily digest at 07:30 (Europe/Oslo)" in t for t in reply(api, 46, 2))
    engine.ingest([str(folder)])  # one write: the digest has both articles or, if it came first, neither
    digest = api.wait_for(lambda s: [t for t in s.texts(46) if t.startswith("📰")], 60)[0]
    plain = TelegramHTML.check(digest).plain
    assert "2 new articles since" in plain
    strike_at, other_at = plain.index("ferry strike"), plain.index("Other new articles")
    assert strike_at < plain.index(STRIKE[0]) < other_at < plain.index(TIMETABLE[0])
    assert "Crews on the Glacier Lake ferries went on strike" in plain  # each with its lead sentence
    # the next period has nothing new: it is looked at (checked moves on) and nothing is sent
    digests = Digests(tmp_path / "data")
    checked = digests.get(46).checked
    wait_until(lambda: digests.get(46).checked > checked, 30)
    assert len([t for t in api.texts(46) if t.startswith("📰")]) == 1
    api.push_text(46, 46, "/digest off")
    api.wait_for(lambda s: "Daily digest stopped." in s.texts(46))  # (the watch's alert came too)
    assert Digests(tmp_path / "data").get(46) is None


@pytest.mark.slow
def test_a_saved_digest_is_scheduled_again_at_start(api, make_bot, tmp_path):
    from bot.news.digests import Digests

    Digests(tmp_path / "data").set(47, "06:00", "UTC", "articles")  # as a bot that ran before left it
    make_bot(digest_period=2)  # the example articles are stored after it: all new
    digest = api.wait_for(lambda s: s.texts(47), 60)[0]
    plain = TelegramHTML.check(digest).plain
    assert "5 new articles" in plain and "Other new articles" in plain and "Lantern Bridge reopens" in plain


def test_digest_times_and_zones_are_checked_in_one_line(api, make_bot):
    make_bot(telegram_timezone="Europe/Oslo")
    api.push_text(48, 48, "/digest 25:00")
    assert TelegramHTML.check(reply(api, 48)[0]).plain == "Not a time of day: '25:00'. Use HH:MM, e.g. /digest 07:30"
    api.push_text(48, 48, "/digest 7:05 Mars/Olympus")
    assert TelegramHTML.check(reply(api, 48, 2)[1]).plain == (
        "Unknown time zone: 'Mars/Olympus'. Use a name like Europe/Oslo or UTC.")
    api.push_text(48, 48, "/digest 7.05")
    assert "Daily digest at 07:05 (Europe/Oslo)" in reply(api, 48, 3)[2]  # the bot's zone when the chat names none
    api.push_text(48, 48, "/digest")
    assert reply(api, 48, 4)[3].startswith("This chat's digest comes daily at 07:05 (Europe/Oslo).")


# --- inline mode ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_inline_query_answers_with_a_source_link_refuses_strangers_and_helps_on_empty(api, make_bot):
    engine = make_bot(telegram_allowed_users={1})
    asked = []
    ask = engine.ask
    engine.ask = lambda *a, **k: asked.append(a[1]) or ask(*a, **k)

    qid = api.push_inline_query(1, "When did the Glacier Lake ferry resume?")
    call = api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery") if c.params["inline_query_id"] == qid])[0]
    results = call.params["results"]
    assert 1 <= len(results) <= 3 and call.params["is_personal"] in (True, "true")  # JSON or form-encoded
    assert int(call.params["cache_time"]) == 300
    first = results[0]["input_message_content"]
    parsed = TelegramHTML.check(first["message_text"])
    assert "three weeks earlier than usual" in parsed.plain and FERRY_URL in parsed.links
    assert first["parse_mode"] == "HTML" and first["link_preview_options"] == {"is_disabled": False, "url": FERRY_URL}

    again = api.push_inline_query(1, "When did the Glacier  Lake ferry resume?")
    api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery") if c.params["inline_query_id"] == again])
    assert asked == ["When did the Glacier Lake ferry resume?"]  # the same question again: from the cache

    stranger = api.push_inline_query(2, "When did the Glacier Lake ferry resume?")
    call = api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery")
                                   if c.params["inline_query_id"] == stranger])[0]
    [result] = call.params["results"]
    assert result["title"] == "This bot is private" and "<code>2</code>" in result["input_message_content"]["message_text"]

    empty = api.push_inline_query(1, "")
    call = api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery") if c.params["inline_query_id"] == empty])[0]
    [result] = call.params["results"]
    assert result["title"] == "Ask about the news" and f"@{BOT_USERNAME}" in result["input_message_content"]["message_text"]


@pytest.mark.slow
def test_only_the_newest_of_a_typing_users_inline_queries_is_answered(api, make_bot):
    engine = make_bot()
    asked = []
    ask = engine.ask
    engine.ask = lambda *a, **k: asked.append(a[1]) or ask(*a, **k)
    first = api.push_inline_query(1, "When did the Glacier")
    last = api.push_inline_query(1, "When did the Glacier Lake ferry resume?")
    api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery") if c.params["inline_query_id"] == last])
    # the barrier: asked after the first query's wait was over, answered from the cache
    again = api.push_inline_query(1, "When did the Glacier Lake ferry resume?")
    api.wait_for(lambda s: [c for c in s.sent(method="answerInlineQuery") if c.params["inline_query_id"] == again])
    answered = [c.params["inline_query_id"] for c in api.sent(method="answerInlineQuery")]
    assert first not in answered and asked == ["When did the Glacier Lake ferry resume?"]


# --- streamed answers ----------------------------------------------------------------------------
ANSWER = "The ferry service on Glacier Lake resumed three weeks earlier than usual, after the ice melted early [1]."


def llm_bot(make_bot, openai_server, **overrides):
    from peers.openai_server import Reply

    openai_server.default = Reply(ANSWER, pace=0.15)  # a model writing word by word
    engine = make_bot(openai_base_url=openai_server.base_url, openai_api_key="test", llm_quotes=False, **overrides)
    assert engine.answerer.name == "llm"
    return engine


def final_answer(api, chat):
    return api.wait_for(lambda s: [c for c in s.calls if c.method in ("sendMessage", "editMessageText")
                                   and int(c.params.get("chat_id", 0)) == chat
                                   and "Sources" in c.params.get("text", "")], 60)[-1]


@pytest.mark.slow
def test_a_private_answer_grows_in_drafts_then_comes_as_one_message_with_its_sources(api, make_bot, openai_server):
    llm_bot(make_bot, openai_server)
    update = api.push_text(911, 1, "When did the Glacier Lake ferry resume?")
    final = final_answer(api, 911)
    drafts = api.sent(911, "sendMessageDraft")
    assert len(drafts) >= 2 and all(d.params["text"].endswith(" …") for d in drafts)
    assert {int(d.params["draft_id"]) for d in drafts} == {api.pushed_message_id(update)}
    assert len(drafts[-1].params["text"]) > len(drafts[0].params["text"])  # the draft grew
    assert final.method == "sendMessage" and len(api.sent(911)) == 1 and not api.sent(911, "editMessageText")
    parsed = TelegramHTML.check(final.params["text"])
    assert ANSWER in parsed.plain and FERRY_URL in parsed.links


@pytest.mark.slow
def test_a_group_answer_is_still_one_message_edited_in_place(api, make_bot, openai_server):
    llm_bot(make_bot, openai_server)
    api.push_text(-912, 5, f"@{BOT_USERNAME} When did the Glacier Lake ferry resume?", chat_type="supergroup")
    final = final_answer(api, -912)
    assert final.method == "editMessageText" and not api.sent(-912, "sendMessageDraft")
    [placeholder] = api.sent(-912)
    assert placeholder.params["text"].endswith(" …") and int(final.params["message_id"]) == placeholder.result["message_id"]
    assert ANSWER in TelegramHTML.check(final.params["text"]).plain


@pytest.mark.slow
def test_a_bot_api_without_drafts_gets_edits_and_the_user_no_error(api, make_bot, openai_server):
    llm_bot(make_bot, openai_server)
    api.refuse("sendMessageDraft")  # an older Bot API server
    api.push_text(913, 1, "When did the Glacier Lake ferry resume?")
    final = final_answer(api, 913)
    assert [c.result for c in api.sent(913, "sendMessageDraft")] == ["404"]  # tried once, then never again
    assert final.method == "editMessageText" and ANSWER in TelegramHTML.check(final.params["text"]).plain
    api.push_text(913, 1, "How much did the Lantern Bridge repair cost?")
    api.wait_for(lambda s: len([c for c in s.calls if c.method == "editMessageText"
                                and "Sources" in c.params.get("text", "")]) >= 2, 60)
    assert len(api.sent(913, "sendMessageDraft")) == 1
    assert not any("Sorry" in t for t in api.texts(913))


# --- feedback and link previews ------------------------------------------------------------------
def test_a_thumbs_down_is_stored_thanked_changed_and_exported(api, make_bot, tmp_path, capsys):
    import json

    from bot.cli import main

    make_bot(telegram_allowed_users={1, 2})
    api.push_text(921, 1, "When did the Glacier Lake ferry resume?")
    [answer] = api.wait_for(lambda s: s.sent(921), 60)
    buttons = answer.params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍", "👎"]
    down = buttons[1]["callback_data"]
    assert down.startswith("fb:") and len(down) < 30  # an id, never the text

    def pressed(user, data, message=answer.result):
        qid = api.push_callback_query(user, message, data)
        return api.wait_for(lambda s: [c for c in s.sent(method="answerCallbackQuery")
                                       if c.params["callback_query_id"] == qid])[0].params.get("text")

    assert pressed(1, down) == "Thanks for the feedback!"
    assert pressed(1, down) == "Already noted — thanks!"
    assert pressed(2, buttons[0]["callback_data"]) == "Thanks for the feedback!"
    other_chat = dict(answer.result, chat={"id": 999, "type": "private"})
    assert pressed(1, down, other_chat) == "I no longer have that answer, sorry."  # a forged button

    capsys.readouterr()
    assert main(["feedback"]) == 0
    out = capsys.readouterr().out
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"{day}  extractive      1    1" in out
    assert pressed(1, buttons[0]["callback_data"]) == "Vote changed — thanks!"
    export = tmp_path / "down.jsonl"
    assert main(["feedback", "--export", str(export)]) == 0
    assert export.read_text() == ""  # nobody says 👎 any more
    assert pressed(2, down) == "Vote changed — thanks!"
    assert main(["feedback", "--export", str(export)]) == 0
    [line] = [json.loads(x) for x in export.read_text().splitlines()]
    assert line["question"] == "When did the Glacier Lake ferry resume?" and line["answer"] == ""
    assert "three weeks earlier" in line["bot_answer"]


def test_the_preview_is_the_first_cited_article_or_none(api, make_bot):
    make_bot(telegram_link_preview=False, telegram_feedback=False)
    api.push_text(931, 1, "When did the Glacier Lake ferry resume?")
    [answer] = api.wait_for(lambda s: s.sent(931), 60)
    assert answer.params["link_preview_options"] == {"is_disabled": True}
    assert "reply_markup" not in answer.params
