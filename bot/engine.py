"""The answer engine: question (+ conversation so far) → retrieval → answer with citations. Every front end uses it."""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import date, datetime
from typing import Iterator

from bot.answer import Answer
from bot.corpus import ArticleInfo, CorpusStats, corpus_stats, list_articles
from bot.gate import Verdict, judge, not_covered
from bot.memory import Memory
from bot.settings import Settings
from vectorstore.passages import Passage
from vectorstore.retrieval import Filters, Retriever

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EMPTY_CORPUS = "I have no articles yet. An operator can add some with `articlebot ingest PATH_OR_URL`."
NO_QUESTION = "Ask me a question about the articles, for example: what happened this week?"
LAST_ANSWERS = 1000  # conversations whose last answer is kept for /sources (the oldest are forgotten first)


class Engine:
    def __init__(self, settings: Settings, store, embedder, answerer, memory: Memory, retriever: Retriever | None = None):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.answerer = answerer
        self.memory = memory
        self.retriever = retriever or Retriever(settings, store, embedder)
        self._ingest_lock = threading.Lock()
        self._last: OrderedDict[str, Answer] = OrderedDict()
        self._last_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Engine":
        from bot.answerers import build_answerer
        from vectorstore.embeddings import build_embedder
        from vectorstore.store import open_store

        store = open_store(settings)
        try:
            embedder = build_embedder(settings)
            return cls(settings, store, embedder, build_answerer(settings, embedder),
                       Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns))
        except BaseException:
            store.close()
            raise

    def warm(self) -> None:
        """Load the embedding model and the BM25 index now rather than at the first question."""
        self.embedder.embed_query("warm up")
        self.retriever.index()

    # --- answering ---------------------------------------------------------------------------
    def retrieve(self, question: str, *, k: int | None = None, as_of: datetime | None = None,
                 outlet: str | None = None, since: date | None = None, until: date | None = None) -> list[Passage]:
        return self.retriever.search(question, k=k or self.settings.top_k,
                                     filters=Filters(as_of=as_of, outlet=outlet, since=since, until=until))

    def judge(self, question: str, passages: list[Passage]) -> Verdict:
        """The abstention gate's verdict: do these passages address the question?"""
        return judge(question, passages, self.retriever.vocabulary())

    def answer(self, question: str, passages: list[Passage], history: list | None = None) -> Answer:
        """What follows retrieval: the gate, then (only when it lets the question through) the answerer."""
        return self._answer(question, passages, history or [], self.judge(question, passages))

    def _answer(self, question: str, passages: list[Passage], history: list, verdict: Verdict) -> Answer:
        if not verdict.covered:
            return not_covered(verdict, passages, self.answerer.name)
        answer = self.answerer.answer(question, passages, history, verdict)
        answer.verdict = verdict
        return answer

    def _prepare(self, conversation_id: str, question: str, filters: dict):
        """History, retrieval query, passages and the gate's verdict for one question, or a ready Answer when there
        is nothing to do (no question, no articles, or passages that do not address it)."""
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            return question, [], [], None, Answer(NO_QUESTION, found=False)
        if self.store.count() == 0:
            return question, [], [], None, Answer(EMPTY_CORPUS, found=False)
        history = self.memory.history(conversation_id)
        # with history: a standalone follow-up; with an LLM, also a question in another language put into English
        query = self.answerer.condense(question, history)
        passages = self.retrieve(query, **filters)
        # the standalone query is judged: for "and what did she say?" it carries what the follow-up is about
        verdict = self.judge(query, passages)
        if not verdict.covered:
            return question, history, passages, verdict, not_covered(verdict, passages, self.answerer.name)
        return question, history, passages, verdict, None

    def _remember(self, conversation_id: str, question: str, answer: Answer) -> None:
        self.memory.add(conversation_id, question, answer.text)
        with self._last_lock:  # Telegram answers several chats at once, each in its own thread
            self._last[conversation_id] = answer
            self._last.move_to_end(conversation_id)
            while len(self._last) > LAST_ANSWERS:
                self._last.popitem(last=False)

    def ask(self, conversation_id: str, question: str, **filters) -> Answer:
        question, history, passages, verdict, ready = self._prepare(conversation_id, question, filters)
        if verdict is None:  # no question, or no articles
            return ready
        answer = ready or self._answer(question, passages, history, verdict)  # ready: the gate's "not covered"
        self._remember(conversation_id, question, answer)
        return answer

    def stream(self, conversation_id: str, question: str, **filters) -> Iterator[str | Answer]:
        question, history, passages, verdict, ready = self._prepare(conversation_id, question, filters)
        if ready is not None:
            if verdict is not None:
                self._remember(conversation_id, question, ready)
            yield ready
            return
        for part in self.answerer.stream(question, passages, history, verdict):
            if isinstance(part, Answer):
                self._remember(conversation_id, question, part)
            yield part

    def last_answer(self, conversation_id: str) -> Answer | None:
        """The last answer given in this conversation (for /sources), or None."""
        return self._last.get(conversation_id)

    def reset(self, conversation_id: str) -> None:
        self.memory.reset(conversation_id)
        with self._last_lock:
            self._last.pop(conversation_id, None)

    # --- the corpus --------------------------------------------------------------------------
    def stats(self) -> CorpusStats:
        return corpus_stats(self.store)

    def recent_articles(self, n: int = 10) -> list[ArticleInfo]:
        return list_articles(self.store)[:n]

    def ingest(self, sources: list[str]):
        """Add articles while serving; they are answerable as soon as this returns."""
        from ingest.pipeline import ingest

        with self._ingest_lock:
            report = ingest(self.settings, self.store, sources, self.embedder)
            self.retriever.refresh()
        return report

    def add_articles(self, items):
        """Store articles loaded elsewhere (a followed source's new entries); answerable as soon as this returns."""
        from ingest.pipeline import ingest_items

        with self._ingest_lock:
            report = ingest_items(self.settings, self.store, items, self.embedder)
            if report.wrote:
                self.retriever.rebuild()
        return report

    def close(self) -> None:
        self.memory.close()
        self.store.close()
