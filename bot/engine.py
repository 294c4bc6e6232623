"""The answer engine: question (+ conversation so far) → retrieval → answer with citations. Every front end uses it;
one per collection, and Engines for a process that serves several collections."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.answer import Answer
from bot.answering.corpus import ArticleInfo, CorpusStats, corpus_stats, list_articles
from bot.answering.follow_up import about, is_follow_up, subject
from bot.answering.gate import Verdict, judge, not_covered
from bot.answering.memory import Memory
from bot.answering.reader import reader_for
from bot.answering.recent import RecentAnswers
from bot.settings import Settings
from vectorstore.analysis import LANGUAGE as CORPUS_LANGUAGE
from vectorstore.collections import DEFAULT, check_name, local_dir, local_names
from vectorstore.language import NAMES, other_language
from vectorstore.outage import wait_out
from vectorstore.passages import Passage
from vectorstore.retrieval import Filters, Retriever

if TYPE_CHECKING:
    from ingest.follow import Following, PollResult

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EMPTY_CORPUS = "I have no articles yet. An operator can add some with `articlebot ingest PATH_OR_URL`."
NO_QUESTION = "Ask me a question about the articles, for example: what happened this week?"
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
        write_lock: threading.Lock | None = None,
    ):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.answerer = answerer
        self.memory = memory
        self.retriever = retriever or Retriever(settings, store, embedder)
        # the trained reader's gate (bot/answering/reader.py); checked against its digest
        self.reader = reader or reader_for(settings)
        self._ingest_lock = write_lock or threading.Lock()  # one writer per collection (bot/engine.py shares it)
        self.recent = RecentAnswers()  # for /sources, and notes said once per conversation
        self._corpus_lock = threading.Lock()  # one manifest scan at a time; the others wait for its result
        self._corpus: tuple[int, float, list[ArticleInfo]] | None = None
        self._writes = 0
        # called (in the writing thread) after a write through this engine stored something: watch alerts
        self.on_write: list[Callable[[], None]] = []

    @classmethod
    def from_settings(cls, settings: Settings, create: bool = True) -> Engine:
        """The engine of the configured collection (StoreError if it does not exist and not `create`)."""
        from bot.answering.answerers import build_answerer
        from bot.answering.batching import batched
        from vectorstore.embeddings import build_embedder
        from vectorstore.store import open_store

        store = open_store(settings, create)
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
        self.recent.add(conversation_id, answer)
        self.memory.add(conversation_id, question, answer.text)

    def _prepare_waiting(self, conversation_id: str, question: str, filters: dict) -> Prepared:
        """_prepare, waiting out a Chroma server that went away for up to STORE_WAIT seconds (preparing only reads,
        so trying again is safe); then the error is the front end's (vectorstore.outage.unreachable tells it)."""
        wait = STORE_WAIT if self.settings.server_mode else 0.0
        return wait_out(lambda: self._prepare(conversation_id, question, filters), wait)

    def ask(self, conversation_id: str, question: str, *, remember: bool = True, **filters) -> Answer:
        """The answer to a question; `remember=False` for a one-off (an inline query) that is no turn of a
        conversation."""
        p = self._prepare_waiting(conversation_id, question, filters)
        if p.ready is not None:
            answer = p.ready
        else:
            assert p.verdict is not None  # a question not answered at once has been judged
            answer = self._answer(p.question, p.passages, p.history, p.verdict)
        if p.remember and remember:
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
        return self.recent.last(conversation_id)

    def reset(self, conversation_id: str) -> None:
        self.memory.reset(conversation_id)
        self.recent.drop(conversation_id)

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
        if report.wrote:
            self._wrote()
        return report

    def add_articles(self, items):
        """Store articles loaded elsewhere (a followed source's new entries); answerable as soon as this returns."""
        from ingest.pipeline import ingest_items

        with self._ingest_lock:
            report = ingest_items(self.settings, self.store, items, self.embedder)
            if report.wrote:
                self.retriever.rebuild()
                self._writes += 1
        if report.wrote:
            self._wrote()
        return report

    def _wrote(self) -> None:
        for listener in list(self.on_write):
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener's failure must not fail the write that succeeded
                log.exception("a write listener failed")

    def forget(self, what: str):
        """Remove the articles WHAT names (ingest/forget.py); no answer cites them once this returns."""
        from ingest.forget import forget

        with self._ingest_lock:
            report = forget(self.store, what)
            self.retriever.refresh()
            self._writes += 1
        return report

    def close(self) -> None:
        self.memory.close()
        self.store.close()


# --- the engines of several collections --------------------------------------------------------
def following_settings(settings: Settings, name: str | None = None) -> Settings:
    """The settings ingest/follow.py's Following is given for a collection's followed sources: the collection's own
    folder (vectorstore/collections.py local_dir; the data dir itself for the default) is its data dir, where it keeps
    the list, so each collection follows its own sources."""
    name = check_name(name or settings.collection)
    return settings.model_copy(update={"collection": name, "data_dir": local_dir(settings.data_dir, name)})


MAX_OPEN = 8  # engines of other collections kept open besides the configured one's
FOLLOW_FILE = "follow.sqlite3"


class Engines:
    """The engine and the followed sources of each collection, for a process that serves several (Telegram, `follow run`).

    Built around the engine of the configured collection: another collection's engine is opened when first asked
    for, over the same Chroma client (and so under the one data-dir lock the first took), sharing the embedding
    model, the answerer, the reader and the conversation memory. Open engines are kept in a small LRU, so a bot whose
    chats use many collections holds the BM25 indexes of the few in use; the write lock of each collection outlives
    its engine, so an engine opened again never writes beside the one it replaced."""

    def __init__(self, base: Engine, max_open: int = MAX_OPEN):
        self.base = base
        self.max_open = max_open
        self._open: OrderedDict[str, Engine] = OrderedDict()
        self._write_locks: dict[str, threading.Lock] = {}
        self._models: dict[str, tuple] = {}  # embedding identity -> (embedder, answerer)
        self._following: dict[str, Following] = {}
        self._lock = threading.Lock()

    @property
    def settings(self):
        return self.base.settings

    @property
    def default(self) -> str:
        """The configured collection: the base engine's."""
        return self.base.store.collection

    def get(self, name: str | None = None) -> Engine:
        """The engine of collection `name` (the configured one when None); StoreError for a name that cannot be."""
        name = check_name(name or self.default)
        if name == self.default:
            return self.base
        with self._lock:  # opening is a few Chroma calls; two chats asking for one new collection open it once
            engine = self._open.get(name)
            if engine is None:
                engine = self._open[name] = self._make(name)
                while len(self._open) > self.max_open:
                    self._open.popitem(last=False)  # nothing to close: its store shares the client and the lock
            self._open.move_to_end(name)
            return engine

    def _make(self, name: str) -> Engine:
        from bot.answering.answerers import build_answerer
        from vectorstore.embeddings import build_embedder
        from vectorstore.store import ArticleStore

        # FOLLOW= seeds the configured collection's list, not this one's
        settings = self.settings.model_copy(update={"collection": name, "follow": ()})
        store = ArticleStore(settings, client=self.base.store.client)
        self._models.setdefault(self.base.store.embed_identity, (self.base.embedder, self.base.answerer))
        if store.embed_identity not in self._models:  # built with another variant of the model
            embedder = build_embedder(store.settings)
            self._models[store.embed_identity] = (embedder, build_answerer(settings, embedder))
        embedder, answerer = self._models[store.embed_identity]
        lock = self._write_locks.setdefault(name, threading.Lock())
        engine = Engine(settings, store, embedder, answerer, self.base.memory, reader=self.base.reader, write_lock=lock)
        engine.on_write = self.base.on_write  # one list: a watch's look after a write covers every collection
        return engine

    def names(self) -> list[str]:
        """Every collection in the store."""
        from vectorstore.collections import names

        return names(self.base.store.client)

    # --- followed sources --------------------------------------------------------------------
    def following(self, name: str | None = None) -> Following:
        """The followed sources of collection `name` (the configured one when None)."""
        from ingest.follow import Following

        name = check_name(name or self.default)
        with self._lock:
            if name not in self._following:
                settings = self.settings if name == self.default else self.settings.model_copy(update={"follow": ()})
                self._following[name] = Following(following_settings(settings, name))
            return self._following[name]

    def following_collections(self) -> list[str]:
        """The configured collection and every other one that has a follow list."""
        data_dir = self.settings.data_dir
        others = [n for n in [DEFAULT, *local_names(data_dir)] if (local_dir(data_dir, n) / FOLLOW_FILE).is_file()]
        return list(dict.fromkeys([self.default, *others]))

    def poll_due(self) -> list[tuple[str, PollResult]]:
        """Poll every collection's due sources, each writing through its collection's engine: (collection, result)."""
        results = []
        for name in self.following_collections():
            following = self.following(name)
            due = following.list.next_due()
            if due is not None and due <= time.time():
                results += [(name, r) for r in following.poll_due(self.get(name).add_articles)]
        return results

    def next_due(self) -> float | None:
        """When the next source of any collection is due."""
        due = [d for n in self.following_collections() if (d := self.following(n).list.next_due()) is not None]
        return min(due, default=None)

    def close(self) -> None:
        """Stop the followed sources' polls (the engines are closed by whoever opened the base engine)."""
        for following in list(self._following.values()):
            following.close()
