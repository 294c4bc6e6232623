"""The bot stays responsive while answers are slow: questions run on a bounded pool of their own, and the thread
that streams an answer stops when nobody is left to show it to. Against the loopback Bot API server."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TelegramHTML, reply
from peers.botapi_server import BOT_USERNAME

QUESTION = "How much did the Lantern Bridge repair cost?"


class SlowAnswerer:
    """The real answerer behind a gate the test opens: a model that takes as long as the test wants."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.release = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def answer(self, *args, **kwargs):
        with self._lock:
            self.waiting += 1
        self.release.wait(120)
        return self.inner.answer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.slow
def test_help_sources_and_latest_answer_while_every_question_worker_waits_for_the_model(api, make_bot):
    from bot.telegram.front import QUESTION_WORKERS

    engine = make_bot()
    api.push_text(1, 1, QUESTION)                       # an answer for /sources to show later
    assert "86 million crowns" in reply(api, 1)[0]
    slow = engine.answerer = SlowAnswerer(engine.answerer)
    chats = range(2000, 2040)                           # more than any default executor (at most 32 threads)
    try:
        for chat in chats:
            api.push_text(chat, chat, QUESTION)
        api.wait_for(lambda s: slow.waiting >= QUESTION_WORKERS, 60)
        api.push_text(1, 1, "/help")
        api.push_text(1, 1, "/sources")
        api.push_text(1, 1, "/latest")
        texts = reply(api, 1, 4, timeout=30)[1:]        # stalled behind the model before: no reply at all
        plain = [TelegramHTML.check(t).plain for t in texts]   # handled at once, so in any order
        helps = [t for t in plain if t.startswith("Hi! I answer questions")]
        latest = [t for t in plain if t.startswith("5 articles, newest first")]   # /latest (render_latest)
        sources = [t for t in plain if t.startswith("Sources of my last answer")]
        assert len(helps) == len(latest) == len(sources) == 1, plain
        assert "I know 5 articles" in helps[0] and "Lantern Bridge reopens to traffic" in sources[0]
        assert slow.waiting == QUESTION_WORKERS and not any(api.texts(chat) for chat in chats)   # bounded
    finally:
        slow.release.set()
    api.wait_for(lambda s: all(s.texts(chat) for chat in chats), 180)
    assert all("86 million crowns" in api.texts(chat)[0] for chat in chats)
    assert slow.waiting == len(chats)


def test_a_stranger_is_told_the_ids_to_give_the_operator(api, make_bot):
    make_bot(telegram_allowed_users={1})
    api.push_text(-300, 42, f"@{BOT_USERNAME} hello?", chat_type="group")
    group = reply(api, -300)[0]
    assert "private" in group and "<code>-300</code>" in group and "TELEGRAM_ALLOWED_CHATS" in group
    assert "<code>42</code>" in group and "TELEGRAM_ALLOWED_USERS" in group
    TelegramHTML.check(group)
    api.push_text(610, 43, "/start")
    api.push_text(610, 43, "/start")                    # asked again: told again (a plain message is refused once)
    texts = reply(api, 610, 2)
    assert all("your Telegram user id is <code>43</code> (for TELEGRAM_ALLOWED_USERS)" in t for t in texts)


def test_a_cancelled_stream_stops_its_worker_before_it_records_an_answer():
    from bot.telegram.bridge import ThreadStream

    produced, recorded, closed = [], [], threading.Event()

    def engine_stream():
        try:
            for i in range(500):
                produced.append(i)
                yield f"word{i} "
                time.sleep(0.01)
            recorded.append("answer")  # what Engine.stream does when the answer is complete
            yield "the answer"
        finally:
            closed.set()

    async def consume_then_fail():
        stream = ThreadStream(engine_stream, pool)
        try:
            async for item in stream:
                if item == "word3 ":
                    raise ConnectionError("sending the draft failed")
        except ConnectionError:
            pass
        finally:
            stream.cancel()
        await asyncio.wait_for(stream.done, 10)     # the chat stays locked until here

    with ThreadPoolExecutor(1) as pool:
        asyncio.run(consume_then_fail())
    assert closed.is_set() and recorded == [] and len(produced) < 50
