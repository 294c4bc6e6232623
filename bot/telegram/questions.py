"""Questions (private messages, mentions and replies in groups, /ask) and the reading commands: /help, /sources,
/latest, /reset.

Answers are made on the front end's question pool (bounded: see front.QUESTION_WORKERS), the reading commands on the
event loop's default executor, so /help, /sources and /latest answer while every question worker waits for a slow
model. One question at a time per chat, so a follow-up sees the answer to the question before it (turns.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ContextTypes

from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.answers import AnswerSending
from bot.telegram.bridge import ThreadStream
from bot.telegram.chat import keep_typing, reply_to, send_html
from bot.telegram.render import escape, render_latest, render_sources
from bot.telegram.streaming import show_stream
from bot.telegram.throttle import Throttle
from bot.telegram.turns import ChatTurn, signalling, tell_if_queued

if TYPE_CHECKING:
    from bot.engine import Engine
    from ingest.follow import Following

SLOW_DOWN = "You're asking faster than I can keep up — please wait a minute before the next question."
HELP_COMMANDS = (
    "/sources — the sources of my last answer\n/latest — the newest articles\n"
    "/reset — forget our conversation\n/ask QUESTION — ask in a group\n"
    "/watch TOPIC — post each new article about it here; /watches; /unwatch ID\n"
    "/digest 07:30 — the day's new articles at that time; /digest off\n"
    "In any chat: type @{bot} and a question to share an answer"
)

log = logging.getLogger(__name__)


class Questions(AnswerSending):
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    settings: Settings
    engine: Engine
    access: Access
    throttle: Throttle
    chat_locks: weakref.WeakValueDictionary[int, ChatTurn]
    streaming: bool
    drafts: bool  # a private chat's streamed answer grows in a draft (False once the Bot API refused one)
    question_pool: Executor
    following: Following | None

    engine_for: Callable[[int], Engine]  # the chat's collection's engine (collections.py)
    following_for: Callable[[int], Following | None]  # its followed sources (following.py)

    def conversation(self, message: Message) -> str:
        return f"tg:{message.chat_id}"

    def _chat_lock(self, chat_id: int) -> ChatTurn:
        turn = self.chat_locks.get(chat_id)
        if turn is None:
            turn = self.chat_locks[chat_id] = ChatTurn()
        return turn

    async def answer(self, message: Message, question: str) -> None:
        if not question.strip():
            await message.reply_text(
                "Ask me a question about the articles, e.g. <code>/ask what happened this week?</code>",
                reply_parameters=reply_to(message),
            )
            return
        user = message.from_user
        allowed, warn = self.throttle.allow(user.id if user else message.chat_id)
        if not allowed:
            if warn:
                await message.reply_text(SLOW_DOWN, reply_parameters=reply_to(message))
            return
        turn = self._chat_lock(message.chat_id)
        started = asyncio.Event()  # a worker has begun this answer
        notice = asyncio.create_task(tell_if_queued(message, turn, started))
        try:
            await turn.acquire()
        except BaseException:
            notice.cancel()
            raise
        work: asyncio.Future | None = None  # the worker making this answer
        typing = asyncio.create_task(keep_typing(message, started))
        released = False
        try:
            if self.streaming:
                make = signalling(
                    started, lambda: self.engine_for(message.chat_id).stream(self.conversation(message), question)
                )
                stream = ThreadStream(make, self.question_pool)
                work = stream.done
                await notice  # said, if at all, before the answer's first message
                try:
                    final, live = await show_stream(message, stream, self.drafts)
                    self.drafts = self.drafts and not live.refused  # an older Bot API: edits from now on
                    await self.send_answer(message, question, final, live.shown)
                finally:
                    stream.cancel()  # a no-op when it ended; otherwise the worker stops at its next item
            else:
                work = asyncio.get_running_loop().run_in_executor(
                    self.question_pool,
                    signalling(
                        started, lambda: self.engine_for(message.chat_id).ask(self.conversation(message), question)
                    ),
                )
                await notice
                answer = await asyncio.shield(work)  # cancelling this handler must not unlock a busy chat
                typing.cancel()
                # the chat's next question is answered while this answer goes out (Telegram may hold it back a
                # while); its answer follows this one
                before, mine = turn.next_delivery()
                turn.release()
                released = True
                try:
                    if before is not None:
                        await before
                    await self.send_answer(message, question, answer, None)
                finally:
                    mine.set_result(None)
        finally:
            notice.cancel()
            typing.cancel()
            if released:
                pass
            elif work is not None and not work.done():
                work.add_done_callback(lambda _: turn.release())  # the chat's next question waits for the worker
            else:
                turn.release()

    # --- handlers ----------------------------------------------------------------------------
    def addressed(self, message: Message, bot_id: int, username: str) -> str | None:
        """The question in a message meant for the bot (mention stripped), or None if it isn't for the bot."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        mention = f"@{username}".lower() if username else None
        mentioned = bool(mention) and any(
            value.lower() == mention for value in message.parse_entities([MessageEntityType.MENTION]).values()
        )
        replied = bool(
            message.reply_to_message
            and message.reply_to_message.from_user
            and message.reply_to_message.from_user.id == bot_id
        )
        if not (mentioned or replied):
            return None
        if mention:
            text = re.sub(re.escape(mention) + r"\b[,:]?", " ", text, flags=re.I)
        return " ".join(text.split())

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message: a question when it is meant for the bot."""
        message = update.effective_message
        question = self.addressed(message, context.bot.id, context.bot.username)
        if question is None:
            return  # group chatter not meant for the bot
        if not await self.access.gate(update):
            return
        await self.answer(message, question)

    async def on_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask QUESTION."""
        if not await self.access.gate(update):
            return
        await self.answer(update.effective_message, " ".join(context.args or []))

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: the help text; a stranger is told their id every time they ask."""
        if await self.access.gate(update, always_tell=True):
            await self._help(update, context)

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/help: what I know and how to ask."""
        if await self.access.gate(update):
            await self._help(update, context)

    async def _help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat.id
        stats = await asyncio.to_thread(lambda: self.engine_for(chat).stats())
        if stats.articles:
            span = (
                f", published {escape(stats.first_published)} to {escape(stats.last_published)}"
                if stats.first_published
                else ""
            )
            know = f"I know <b>{stats.articles}</b> articles{span}."
            if stats.last_published:
                know += f" Current as of {escape(stats.last_published)} (the newest article)."
        else:
            know = "I have no articles yet; an admin can add some with /ingest URL or by sending a file."
        private = update.effective_chat.type == ChatType.PRIVATE
        how = (
            "Just send me a question"
            if private
            else f"Mention me (@{escape(context.bot.username)}), reply to one of my answers, or use /ask"
        )
        following = self.following_for(chat)
        followed = len(await asyncio.to_thread(following.list.all)) if following else 0
        if followed:
            know += f" I follow {followed} source{'s' if followed != 1 else ''} and add new articles as they appear."
        text = (
            f"Hi! I answer questions about news articles and cite my sources.\n\n{know}\n\n"
            f"{how}, e.g. <i>What did the central bank decide?</i> Follow-up questions work too.\n\n"
            + HELP_COMMANDS.format(bot=escape(context.bot.username or "bot"))
        )
        if self.access.is_admin(update):
            text += "\n/ingest URL — add a page or feed (or send me a .txt .md .html .pdf .json .jsonl file)"
            text += "\n/follow URL [30m] — keep a feed or page current; /unfollow URL; /following"
            text += "\n/collection [NAME] — which collection this chat answers from; /forget WHAT — remove articles"
        await update.effective_message.reply_text(text)

    async def on_reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/reset: forget this chat's conversation."""
        if not await self.access.gate(update):
            return
        chat = update.effective_chat.id
        await asyncio.to_thread(lambda: self.engine_for(chat).reset(self.conversation(update.effective_message)))
        await update.effective_message.reply_text("Done — I've forgotten our conversation. Ask me something new.")

    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the sources of this chat's last answer, in full (file paths on the server for admins only)."""
        if not await self.access.gate(update):
            return
        chat = update.effective_chat.id
        last = (await asyncio.to_thread(self.engine_for, chat)).last_answer(self.conversation(update.effective_message))
        if last is None:
            await update.effective_message.reply_text(
                "I haven't answered anything here yet. /latest lists the newest articles."
            )
            return
        await send_html(update.effective_message, render_sources(last, show_paths=self.access.is_admin(update)))

    async def on_latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/latest: the newest articles."""
        if not await self.access.gate(update):
            return
        engine = await asyncio.to_thread(self.engine_for, update.effective_chat.id)
        articles = await asyncio.to_thread(engine.recent_articles, 10)
        if not articles:
            await update.effective_message.reply_text("I have no articles yet.")
            return
        stats = await asyncio.to_thread(engine.stats)
        await send_html(update.effective_message, render_latest(articles, stats.articles))
