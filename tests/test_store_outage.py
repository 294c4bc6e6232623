"""The Chroma server going away under a running bot (server mode): a question waits a bounded time for it, or gets
one polite line; answers resume by themselves once it is back, the bot never restarted. A real `chroma run` killed
with -9 and started again on the same port and path, and the real bot against the loopback Bot API."""
from __future__ import annotations

import logging

import httpx
import pytest

from conftest import reply
from peers.chroma_server import ChromaServer

pytestmark = pytest.mark.slow  # a `chroma run` server, killed and started again: tens of seconds

BRIDGE = ("How much did the Lantern Bridge repair cost?", "86 million crowns")
FERRY = ("When did the Glacier Lake ferry resume?", "three weeks earlier")


@pytest.fixture
def chroma(tmp_path):
    server = ChromaServer(tmp_path / "chroma-db").start()
    yield server
    server.kill()


def test_a_question_asked_while_the_store_restarts_is_answered_once_it_is_back(api, make_bot, chroma, caplog):
    engine = make_bot(chroma_host="127.0.0.1", chroma_port=chroma.port)
    api.push_text(1401, 1, BRIDGE[0])
    assert BRIDGE[1] in reply(api, 1401)[0]
    chroma.kill()
    with caplog.at_level(logging.INFO, logger="vectorstore.outage"):
        api.push_text(1401, 1, FERRY[0])                    # the store is gone: the question waits for it
        api.wait_for(lambda s: any("store is unreachable" in r.getMessage() for r in caplog.records), 30)
        chroma.start()
        texts = reply(api, 1401, 2, timeout=90)
    assert FERRY[1] in texts[1]
    api.push_text(1401, 1, BRIDGE[0])                       # the barrier: nothing else was said in between
    assert BRIDGE[1] in reply(api, 1401, 3)[2] and len(api.texts(1401)) == 3
    assert engine.store.count() > 0                         # the same engine, never restarted


def test_a_store_down_for_longer_gets_one_polite_line_and_answers_resume_by_themselves(api, make_bot, chroma,
                                                                                       monkeypatch):
    import bot.engine
    from bot.telegram.front import STORE_RESTARTING

    make_bot(chroma_host="127.0.0.1", chroma_port=chroma.port)
    monkeypatch.setattr(bot.engine, "STORE_WAIT", 1.0)
    chroma.kill()
    api.push_text(1411, 1, BRIDGE[0])
    assert reply(api, 1411)[0] == STORE_RESTARTING
    api.push_text(1411, 1, "/latest")                       # a command that reads the store: the same line
    assert reply(api, 1411, 2)[1] == STORE_RESTARTING
    chroma.start()
    api.push_text(1411, 1, BRIDGE[0])
    texts = reply(api, 1411, 3)
    assert BRIDGE[1] in texts[2] and not any("Sorry" in t or "Traceback" in t for t in texts)


def test_wait_out_tries_again_only_while_the_store_is_unreachable():
    from vectorstore.outage import unreachable, wait_out
    from vectorstore.store import StoreError

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            try:
                raise httpx.ConnectError("refused")
            except httpx.ConnectError:
                raise StoreError("lost the Chroma server") from None  # as the store wraps it
        return "answer"

    assert wait_out(flaky, 10.0) == "answer" and len(calls) == 3

    def broken():
        calls.append(1)
        raise StoreError("collection 'x' was built with another embedding model")

    calls.clear()
    with pytest.raises(StoreError):
        wait_out(broken, 10.0)
    assert len(calls) == 1 and not unreachable(StoreError("no"))
