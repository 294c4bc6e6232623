"""The answer engine: question (+ conversation so far) → retrieval → answer with citations. Every front end uses it."""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from typing import Iterator

from bot.answer import Answer
from bot.corpus import ArticleInfo, CorpusStats, corpus_stats, list_articles
from bot.memory import Memory
from bot.settings import Settings
from vectorstore.passages import Passage
from vectorstore.retrieval import Filters, Retriever

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EMPTY_CORPUS = "I have no articles yet. An operator can add some with `articlebot ingest PATH_OR_URL`."
NO_QUESTION = "Ask me a question about the articles, for example: what happened this week?"


class Engine:
    def __init__(self, settings: Settings, store, embedder, answerer, memory: Memory, retriever: Retriever | None = None):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.answerer = answerer
        self.memory = memory
        self.retriever = retriever or Retriever(settings, store, embedder)
        self._ingest_lock = threading.Lock()

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

    def _prepare(self, conversation_id: str, question: str, filters: dict):
        """History, retrieval query and passages for one question, or a ready Answer when there is nothing to do."""
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            return question, [], [], Answer(NO_QUESTION, found=False)
        if self.store.count() == 0:
            return question, [], [], Answer(EMPTY_CORPUS, found=False)
        history = self.memory.history(conversation_id)
        query = self.answerer.condense(question, history) if history else question
        passages = self.retrieve(query, **filters)
        return question, history, passages, None

    def ask(self, conversation_id: str, question: str, **filters) -> Answer:
        question, history, passages, ready = self._prepare(conversation_id, question, filters)
        if ready is not None:
            return ready
        answer = self.answerer.answer(question, passages, history)
        self.memory.add(conversation_id, question, answer.text)
        return answer

    def stream(self, conversation_id: str, question: str, **filters) -> Iterator[str | Answer]:
        question, history, passages, ready = self._prepare(conversation_id, question, filters)
        if ready is not None:
            yield ready
            return
        for part in self.answerer.stream(question, passages, history):
            if isinstance(part, Answer):
                self.memory.add(conversation_id, question, part.text)
            yield part

    def reset(self, conversation_id: str) -> None:
        self.memory.reset(conversation_id)

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

    def close(self) -> None:
        self.memory.close()
        self.store.close()
