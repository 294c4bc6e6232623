"""Telegram pushing back, and a busy bot: every question answered once, in order, against the loopback Bot API.

The stand-in refuses or delays chosen calls (tests/peers/faults.py); the bot must honour a 429's retry_after, retry a
5xx without a duplicate, never repeat a send that may have arrived, keep each chat's answers in the order asked,
serve every chat's first question before any chat's later ones, and tell a chat that waits that it is queued.
"""
from __future__ import annotations

import logging
import threading

import pytest

from conftest import reply
from peers.botapi_server import BOT_USERNAME
from peers.faults import FaultPlan

BRIDGE = ("How much did the Lantern Bridge repair cost?", "86 million crowns")
FERRY = ("When did the Glacier Lake ferry resume?", "three weeks earlier")
FESTIVAL = ("How many visitors came to the Lantern Festival?", "210,000")


def delivered(api, chat: int, method: str = "sendMessage") -> list:
    """The calls of `method` to the chat that took effect (a refused attempt is no message)."""
    return [c for c in api.sent(chat, method) if isinstance(c.result, dict)]


def refused(api, chat: int, status: str, method: str = "sendMessage") -> list:
    return [c for c in api.sent(chat, method) if c.result == status]


@pytest.mark.slow
def test_a_429_is_waited_out_for_its_own_chat_and_the_answer_arrives_once(api, make_bot):
    make_bot()
    api.faults = FaultPlan().script("sendMessage", [429], retry_after=3)
    api.push_text(1301, 1, BRIDGE[0])                       # refused, told to wait 3 s
    api.wait_for(lambda s: refused(s, 1301, "429"), 60)
    api.push_text(1302, 2, FERRY[0])                        # another chat meanwhile: not held up by the first's 429
    assert FERRY[1] in reply(api, 1302)[0]
    assert BRIDGE[1] in api.wait_for(lambda s: delivered(s, 1301), 60)[0].params["text"]
    first_try, answer = refused(api, 1301, "429")[0], delivered(api, 1301)[0]
    assert answer.at - first_try.at >= 3.0                  # not sent again before retry_after
    assert delivered(api, 1302)[0].at < answer.at
    assert len(delivered(api, 1301)) == 1 and len(refused(api, 1301, "429")) == 1


@pytest.mark.slow
def test_a_502_is_retried_and_the_answer_arrives_once(api, make_bot):
    make_bot()
    api.faults = FaultPlan().script("sendMessage", [502, 502])
    api.push_text(1311, 1, BRIDGE[0])
    answers = api.wait_for(lambda s: delivered(s, 1311), 60)
    assert BRIDGE[1] in answers[0].params["text"]
    api.push_text(1311, 1, FERRY[0])                        # the barrier: answered after the one before it
    api.wait_for(lambda s: len(delivered(s, 1311)) >= 2, 60)
    texts = [c.params["text"] for c in delivered(api, 1311)]
    assert len(texts) == 2 and BRIDGE[1] in texts[0] and FERRY[1] in texts[1]
    assert len(refused(api, 1311, "502")) == 2
    assert not any("Sorry" in t for t in texts)


@pytest.mark.slow
def test_a_send_that_took_effect_but_timed_out_is_not_sent_again(api, make_bot, caplog):
    make_bot()
    # carried out, answered after the bot's 5 s read timeout: a retry would deliver the answer twice
    api.faults = FaultPlan().script("sendMessage", [200], delay=7)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.front"):
        api.push_text(1321, 1, BRIDGE[0])
        api.wait_for(lambda s: any(f"could not send to chat {1321}" in r.getMessage() for r in caplog.records), 60)
        api.push_text(1321, 1, FERRY[0])                    # the chat goes on
        api.wait_for(lambda s: len(s.sent(1321)) >= 2, 60)
    texts = [c.params["text"] for c in api.sent(1321)]
    assert len(texts) == 2 and BRIDGE[1] in texts[0] and FERRY[1] in texts[1]  # once each, and no "sorry"
    lost = [r for r in caplog.records if "could not send to chat 1321" in r.getMessage()]
    assert len(lost) == 1 and "Traceback" not in lost[0].getMessage()


@pytest.mark.slow
def test_a_chats_answers_keep_their_order_while_telegram_holds_one_back(api, make_bot):
    make_bot(telegram_user_rate=0)
    api.faults = FaultPlan().script("sendMessage", [429], retry_after=2)  # the first answer waits 2 s ...
    api.push_text(1371, 1, BRIDGE[0])
    api.push_text(1371, 1, FERRY[0])                        # ... while the second is made: it goes out after it
    api.wait_for(lambda s: len(delivered(s, 1371)) >= 2, 60)
    texts = [c.params["text"] for c in delivered(api, 1371)]
    assert len(texts) == 2 and BRIDGE[1] in texts[0] and FERRY[1] in texts[1]


@pytest.mark.slow
def test_a_502_on_a_streamed_edit_is_retried_without_a_second_message(api, make_bot, openai_server):
    from peers.openai_server import Reply

    openai_server.default = Reply("The repair cost 86 million crowns [1].")
    make_bot(openai_base_url=openai_server.base_url, openai_api_key="test")
    api.faults = FaultPlan().script("editMessageText", [502, 502])
    # a group: there the answer grows by edits of one message (a private chat's grows in a draft)
    api.push_text(-1331, 1, f"@{BOT_USERNAME} {BRIDGE[0]}", chat_type="supergroup")
    final = api.wait_for(lambda s: [c for c in delivered(s, -1331, "editMessageText")
                                    if "Sources" in c.params["text"]], 60)[-1]
    assert "86 million crowns" in final.params["text"]
    assert len(delivered(api, -1331)) == 1                  # the draft, edited into the answer: one message
    assert len(refused(api, -1331, "502", "editMessageText")) == 2


class Gate:
    """The real answerer behind a gate the test opens, counting the answers begun."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.open = threading.Event()
        self.begun = 0

    def answer(self, *args, **kwargs):
        self.begun += 1
        self.open.wait(120)
        return self.inner.answer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_chats_questions_are_answered_in_order_and_a_waiting_chat_is_told_once(api, make_bot, monkeypatch):
    import bot.telegram.turns as turns

    monkeypatch.setattr(turns, "QUEUED_AFTER", 0.3)
    engine = make_bot(telegram_user_rate=0)
    gate = engine.answerer = Gate(engine.answerer)
    for question, _ in (BRIDGE, FERRY, FESTIVAL):
        api.push_text(1341, 1, question)
    notice = reply(api, 1341)[0]                            # the first is being answered, the others wait for it
    assert notice == turns.QUEUED and gate.begun == 1
    gate.open.set()
    texts = reply(api, 1341, 4)
    assert [fact in text for fact, text in zip((BRIDGE[1], FERRY[1], FESTIVAL[1]), texts[1:])] == [True] * 3
    assert texts.count(turns.QUEUED) == 1                   # told once while it had questions waiting
    api.push_text(1341, 1, BRIDGE[0])                       # nothing waiting now: answered, nothing else said
    assert BRIDGE[1] in reply(api, 1341, 5)[4] and len(api.texts(1341)) == 5


@pytest.mark.slow
def test_no_queued_notice_while_telegram_refuses_messages(api, make_bot, monkeypatch, caplog):
    import bot.telegram.turns as turns

    monkeypatch.setattr(turns, "QUEUED_AFTER", 0.3)
    engine = make_bot(telegram_user_rate=0)
    api.faults = FaultPlan().script("sendMessage", [429], retry_after=1)
    api.push_text(1381, 1, BRIDGE[0])                       # refused once, then delivered: Telegram is pushing back
    assert BRIDGE[1] in api.wait_for(lambda s: delivered(s, 1381), 60)[0].params["text"]
    gate = engine.answerer = Gate(engine.answerer)
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.turns"):
        api.push_text(1382, 2, BRIDGE[0])
        api.push_text(1382, 2, FERRY[0])                    # waits for the first: would be told it is queued
        api.wait_for(lambda s: any("not told it is queued" in r.getMessage() for r in caplog.records), 30)
    gate.open.set()
    texts = reply(api, 1382, 2)
    assert BRIDGE[1] in texts[0] and FERRY[1] in texts[1] and len(api.texts(1382)) == 2


@pytest.mark.slow
def test_a_chats_first_question_is_not_held_behind_another_chats_many(api, make_bot):
    make_bot(telegram_user_rate=0)
    for _ in range(70):                                     # more than a bot handles at once by default (PTB: 64)
        api.push_text(1351, 1, BRIDGE[0])
    api.push_text(1352, 2, FERRY[0])
    assert FERRY[1] in reply(api, 1352, timeout=120)[0]
    first_of_other = delivered(api, 1352)[0]
    before = [c for c in delivered(api, 1351) if c.at < first_of_other.at and BRIDGE[1] in c.params["text"]]
    assert len(before) < 3                                  # not after the first chat's 70
    api.wait_for(lambda s: sum(BRIDGE[1] in c.params["text"] for c in delivered(s, 1351)) == 70, 300)


@pytest.mark.slow
def test_typing_shows_while_a_slow_answer_is_made(api, make_bot):
    engine = make_bot()
    gate = engine.answerer = Gate(engine.answerer)
    api.push_text(1361, 1, BRIDGE[0])
    api.wait_for(lambda s: any(c.params.get("action") == "typing" for c in s.sent(1361, "sendChatAction")), 30)
    assert not api.sent(1361)
    gate.open.set()
    assert BRIDGE[1] in reply(api, 1361)[0]
