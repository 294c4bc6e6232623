"""The LLM answerer: numbered sources → an OpenAI-compatible model (through llama-index) → a checked, cited answer.

Model output is untrusted like article text: markers naming no source are dropped, URLs that are not the
sources' own are removed, and the citations list is built from the retrieved passages, never from the text.
When the model cannot be reached (timeout, 5xx, rate limit, refused, garbage) the extractive answer is
returned with a one-line note, so a chat never sees a stack trace.
"""
from __future__ import annotations

import logging
import re
from datetime import date
from typing import Iterator

from llama_index.core.llms import ChatMessage, MessageRole

from bot.answer import Answer
from bot.citations import MARKER, renumber, strip_foreign_urls
from bot.extractive import NOT_FOUND
from bot.settings import Settings, reveal
from prompts import load
from vectorstore.passages import Passage

log = logging.getLogger(__name__)

# The model's "NOT FOUND" is honoured even with words after it ("NOT FOUND. The sources only mention ...").
SENTINEL = re.compile(r"^\W*not\s+found\b", re.I)
_SENTINEL_TEXT = "NOT FOUND"
UNREACHABLE = "The language model could not be reached ({why}); these are the best matching sentences from the articles."
UNCITED = "The language model's answer cited no source; these are the best matching sentences from the articles."
MAX_HISTORY_CHARS = 600  # per remembered answer in the prompt: enough for context, not for a prompt blow-up


def _why(exc: BaseException) -> str:
    """A short, user-safe reason for a failed call (no URLs, keys or tracebacks)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.APIStatusError):
        return f"server error {exc.status_code}"
    return "unexpected reply"


def build_llm(settings: Settings):
    """llama-index's OpenAI for api.openai.com models it knows, OpenAILike for any other server or model name.

    The openai client is built here so its timeout and retries are ours (its own default timeout is 600 s);
    llama-index's retry wrapper is switched off (max_retries=0) because it would retry each of the client's
    retries again, with waits of up to 20 s.
    """
    import openai
    from llama_index.llms.openai import OpenAI
    from llama_index.llms.openai_like import OpenAILike

    key = reveal(settings.openai_api_key) or "not-needed"  # local servers (Ollama, llama.cpp) accept any key
    common = dict(model=settings.openai_model, api_key=key, max_retries=0, timeout=settings.openai_timeout,
                  temperature=0.0, reuse_client=True)
    client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url, timeout=settings.openai_timeout,
                           max_retries=settings.openai_max_retries)
    if not settings.openai_base_url:
        llm = OpenAI(**common, openai_client=client)
        try:
            llm.metadata  # raises for model names llama-index's OpenAI class does not know
            return llm
        except ValueError:
            pass
    return OpenAILike(**common, api_base=settings.openai_base_url, is_chat_model=True, context_window=8192,
                      openai_client=client)


class LLMAnswerer:
    name = "llm"

    def __init__(self, llm, fallback, today: date | None = None):
        self.llm = llm
        self.fallback = fallback
        self._today = today

    @classmethod
    def from_settings(cls, settings: Settings, fallback) -> "LLMAnswerer":
        return cls(build_llm(settings), fallback)

    # --- prompts -----------------------------------------------------------------------------
    def messages(self, question: str, passages: list[Passage], history: list | None = None):
        sources = "\n\n".join(load("source").format(n=i, title=p.title or "(untitled)", outlet=p.outlet or "unknown outlet",
                                                    published=p.when or "date unknown", text=p.text.strip())
                              for i, p in enumerate(passages, 1))
        past = ""
        if history:
            lines = [f"Earlier question: {q}\nEarlier answer: {MARKER.sub('', a)[:MAX_HISTORY_CHARS]}" for q, a in history]
            past = "\n".join(lines) + "\n\n"
        user = load("answer_user").format(sources=sources, today=(self._today or date.today()).isoformat(),
                                          history=past, question=question)
        return [ChatMessage(role=MessageRole.SYSTEM, content=load("answer_system")),
                ChatMessage(role=MessageRole.USER, content=user)]

    # --- the interface -----------------------------------------------------------------------
    def condense(self, question: str, history: list) -> str:
        """The follow-up rewritten as a standalone question for retrieval; the heuristic one if the model fails."""
        if not history:
            return question
        convo = "\n".join(f"User: {q}\nAssistant: {MARKER.sub('', a)[:MAX_HISTORY_CHARS]}" for q, a in history)
        prompt = load("condense").format(history=convo, question=question)
        try:
            text = self.llm.chat([ChatMessage(role=MessageRole.USER, content=prompt)]).message.content or ""
        except Exception as exc:  # noqa: BLE001 - any failure of the model: retrieval must still work
            log.warning("condensing with the LLM failed (%s); using the history as is", _why(exc))
            return self.fallback.condense(question, history)
        text = " ".join(text.split()).strip('"')
        return text if 0 < len(text) <= 500 else self.fallback.condense(question, history)

    def answer(self, question: str, passages: list[Passage], history: list | None = None, verdict=None) -> Answer:
        if not passages or (verdict is not None and not verdict.covered):  # the engine's gate said no: no call
            return self._not_found(passages, verdict)
        messages = self.messages(question, passages, history)
        try:
            text = self.llm.chat(messages).message.content or ""
            result = self._checked(text, passages, verdict)
            if result is None:  # uncited: one retry with a reminder, then quotes
                reminder = ChatMessage(role=MessageRole.USER, content=load("cite_reminder"))
                text = self.llm.chat([*messages, reminder]).message.content or ""
                result = self._checked(text, passages, verdict)
        except Exception as exc:  # noqa: BLE001
            return self._fall_back(question, passages, history, exc, verdict)
        if result is None:
            return self._quote(question, passages, history, UNCITED, verdict)
        return result

    def stream(self, question: str, passages: list[Passage], history: list | None = None, verdict=None
               ) -> Iterator[str | Answer]:
        """Text as it arrives (URLs already vetted), then the checked Answer, which front ends show in its place."""
        if not passages or (verdict is not None and not verdict.covered):
            yield self._not_found(passages, verdict)
            return
        text, pending = "", ""
        try:
            for chunk in self.llm.stream_chat(self.messages(question, passages, history)):
                delta = chunk.delta or ""
                text += delta
                pending += delta
                # release only whole words (a URL is vetted once it is complete), and nothing that may yet turn
                # out to be the model's NOT FOUND
                cut = max(pending.rfind(" "), pending.rfind("\n"))
                head = " ".join(text.split()).upper()[:len(_SENTINEL_TEXT)]
                if cut >= 0 and not _SENTINEL_TEXT.startswith(head) and not SENTINEL.match(text.strip()):
                    yield strip_foreign_urls(pending[: cut + 1], passages)
                    pending = pending[cut + 1:]
        except Exception as exc:  # noqa: BLE001
            yield self._fall_back(question, passages, history, exc, verdict)
            return
        result = self._checked(text, passages, verdict)
        if result is None:
            result = self._quote(question, passages, history, UNCITED, verdict)
        yield result

    # --- checks and fallbacks ----------------------------------------------------------------
    def _not_found(self, passages: list[Passage], verdict) -> Answer:
        if verdict is None:
            return Answer(NOT_FOUND, answerer=self.name, found=False)
        from bot.gate import not_covered

        return not_covered(verdict, passages, self.name)

    def _checked(self, text: str, passages: list[Passage], verdict=None) -> Answer | None:
        """The model's text with only valid markers and the sources' own URLs; None when it cites nothing."""
        text = text.strip()
        if SENTINEL.match(text):
            return self._not_found(passages, verdict)
        cleaned, cites = renumber(strip_foreign_urls(text, passages), passages)
        if not cites or not cleaned:
            return None
        return Answer(cleaned, cites, answerer=self.name)

    def _quote(self, question, passages, history, note: str, verdict=None) -> Answer:
        answer = self.fallback.answer(question, passages, history, verdict)
        answer.note = note
        return answer

    def _fall_back(self, question, passages, history, exc: BaseException, verdict=None) -> Answer:
        why = _why(exc)
        log.warning("LLM call failed (%s: %s); answering extractively", why, type(exc).__name__)
        return self._quote(question, passages, history, UNREACHABLE.format(why=why), verdict)
