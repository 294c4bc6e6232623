"""The Telegram front end against a Bot-API-compatible server on 127.0.0.1 (tests/peers/botapi_server.py).

The real python-telegram-bot Application polls the loopback server, the real engine answers from the example
articles, and the tests read what the bot sent back.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import EXAMPLES, TelegramHTML, reply
from peers.botapi_server import BOT_USERNAME, TOKEN

HOSTILE = '<b>Fed & "rates"</b> *now*'


# --- rendering (unit) --------------------------------------------------------------------------
def test_hostile_title_and_url_render_literally():
    from bot.answer import Answer, Citation
    from bot.telegram.render import render_answer

    url = 'https://example.com/a?x=1&y="2"><script>'
    answer = Answer("Rates went up <fast> & far [1] [2].", [
        Citation(1, HOSTILE, url, "2025-03-20", "Quill & Co <Ltd>", "t"),
        Citation(2, "A file", "/data/articles/a file.md", "", "", "t")])
    html = render_answer(answer)
    parsed = TelegramHTML.check(html)
    assert HOSTILE in parsed.plain
    assert "Rates went up <fast> & far [1] [2]." in parsed.plain
    assert "Quill & Co <Ltd>, 2025-03-20" in parsed.plain
    assert parsed.links == [url]                       # the file path is not a link
    assert "[2] A file" in parsed.plain
    assert "<b>Fed" not in html and "&lt;b&gt;Fed &amp; &quot;rates&quot;&lt;/b&gt; *now*" in html


def test_ten_thousand_character_answer_splits_into_valid_parts():
    from bot.answer import Answer, Citation
    from bot.telegram.render import LIMIT, render_answer, split_html

    sentence = "Prices & wages <rose> by \"3%\" in the region, officials said [1]. "
    paragraphs = [(sentence * (4 + i % 5)).strip() for i in range(60)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 10_000
    answer = Answer(text, [Citation(i, f"Title {i} & <more>", f"https://x.example/{i}?a=1&b=2", "2025-01-0%d" % (i % 9 + 1),
                                    "Outlet", "t") for i in range(1, 12)])
    html = render_answer(answer)
    parts = split_html(html)
    assert len(parts) >= 3
    for part in parts:
        assert 0 < len(part) <= LIMIT
        TelegramHTML.check(part)
    # every part but the last ends at a paragraph boundary: nothing lost, nothing cut mid-sentence
    assert "\n\n".join(parts) == html
    whole = TelegramHTML.check(html).plain
    assert "".join(TelegramHTML.check(p).plain for p in parts).replace("\n", "") == whole.replace("\n", "")


def test_split_falls_back_to_lines_words_and_reopens_a_too_long_tag():
    from bot.telegram.render import split_html

    lines = "\n".join(f"line {i} &amp; more" for i in range(400))
    parts = split_html(lines, 500)
    assert all(len(p) <= 500 and not p.startswith("\n") for p in parts)
    assert all(p.endswith("more") for p in parts)     # cut at line ends, never inside "&amp;"
    words = " ".join(["word&lt;"] * 300)
    assert all(p.endswith("word&lt;") for p in split_html(words, 200))
    long_link = '<a href="https://x.example/?q=1&amp;r=2">' + "very long title " * 60 + "</a> tail"
    parts = split_html(long_link, 300)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 300
        assert TelegramHTML.check(part).links == ["https://x.example/?q=1&r=2"]


# --- the bot, end to end -----------------------------------------------------------------------
def test_question_answered_with_citations_and_links(api, make_bot):
    make_bot()
    assert api.wait_for(lambda s: s.sent(method="setMyCommands"), 10)
    commands = {c["command"] for c in api.sent(method="setMyCommands")[0].params["commands"]}
    assert {"ask", "help", "sources", "reset", "ingest"} <= commands

    api.push_text(101, 1, "When did the Glacier Lake ferry resume?")
    call = api.wait_for(lambda s: s.sent(101), 60)[0]
    text = call.params["text"]
    assert call.params["parse_mode"] == "HTML"
    # the preview is the first cited article's, not whichever link comes first in the text
    assert call.params["link_preview_options"] == {
        "is_disabled": False, "url": "https://northwind-wire.example/2025/03/21/glacier-lake-ferry"}
    parsed = TelegramHTML.check(text)
    assert "three weeks earlier than usual" in parsed.plain and "[1]" in parsed.plain
    assert "Sources:" in parsed.plain
    assert "https://northwind-wire.example/2025/03/21/glacier-lake-ferry" in parsed.links
    assert "Ferry service returns to Glacier Lake after ice melts early" in parsed.plain

    api.push_text(101, 1, "How much did the Lantern Bridge repair cost?")
    second = TelegramHTML.check(reply(api, 101, 2)[1])
    assert "86 million crowns" in second.plain
    assert "[1] Lantern Bridge reopens to traffic after two-year repair" in second.plain
    assert not second.links  # a file article has no link, only its title


@pytest.mark.slow
def test_commands(api, make_bot, http_dir):
    root, base = http_dir
    (root / "tunnel.html").write_text(
        "<html><head><title>Quillfeather Tunnel opens under the harbor</title></head><body><article>"
        "<h1>Quillfeather Tunnel opens under the harbor</h1><p>The Quillfeather Tunnel, which cost 42 million crowns, "
        "opened on Tuesday after four years of work, the harbor authority said. It will carry "
        "twelve thousand cars a day between the two shores of Harbor City.</p></article></body></html>")
    engine = make_bot(telegram_admins={9}, allow_private_urls=True)  # the page is served on loopback
    api.push_text(201, 9, "/start")
    start = TelegramHTML.check(reply(api, 201)[0]).plain
    assert "5 articles" in start and "2025-03-14 to 2025-03-22" in start and "/ingest" in start

    api.push_text(202, 9, "/help")
    assert "5 articles" in TelegramHTML.check(reply(api, 202)[0]).plain

    api.push_text(203, 9, "/latest")
    sources = TelegramHTML.check(reply(api, 203)[0])
    assert "Ferry service returns to Glacier Lake after ice melts early" in sources.plain
    assert "Central Bank of Examplia raises key rate to 4.5%" in sources.plain
    assert len([line for line in sources.plain.splitlines() if line.startswith("•")]) == 5

    api.push_text(204, 9, "/ask How much did the Lantern Bridge repair cost?")
    assert "86 million crowns" in reply(api, 204)[0]
    assert engine.memory.history("tg:204")
    api.push_text(204, 9, "/sources")  # the last answer's sources, in full, with the passage quoted
    full = TelegramHTML.check(reply(api, 204, 2)[1]).plain
    assert "Sources of my last answer" in full and "Lantern Bridge reopens to traffic after two-year repair" in full
    assert "2025-03-14" in full and "lantern-bridge-reopens.md" in full and "“The repair cost 86 million crowns" in full
    api.push_text(207, 9, "/sources")
    assert "haven't answered anything here yet" in reply(api, 207)[0]  # each chat has its own last answer
    api.push_text(204, 9, "/reset")
    assert "forgotten" in reply(api, 204, 3)[2]
    assert engine.memory.history("tg:204") == []

    api.push_text(205, 9, "/ask")
    assert "Ask me a question" in reply(api, 205)[0]

    api.push_text(206, 9, f"/ingest {base}/tunnel.html")
    assert "1 ingested" in reply(api, 206, timeout=90)[0]
    api.push_text(206, 9, "How much did the Quillfeather Tunnel cost?")
    answer = TelegramHTML.check(reply(api, 206, 2)[1])
    assert "42 million crowns" in answer.plain and "Quillfeather Tunnel opens under the harbor" in answer.plain
    assert f"{base}/tunnel.html" in answer.links


def test_ingest_command_is_for_admins_only(api, make_bot, http_dir):
    root, base = http_dir
    make_bot(telegram_admins={9}, telegram_allowed_users={10})
    api.push_text(301, 10, f"/ingest {base}/nothing.html")
    assert reply(api, 301)[0] == "Only the bot's admins can add articles."
    api.push_text(302, 9, "/ingest")
    assert "Usage: /ingest URL" in reply(api, 302)[0]


def test_group_answers_only_when_addressed(api, make_bot):
    engine = make_bot()
    group = -100500
    api.push_text(group, 5, "Who is the governor of the Central Bank of Examplia?", chat_type="supergroup")
    mention = api.push_text(group, 5, f"@{BOT_USERNAME} How much did the Lantern Bridge repair cost?",
                            chat_type="supergroup")
    first = api.wait_for(lambda s: s.sent(group), 60)
    assert len(first) == 1 and "86 million crowns" in first[0].params["text"]
    assert first[0].params["reply_parameters"]["message_id"] == api.pushed_message_id(mention)
    # the mention is stripped from the question the engine saw
    assert engine.memory.history(f"tg:{group}")[0][0] == "How much did the Lantern Bridge repair cost?"

    api.push_text(group, 6, "When did the Glacier Lake ferry resume?", chat_type="supergroup", reply_to_bot=True)
    assert "three weeks earlier" in reply(api, group, 2)[1]
    api.push_text(group, 6, f"/ask@{BOT_USERNAME} What happened at the lantern festival?", chat_type="supergroup")
    assert "210,000 visitors" in reply(api, group, 3)[2]
    api.push_text(group, 6, "just chatting about the lantern festival", chat_type="supergroup")
    api.push_text(group, 6, f"/help@{BOT_USERNAME}", chat_type="supergroup")  # the barrier: handled after the chatter
    help_text = reply(api, group, 4)[3]
    assert "Mention me" in help_text
    assert len(api.sent(group)) == 4  # the chatter got no answer


def test_follow_up_stays_in_its_own_chat(api, make_bot):
    engine = make_bot()
    api.push_text(401, 1, "Who is the governor of the Central Bank of Examplia?")
    reply(api, 401)
    api.push_text(402, 2, "How much did the Lantern Bridge repair cost?")
    reply(api, 402)
    api.push_text(401, 1, "What inflation did she report?")
    assert "6.1 percent" in reply(api, 401, 2)[1]
    assert [q for q, _ in engine.memory.history("tg:401")] == [
        "Who is the governor of the Central Bank of Examplia?", "What inflation did she report?"]
    assert [q for q, _ in engine.memory.history("tg:402")] == ["How much did the Lantern Bridge repair cost?"]


@pytest.mark.slow
def test_twenty_chats_at_once_all_answered_correctly(api, make_bot):
    make_bot()
    questions = [("How much did the Lantern Bridge repair cost?", "86 million crowns"),
                 ("When did the Glacier Lake ferry resume?", "three weeks earlier"),
                 ("How many visitors came to the Lantern Festival?", "210,000"),
                 ("What did the central bank decide about interest rates?", "4.5 percent")]
    chats = {1000 + i: questions[i % len(questions)] for i in range(20)}
    for chat, (question, _) in chats.items():
        api.push_text(chat, chat, question)
    api.wait_for(lambda s: all(s.sent(chat) for chat in chats), 180)
    for chat, (_, expected) in chats.items():
        texts = api.texts(chat)
        assert len(texts) == 1 and expected in texts[0], (chat, texts)
    # per-chat locks live only while a chat has a question in flight: memory does not grow with every chat
    deadline = time.monotonic() + 10  # the last handlers may still be returning after their reply went out
    while make_bot.front.chat_locks and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(make_bot.front.chat_locks) == 0


def test_throttle_forgets_users_quiet_for_a_minute():
    from bot.telegram import Throttle

    throttle = Throttle(per_minute=2)
    for user in range(1000):
        assert throttle.allow(user, now=100.0) == (True, False)
    throttle.allow(5, now=101.0)
    assert throttle.allow(5, now=102.0) == (False, True)   # throttled within the minute, warned once
    assert throttle.allow(8, now=130.0) == (True, False)
    assert throttle.allow(7, now=161.0) == (True, False)   # a minute on: users quiet since then are swept
    assert set(throttle.seen) == {7, 8} and throttle.warned == set()
    assert throttle.allow(8, now=162.0) == (True, False)   # 8 kept its window: one ask left in it
    assert throttle.allow(8, now=163.0) == (False, True)


def test_allowlist_refuses_once_politely(api, make_bot):
    make_bot(telegram_allowed_users={1}, telegram_allowed_chats={-7})
    api.push_text(501, 2, "How much did the Lantern Bridge repair cost?")
    api.push_text(501, 2, "Hello? Anyone?")
    api.push_text(502, 1, "How much did the Lantern Bridge repair cost?")
    api.push_text(-7, 3, f"@{BOT_USERNAME} When did the Glacier Lake ferry resume?", chat_type="group")
    assert "86 million crowns" in reply(api, 502)[0]
    assert "three weeks earlier" in reply(api, -7)[0]
    assert "private" in reply(api, 501)[0]
    api.push_text(501, 2, "/start")  # the barrier: /start always answers, after the messages before it
    texts = reply(api, 501, 2)
    assert "your Telegram user id is <code>2</code>" in texts[1]
    assert len(api.sent(501)) == 2  # refused once, not once per message


def test_admin_document_upload_is_ingested_then_answerable(api, make_bot, tmp_path):
    make_bot(telegram_admins={7}, telegram_allowed_users={8})
    body = ("# Quillfeather Tunnel opens under the harbor\n\n*The Harbor City Gazette (fictional) — 2 April 2025*\n\n"
            "The Quillfeather Tunnel, which cost 42 million crowns, opened on Tuesday after four years of work, the "
            "harbor authority said. It will carry twelve thousand cars a day.\n").encode()
    api.push_document(601, 8, "tunnel.md", body)
    assert "admins" in reply(api, 601)[0]
    api.push_document(602, 7, "notes.exe", b"MZ")
    assert "notes.exe is not one of them" in reply(api, 602)[0]

    api.push_document(603, 7, "quillfeather tunnel.md", body, mime_type="text/markdown")
    assert "1 ingested" in reply(api, 603, timeout=90)[0]
    assert list((tmp_path / "data" / "uploads").rglob("*")) == []   # the store has the text; the copy is gone
    api.push_text(603, 7, "How much did the Quillfeather Tunnel cost?")
    answer = TelegramHTML.check(reply(api, 603, 2)[1]).plain
    assert "42 million crowns" in answer and "Quillfeather Tunnel opens under the harbor" in answer

    # /sources names the file; where it lay on the server (with the admin's chat id in it) is for admins
    api.push_text(604, 8, "How much did the Quillfeather Tunnel cost?")
    assert "42 million crowns" in reply(api, 604)[0]
    api.push_text(604, 8, "/sources")
    user_view = TelegramHTML.check(reply(api, 604, 2)[1]).plain
    assert "quillfeather tunnel.md" in user_view and "uploads" not in user_view and "603-" not in user_view
    api.push_text(603, 7, "/sources")
    assert "uploads/603-" in TelegramHTML.check(reply(api, 603, 3)[2]).plain


def test_upload_folders_left_by_a_killed_bot_are_swept_at_start(tmp_path):
    import os

    from bot.telegram.admin import STALE_UPLOAD, sweep_uploads

    old, fresh = tmp_path / "uploads" / "7-1-old", tmp_path / "uploads" / "7-2-busy"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "a.md").write_text("# A\n\ntext")
    past = time.time() - STALE_UPLOAD - 60
    os.utime(old, (past, past))
    assert sweep_uploads(tmp_path) == 1
    assert not old.exists() and fresh.exists()


def test_hostile_titles_are_escaped_in_the_chat(api, make_bot, tmp_path):
    wire = tmp_path / "hostile.jsonl"
    wire.write_text(json.dumps({
        "id": "h1", "url": "https://quill.example/fed?x=1&y=2", "title": HOSTILE, "published": "2025-03-23",
        "source": "The <i>Quill</i>",
        "text": "The Federal Reserve of Examplia held rates at 3.25 percent on Sunday, surprising traders who "
                "had expected a cut after two months of falling prices."}) + "\n")
    make_bot(sources=(str(EXAMPLES), str(wire)))
    api.push_text(701, 1, "What did the Federal Reserve of Examplia do with rates?")
    text = reply(api, 701)[0]
    parsed = TelegramHTML.check(text)
    assert "3.25 percent" in parsed.plain
    assert HOSTILE in parsed.plain and "The <i>Quill</i>" in parsed.plain
    assert "https://quill.example/fed?x=1&y=2" in parsed.links
    assert "&lt;b&gt;Fed &amp; &quot;rates&quot;&lt;/b&gt; *now*" in text


def test_llm_failure_is_answered_gracefully(api, make_bot):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    engine = make_bot(openai_base_url=f"http://127.0.0.1:{closed}/v1", openai_api_key="test",
                      openai_max_retries=0, openai_timeout=5)
    assert engine.answerer.name == "llm"
    api.push_text(801, 1, "How much did the Lantern Bridge repair cost?")
    text = api.wait_for(lambda s: [c.params["text"] for c in s.calls if c.method in ("sendMessage", "editMessageText")
                                   and "Sources" in c.params.get("text", "")], 90)[-1]
    parsed = TelegramHTML.check(text)
    assert "86 million crowns" in parsed.plain and "could not be reached" in parsed.plain
    assert "Sorry, something went wrong" not in " ".join(api.texts(801))


def test_llm_answer_streams_by_editing_one_message(api, make_bot, openai_server):
    from peers.openai_server import Reply

    # a claim the cited passage bears out: one it does not is moved or dropped (bot/answering/citations.py)
    openai_server.default = Reply("The repair cost 86 million crowns [1].")
    engine = make_bot(openai_base_url=openai_server_url(openai_server), openai_api_key="test")
    assert engine.answerer.name == "llm"
    # in a group (a private chat streams into drafts: tests/test_news_telegram.py)
    api.push_text(-802, 1, f"@{BOT_USERNAME} How much did the Lantern Bridge repair cost?", chat_type="group")
    final = api.wait_for(lambda s: [c for c in s.calls if c.method in ("sendMessage", "editMessageText")
                                    and "Sources" in c.params.get("text", "")], 60)[-1]
    parsed = TelegramHTML.check(final.params["text"])
    assert "The repair cost 86 million crowns [1]." in parsed.plain
    assert "Lantern Bridge reopens" in parsed.plain
    drafts = api.sent(-802)
    assert len(drafts) == 1 and drafts[0].params["text"].endswith(" …")  # a draft as the text arrived ...
    assert final.method == "editMessageText"                              # ... replaced in place by the answer
    assert int(final.params["message_id"]) == drafts[0].result["message_id"]


@pytest.mark.slow
def test_long_streamed_answer_is_split_into_valid_messages(api, make_bot, openai_server):
    from peers.openai_server import Reply

    # ~8,000 characters: two Telegram messages at least; each sentence its own, as a reply repeating itself is cut
    text = "".join(f"Item {i} of the Lantern Bridge repair, lot {i}, cost 86 million crowns [1]. " for i in range(110))
    openai_server.default = Reply(text)
    # the model's text alone (LLM_QUOTES off): the count below is of its sentences
    make_bot(openai_base_url=openai_server_url(openai_server), openai_api_key="test", llm_quotes=False)
    api.push_text(-803, 1, f"@{BOT_USERNAME} How much did the Lantern Bridge repair cost?", chat_type="group")
    api.wait_for(lambda s: any("Sources" in c.params.get("text", "") for c in s.calls
                               if c.method in ("sendMessage", "editMessageText")), 90)
    # the chat's lock goes once its question's handler has returned, that is, once every part is sent
    api.wait_for(lambda s: -803 not in make_bot.front.chat_locks, 30)
    calls = [c for c in api.calls if c.method in ("sendMessage", "editMessageText")
             and int(c.params.get("chat_id", -803)) == -803 and not c.params["text"].endswith(" …")]
    draft = api.sent(-803)[0]
    assert draft.params["text"].endswith(" …") and len(draft.params["text"]) <= 4096
    final = [c for c in calls if c.method == "editMessageText"][-1:] + [c for c in calls if c.method == "sendMessage"]
    assert int(final[0].params["message_id"]) == draft.result["message_id"]  # the draft became part one
    assert len(final) >= 2 and all(len(c.params["text"]) <= 4096 for c in final)
    plain = "".join(TelegramHTML.check(c.params["text"]).plain for c in final)
    assert plain.count("86 million crowns") == 110     # nothing lost at the seams
    assert "Sources" in plain.split("86 million crowns")[-1] and "Lantern Bridge reopens" in plain


def openai_server_url(server) -> str:
    for name in ("base_url", "url"):
        value = getattr(server, name, None)
        if value:
            return value if value.rstrip("/").endswith("/v1") else value.rstrip("/") + "/v1"
    raise AssertionError("the OpenAI peer exposes no url")


@pytest.mark.slow
def test_retry_after_is_retried_and_the_answer_arrives(api, make_bot):
    make_bot()
    api.fail_next("sendMessage", retry_after=1)
    api.push_text(901, 1, "How much did the Lantern Bridge repair cost?")
    assert "86 million crowns" in reply(api, 901)[0]
    attempts = [c for c in api.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == 901]
    assert attempts  # the successful one is recorded; the 429 one too:
    assert any(c.result == "429" for c in api.calls if c.method == "sendMessage")


def test_per_user_throttle_says_slow_down_once(api, make_bot):
    make_bot(telegram_user_rate=2)
    for _ in range(5):
        api.push_text(1101, 3, "How much did the Lantern Bridge repair cost?")
    api.wait_for(lambda s: len(s.texts(1101)) >= 3, 90)
    api.push_text(1101, 4, "When did the Glacier Lake ferry resume?")  # the barrier: another user, the same chat,
    assert "three weeks earlier" in reply(api, 1101, 4, timeout=90)[3]  # answered after the two questions before it
    texts = api.texts(1101)
    assert sum("86 million crowns" in t for t in texts) == 2
    assert sum("faster than I can keep up" in t for t in texts) == 1 and len(texts) == 4


def test_engine_error_gets_a_polite_reply(api, make_bot, caplog):
    engine = make_bot()

    def broken(*args, **kwargs):
        raise RuntimeError("store exploded")

    engine.ask = broken
    uid = api.push_text(1201, 1, "How much did the Lantern Bridge repair cost?")
    assert reply(api, 1201)[0] == "Sorry, something went wrong — please try again."
    assert any(f"update {uid}" in r.getMessage() for r in caplog.records)


def test_webhook_needs_the_right_secret(api, make_bot):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_bot(webhook=dict(listen="127.0.0.1", port=port, url_path="hook", secret_token="s3cret-Token",
                          webhook_url="https://bot.example/hook"))
    assert api.webhook["url"] == "https://bot.example/hook" and api.webhook["secret_token"] == "s3cret-Token"
    update = {"update_id": 77, "message": api.make_message(1301, 1, "How much did the Lantern Bridge repair cost?")}
    wrong = httpx.post(f"http://127.0.0.1:{port}/hook", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}, timeout=10)
    assert wrong.status_code == 403
    missing = httpx.post(f"http://127.0.0.1:{port}/hook", json=update, timeout=10)
    assert missing.status_code == 403
    right = httpx.post(f"http://127.0.0.1:{port}/hook", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}, timeout=10)
    assert right.status_code == 200
    assert "86 million crowns" in reply(api, 1301)[0]
    # the barrier: the same question, asked again, is answered after the refused posts would have been
    second = {"update_id": 78, "message": api.make_message(1301, 1, "How much did the Lantern Bridge repair cost?")}
    httpx.post(f"http://127.0.0.1:{port}/hook", json=second,
               headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}, timeout=10)
    reply(api, 1301, 2)
    assert len(api.sent(1301)) == 2  # the two refused posts reached nothing


# --- start-up ----------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "not-a-token", "123:short", "abc:" + "x" * 35])
@pytest.mark.slow
def test_missing_or_malformed_token_is_one_line_exit_2(token, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    if token:
        env["TELEGRAM_BOT_TOKEN"] = token
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "telegram"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0] and "Traceback" not in proc.stderr
    if token:
        assert token not in proc.stderr


def test_token_never_reaches_the_logs(caplog):
    from bot.telegram import TokenFilter

    logger = logging.getLogger("httpx")
    flt = TokenFilter(TOKEN)
    caplog.handler.addFilter(flt)
    try:
        # the httpx logger's own level too: an in-process `articlebot` run earlier in the session raised it
        with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="httpx"):
            logger.info('HTTP Request: POST %s "HTTP/1.1 200 OK"', f"https://api.telegram.org/bot{TOKEN}/getMe")
            try:
                raise ValueError(f"boom at /bot{TOKEN}/sendMessage")
            except ValueError:
                logging.getLogger("telegram.ext").exception("failed")
    finally:
        caplog.handler.removeFilter(flt)
    assert TOKEN not in caplog.text and "/bot<token>/getMe" in caplog.text
    assert "boom at /bot<token>/sendMessage" in caplog.text


def test_token_pattern_accepts_real_shaped_tokens():
    from bot.telegram import token_problem

    assert token_problem(TOKEN) is None
    assert token_problem("7012345678:AAH-3_fake_but_well_formed_token_xyz") is None
    assert token_problem("") and token_problem("123456789") and token_problem("123456789:short")


def test_admins_alone_do_not_close_the_bot(settings):
    from bot.telegram import TelegramFrontEnd

    class Engine:
        answerer = None

    assert TelegramFrontEnd(settings, Engine()).open_to_everyone
    assert TelegramFrontEnd(settings.model_copy(update={"telegram_admins": frozenset({1})}), Engine()).open_to_everyone
    closed = settings.model_copy(update={"telegram_allowed_chats": frozenset({-5})})
    assert not TelegramFrontEnd(closed, Engine()).open_to_everyone


def test_bad_webhook_secret_is_one_line_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_URL="https://bot.example/hook",
               TELEGRAM_WEBHOOK_SECRET="has spaces & symbols")
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "telegram"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "TELEGRAM_WEBHOOK_SECRET" in proc.stderr and TOKEN not in proc.stderr
