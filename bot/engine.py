"""The answer engine: question (+ conversation so far) → retrieval → answer with citations. Every front end uses it."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.answer import Answer
from bot.answering.corpus import ArticleInfo, CorpusStats, corpus_stats, list_articles
from bot.answering.follow_up import about, is_follow_up, subject
from bot.answering.gate import Verdict, judge, not_covered
from bot.answering.memory import Memory
from bot.answering.reader import reader_for
from bot.settings import Settings
from vectorstore.analysis import LANGUAGE as CORPUS_LANGUAGE
from vectorstore.language import NAMES, other_language
from vectorstore.outage import wait_out
from vectorstore.passages import Passage
from vectorstore.retrieval import Filters, Retriever

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EMPTY_CORPUS = "I have no articles yet. An operator can add some with `articlebot ingest PATH_OR_URL`."
NO_QUESTION = "Ask me a question about the articles, for example: what happened this week?"
LAST_ANSWERS = 1000  # conversations whose last answer is kept for /sources (the oldest are forgotten first)
# /help, /latest and `stats` read the whole manifest; the listing is reused this long, and at once made anew after a
# write through this engine (the TTL covers writers in other processes: `articlebot ingest` beside a Chroma server)
CORPUS_TTL = 60.0
# a question waits this long for a Chroma server that went away (restarting, redeployed) before its front end says so
STORE_WAIT = 20.0
WRONG_LANGUAGE = (
    "Your question looks like {language}. Without an LLM I can only answer questions in {corpus}, "
    "the language of the articles: please ask it in {corpus}."
)


def wrong_language(lang: str) -> str:
    """The one-line reply to a question in another language than the articles' (vectorstore/language.py)."""
    named = NAMES.get(lang, "another language")
    return WRONG_LANGUAGE.format(language=named, corpus=NAMES[CORPUS_LANGUAGE])


@dataclass
class Prepared:
    """A question made ready to answer: its history, passages and the gate's verdict; or, in `ready`, the reply
    already decided. `remember` is False for replies that are no turn of the conversation ("ask me a question")."""

    question: str
    history: list = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    verdict: Verdict | None = None
    ready: Answer | None = None
    remember: bool = True


class Engine:
    def __init__(
        self,
        settings: Settings,
        store,
        embedder,
        answerer,
        memory: Memory,
        retriever: Retriever | None = None,
        reader=None,
    ):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.answerer = answerer
        self.memory = memory
        self.retriever = retriever or Retriever(settings, store, embedder)
        # the trained reader's gate (bot/answering/reader.py); checked against its digest
        self.reader = reader or reader_for(settings)
        self._ingest_lock = threading.Lock()
        self._last: OrderedDict[str, Answer] = OrderedDict()
        self._said: OrderedDict[tuple[str, str], None] = OrderedDict()  # (conversation, Answer.once) already said
        self._last_lock = threading.Lock()
        self._corpus_lock = threading.Lock()  # one manifest scan at a time; the others wait for its result
        self._corpus: tuple[int, float, list[ArticleInfo]] | None = None
        self._writes = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        from bot.answering.answerers import build_answerer
        from bot.answering.batching import batched
        from vectorstore.embeddings import build_embedder
        from vectorstore.store import open_store

        store = open_store(settings)
        try:
            # questions answered at once share model runs and Chroma queries (bot/answering/batching.py)
            embedder = batched(store, build_embedder(store.settings))
            return cls(
                settings,
                store,
                embedder,
                build_answerer(settings, embedder),
                Memory(settings.data_dir / "memory.sqlite3", settings.memory_turns),
            )
        except BaseException:
            store.close()
            raise

    def warm(self) -> None:
        """Load the embedding model and the BM25 index now rather than at the first question."""
        self.embedder.embed_query("warm up")
        self.retriever.index()

    # --- answering ---------------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        *,
        k: int | None = None,
        as_of: datetime | None = None,
        outlet: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Passage]:
        return self.retriever.search(
            question, k=k or self.settings.top_k, filters=Filters(as_of=as_of, outlet=outlet, since=since, until=until)
        )

    def judge(self, question: str, passages: list[Passage]) -> Verdict:
        """The abstention gate's verdict: do these passages address the question?"""
        return judge(question, passages, self.retriever.vocabulary(), reader=self.reader, embedder=self.embedder)

    def answer(self, question: str, passages: list[Passage], history: list | None = None) -> Answer:
        """What follows retrieval: the gate, then (only when it lets the question through) the answerer."""
        return self._answer(question, passages, history or [], self.judge(question, passages))

    def _answer(self, question: str, passages: list[Passage], history: list, verdict: Verdict) -> Answer:
        if not verdict.covered:
            return not_covered(verdict, passages, self.answerer.name)
        answer = self.answerer.answer(question, passages, history, verdict)
        answer.verdict = verdict
        return answer

    def _prepare(self, conversation_id: str, question: str, filters: dict) -> Prepared:
        """History, retrieval query, passages and the gate's verdict for one question, or the reply already decided
        (no question, no articles, a language the offline answerer cannot read, passages that do not address it)."""
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            return Prepared(question, ready=Answer(NO_QUESTION, found=False), remember=False)
        if not self.retriever.index().ids:  # the store's chunks as the index last saw them: no store call per question
            return Prepared(question, ready=Answer(EMPTY_CORPUS, found=False), remember=False)
        if not self.settings.llm_configured:  # an LLM writes an English search query from any language
            lang = other_language(question)
            if lang:
                return Prepared(question, ready=Answer(wrong_language(lang), found=False), remember=False)
        history = self.memory.history(conversation_id)
        # with history: a standalone follow-up; with an LLM, also a question in another language put into English
        query = self.answerer.condense(question, history)
        passages = self.retrieve(query, **filters)
        if not self.settings.llm_configured and is_follow_up(question, history):
            # offline nothing rewrites "its workforce": answer from the passages that name what the conversation is
            # about, not from another company's layoffs that match the follow-up's own words better
            passages = about(passages, subject(question, history))
        # the standalone query is judged: for "and what did she say?" it carries what the follow-up is about
        verdict = self.judge(query, passages)
        ready = None if verdict.covered else not_covered(verdict, passages, self.answerer.name)
        return Prepared(question, history, passages, verdict, ready)

    def _remember(self, conversation_id: str, question: str, answer: Answer) -> None:
        self._say_once(conversation_id, answer)
        self.memory.add(conversation_id, question, answer.text)
        with self._last_lock:  # Telegram answers several chats at once, each in its own thread
            # /sources needs the text and citations; the gate's working state (~10x the rest) is not kept
            self._last[conversation_id] = replace(answer, verdict=None)
            self._last.move_to_end(conversation_id)
            while len(self._last) > LAST_ANSWERS:
                self._last.popitem(last=False)

    def _prepare_waiting(self, conversation_id: str, question: str, filters: dict) -> Prepared:
        """_prepare, waiting out a Chroma server that went away for up to STORE_WAIT seconds (preparing only reads,
        so trying again is safe); then the error is the front end's (vectorstore.outage.unreachable tells it)."""
        wait = STORE_WAIT if self.settings.server_mode else 0.0
        return wait_out(lambda: self._prepare(conversation_id, question, filters), wait)

    def _say_once(self, conversation_id: str, answer: Answer) -> None:
        """A note meant once per conversation (Answer.once: "the language model is not answering") is dropped from
        the conversation's later answers with the same key."""
        if not answer.once:
            return
        with self._last_lock:
            key = (conversation_id, answer.once)
            if key in self._said:
                answer.note = ""
                return
            self._said[key] = None
            while len(self._said) > LAST_ANSWERS:
                self._said.popitem(last=False)

    def ask(self, conversation_id: str, question: str, **filters) -> Answer:
        p = self._prepare_waiting(conversation_id, question, filters)
        if p.ready is not None:
            answer = p.ready
        else:
            assert p.verdict is not None  # a question not answered at once has been judged
            answer = self._answer(p.question, p.passages, p.history, p.verdict)
        if p.remember:
            self._remember(conversation_id, p.question, answer)
        return answer

    def stream(self, conversation_id: str, question: str, **filters) -> Iterator[str | Answer]:
        p = self._prepare_waiting(conversation_id, question, filters)
        if p.ready is not None:
            if p.remember:
                self._remember(conversation_id, p.question, p.ready)
            yield p.ready
            return
        for part in self.answerer.stream(p.question, p.passages, p.history, p.verdict):
            if isinstance(part, Answer):
                self._remember(conversation_id, p.question, part)
            yield part

    def last_answer(self, conversation_id: str) -> Answer | None:
        """The last answer given in this conversation (for /sources), or None."""
        return self._last.get(conversation_id)

    def reset(self, conversation_id: str) -> None:
        self.memory.reset(conversation_id)
        with self._last_lock:
            self._last.pop(conversation_id, None)

    # --- the corpus --------------------------------------------------------------------------
    def _articles(self) -> list[ArticleInfo]:
        with self._corpus_lock:
            cached = self._corpus
            if cached and cached[0] == self._writes and time.monotonic() - cached[1] < CORPUS_TTL:
                return cached[2]
            writes = self._writes
            articles = list_articles(self.store)
            self._corpus = (writes, time.monotonic(), articles)
            return articles

    def stats(self) -> CorpusStats:
        return corpus_stats(self.store, self._articles())

    def recent_articles(self, n: int = 10) -> list[ArticleInfo]:
        return self._articles()[:n]

    def ingest(self, sources: list[str]):
        """Add articles while serving; they are answerable as soon as this returns."""
        from ingest.pipeline import ingest

        with self._ingest_lock:
            report = ingest(self.settings, self.store, sources, self.embedder)
            self.retriever.refresh()
            self._writes += 1
        return report

    def add_articles(self, items):
        """Store articles loaded elsewhere (a followed source's new entries); answerable as soon as this returns."""
        from ingest.pipeline import ingest_items

        with self._ingest_lock:
            report = ingest_items(self.settings, self.store, items, self.embedder)
            if report.wrote:
                self.retriever.rebuild()
                self._writes += 1
        return report

    def close(self) -> None:
        self.memory.close()
        self.store.close()
