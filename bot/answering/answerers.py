"""The answerer seam: LLM when one is configured, extractive otherwise. Chosen once, in build_answerer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from bot.answer import Answer
from bot.settings import Settings
from vectorstore.passages import Passage

Turn = tuple[str, str]  # (question, answer text), oldest first


class Answerer(Protocol):
    name: str

    # `verdict` is the abstention gate's (bot/answering/gate.py): the engine calls an answerer only for questions it lets
    # through, and the answerer builds on its evidence rather than judging relevance again.
    def answer(self, question: str, passages: list[Passage], history: list[Turn], verdict=None) -> Answer: ...

    def stream(
        self, question: str, passages: list[Passage], history: list[Turn], verdict=None
    ) -> Iterator[str | Answer]: ...

    # The query retrieval and the gate use: the question itself, a follow-up made standalone, or (with an LLM) a
    # question in another language put into English. The engine calls it for every question.
    def condense(self, question: str, history: list[Turn]) -> str: ...


def build_answerer(settings: Settings, embedder) -> Answerer:
    from bot.answering.extractive import ExtractiveAnswerer
    from bot.answering.reader import reader_for

    extractive = ExtractiveAnswerer(embedder, reader_for(settings))
    if settings.llm_configured:
        from bot.answering.llm import LLMAnswerer  # llama-index's LLM classes load only when an LLM is configured

        return LLMAnswerer.from_settings(settings, fallback=extractive)
    return extractive
