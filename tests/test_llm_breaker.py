"""An LLM that comes and goes: after a few failures in a row the bot stops calling it for a while, answers with the
quotes and says so once per conversation, then tries it again. Against the OpenAI-compatible server on 127.0.0.1;
the breaker's clock is the test's, so nothing waits out a real cool-down."""
from __future__ import annotations

import pytest

from conftest import EXAMPLES
from engines import engine_over
from peers.openai_server import Reply

QUESTION = "How much did the Lantern Bridge repair cost?"
GOOD = Reply("The repair cost 86 million crowns [1].")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def flaky(settings, embedder, openai_server):
    """(engine, clock) with an LLM answerer whose breaker opens after 3 failures for 30 s of the clock."""
    from bot.answering.breaker import Breaker

    settings = settings.model_copy(update={"openai_base_url": openai_server.base_url, "openai_model": "test-model",
                                           "openai_timeout": 2.0, "openai_max_retries": 0, "llm_quotes": False})
    engine = engine_over(settings, embedder, EXAMPLES)
    clock = Clock()
    engine.answerer.breaker = Breaker(failures=3, cool_down=30.0, clock=clock)
    yield engine, clock
    engine.close()


def test_after_three_failures_the_model_is_left_alone_and_each_chat_is_told_once(flaky, openai_server):
    from bot.answering.llm import RESTING

    engine, _ = flaky
    openai_server.default = Reply(kind="error500")
    for i in range(3):                                      # first questions: one call each, no condensing
        answer = engine.ask(f"f{i}", QUESTION)
        assert "could not be reached" in answer.note and "86 million crowns" in answer.text
    assert len(openai_server.requests) == 3
    resting = [engine.ask("a", QUESTION), engine.ask("a", QUESTION), engine.ask("b", QUESTION)]
    assert len(openai_server.requests) == 3                 # not called: no question waits on it
    assert all("86 million crowns" in a.text and a.citations for a in resting)
    assert [a.note for a in resting] == [RESTING, "", RESTING]  # once in each conversation
    streamed = list(engine.stream("c", QUESTION))
    assert len(streamed) == 1 and streamed[0].note == RESTING and len(openai_server.requests) == 3


def test_after_the_cool_down_one_call_tries_the_model_and_an_answer_closes_the_breaker(flaky, openai_server):
    from bot.answering.llm import RESTING

    engine, clock = flaky
    openai_server.default = Reply(kind="error500")
    for i in range(3):
        engine.ask(f"f{i}", QUESTION)
    assert engine.ask("a", QUESTION).note == RESTING        # open: chat a is told
    clock.now += 31
    assert engine.ask("t1", QUESTION).note.startswith("The language model could not be reached")  # the trial
    assert len(openai_server.requests) == 4
    assert engine.ask("a", QUESTION).note == ""              # open again: quotes; chat a was told already
    assert len(openai_server.requests) == 4
    openai_server.default = GOOD
    clock.now += 31
    answer = engine.ask("t2", QUESTION)                     # the next trial answers: closed
    assert answer.answerer == "llm" and "The repair cost 86 million crowns [1]." in answer.text
    assert engine.ask("b", QUESTION).answerer == "llm" and len(openai_server.requests) == 6
    openai_server.default = Reply(kind="error500")         # a new outage later: chats are told again
    for i in range(3):
        engine.ask(f"g{i}", QUESTION)
    assert engine.ask("a", QUESTION).note == RESTING and len(openai_server.requests) == 9


def test_a_reply_the_checks_reject_is_no_failure(flaky, openai_server):
    engine, _ = flaky
    openai_server.default = Reply("I am not sure.")          # cites nothing: quotes, but the model did answer
    for i in range(4):
        assert engine.ask(f"c{i}", QUESTION).note.startswith("The language model's answer cited no source")
    assert len(openai_server.requests) == 8                 # each question: the answer and one reminder


def test_a_stream_the_reader_stops_early_still_reports_the_call(flaky, openai_server):
    engine, clock = flaky
    openai_server.default = Reply(kind="error500")
    for i in range(3):
        engine.ask(f"f{i}", QUESTION)
    clock.now += 31
    openai_server.default = Reply("The repair cost 86 million crowns, the city said on Friday [1].")
    stream = engine.stream("t", QUESTION)                   # the trial call, abandoned after its first words
    assert isinstance(next(stream), str)
    stream.close()
    assert engine.ask("b", QUESTION).answerer == "llm"      # the trial was reported: the breaker is closed
