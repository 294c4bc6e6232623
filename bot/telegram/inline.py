"""Inline mode: `@bot question` typed in any chat offers up to three results to send there, each the answer (the
extractive reader's or the LLM's) with its sources as links: the answer, the answer headed by the question, and the
answer's first sentence alone. Inline mode is switched on with BotFather (/setinline; docs/telegram.md).

Only users the bot serves get answers (an inline query has no chat, so TELEGRAM_ALLOWED_CHATS does not count);
others get one result saying how to get access, an empty query one saying how to ask. Telegram sends a query for
every pause in typing: a query is answered only once the user has stopped typing for INLINE_SETTLE seconds, and an
identical question within TELEGRAM_INLINE_CACHE seconds is answered from a cache (Telegram caches the results as
long, per user: is_personal, because who may see an answer depends on who asks). An inline answer is a one-off, no
turn of any chat's conversation.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.answer import Answer, Citation
from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.answers import answer_preview
from bot.telegram.chat import NO_PREVIEW
from bot.telegram.render import LIMIT, escape, render_answer, split_html
from bot.telegram.throttle import Throttle
from vectorstore.sentences import split

if TYPE_CHECKING:
    from bot.engine import Engine

INLINE_SETTLE = 0.5  # seconds without a newer query from the same user before one is answered
CACHED_QUESTIONS = 500
HELP_TITLE = "Ask about the news"
ACCESS_TITLE = "This bot is private"


class InlineAnswers:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    settings: Settings
    engine: Engine
    access: Access
    throttle: Throttle
    question_pool: Executor
    _inline_latest: dict[int, str]  # user -> their newest inline query's id
    _inline_cache: OrderedDict[str, tuple[float, list[InlineQueryResultArticle]]]

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """@bot QUESTION in any chat: answers to send there, with their sources."""
        query = update.inline_query
        question = " ".join(query.query.split())
        cache_time = self.settings.telegram_inline_cache
        if not question:
            await query.answer([_help(context.bot.username)], cache_time=cache_time, is_personal=True)
            return
        if not self.access.allowed(update):
            await query.answer([_access(query.from_user.id)], cache_time=0, is_personal=True)
            return
        user = query.from_user.id
        self._inline_latest[user] = query.id
        await asyncio.sleep(INLINE_SETTLE)
        if self._inline_latest.get(user) != query.id:
            return  # still typing: the newer query gets the answer
        del self._inline_latest[user]
        results = self._cached(question)
        if results is None:
            allowed, _ = self.throttle.allow(user)
            if not allowed:
                await query.answer([_slow_down()], cache_time=0, is_personal=True)
                return
            ask = partial(self.engine.ask, f"inline:{user}", question, remember=False)
            answer = await asyncio.get_running_loop().run_in_executor(self.question_pool, ask)
            results = inline_results(question, answer, self.settings)
            self._inline_cache[question.lower()] = (time.monotonic(), results)
            while len(self._inline_cache) > CACHED_QUESTIONS:
                self._inline_cache.popitem(last=False)
        await query.answer(results, cache_time=cache_time, is_personal=True)

    def _cached(self, question: str) -> list[InlineQueryResultArticle] | None:
        got = self._inline_cache.get(question.lower())
        if got is None or time.monotonic() - got[0] > self.settings.telegram_inline_cache:
            return None
        self._inline_cache.move_to_end(question.lower())
        return got[1]


def inline_results(question: str, answer: Answer, settings: Settings) -> list[InlineQueryResultArticle]:
    """The answer; the answer headed by the question; its first sentence alone (only its own sources). One result
    when the articles do not cover the question."""
    preview = answer_preview(answer, settings)
    full = render_answer(answer)
    summary = answer.lead or answer.text
    results = [_article("answer", _title(summary), _sources_line(answer), full, preview)]
    if not answer.found:
        return results
    asked = f"<b>Q: {escape(question)}</b>\n\n{full}"
    results.append(_article("asked", f"Q: {_title(question)}", "the answer, headed by the question", asked, preview))
    first = (split(answer.text) or [answer.text])[0]
    cited = [c for c in answer.citations if f"[{c.n}]" in first] or answer.citations[:1]
    short = Answer(first, cited, answer.answerer, lead=answer.lead)
    results.append(_article("short", _title(answer.lead or first), "in one sentence", render_answer(short), preview))
    return results


def _article(rid: str, title: str, description: str, html: str, preview=NO_PREVIEW) -> InlineQueryResultArticle:
    text = split_html(html, LIMIT)[0]  # one message: a long answer is cut at a paragraph
    content = InputTextMessageContent(text, parse_mode=ParseMode.HTML, link_preview_options=preview)
    return InlineQueryResultArticle(rid, title, content, description=description)


def _title(text: str, size: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rsplit(" ", 1)[0] + "…"


def _sources_line(answer: Answer) -> str:
    cited: list[Citation] = answer.citations
    if not cited:
        return "no sources"
    return f"{len(cited)} source{'s' if len(cited) != 1 else ''}: " + "; ".join(c.title for c in cited)[:120]


def _help(username: str | None) -> InlineQueryResultArticle:
    text = f"Type a question after @{escape(username or 'bot')}, e.g. <i>@{escape(username or 'bot')} what did the "
    text += "central bank decide?</i>, and pick an answer to send it here with its sources."
    return _article("help", HELP_TITLE, "type a question after the bot's name", text)


def _access(user_id: int) -> InlineQueryResultArticle:
    text = (
        "This bot answers only the people its operator allows. To get access, send them your Telegram user id: "
        f"<code>{user_id}</code> (for TELEGRAM_ALLOWED_USERS)."
    )
    return _article("access", ACCESS_TITLE, f"ask its operator; your user id is {user_id}", text)


def _slow_down() -> InlineQueryResultArticle:
    text = "You're asking faster than I can keep up — please wait a minute before the next question."
    return _article("slow", "Too many questions", "please wait a minute", text)
