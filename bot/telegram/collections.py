"""A chat's collection: /collection (which one this chat answers from), /collection NAME and /forget WHAT (admins).

Which collection a chat uses is bot/telegram/bindings.py's business, each collection's engine bot/engine.py's; the
handlers only translate.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.access import Access
from bot.telegram.bindings import ChatBindings
from bot.telegram.chat import send_html
from bot.telegram.render import escape
from ingest.wording import plural
from vectorstore.store import StoreError

if TYPE_CHECKING:
    from bot.engine import Engine, Engines

NOT_ADMIN = "Only the bot's admins can change which collection this chat uses."
FORGET_USAGE = (
    "Usage: /forget WHAT — an article's link as /latest or /sources show it (a URL or a file's path), "
    "or a URL prefix for every article under it."
)


class CollectionCommands:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    engines: Engines
    bindings: ChatBindings
    access: Access
    ingest_pool: Executor

    def collection_for(self, chat_id: int) -> str:
        return self.bindings.collection_for(chat_id)

    def engine_for(self, chat_id: int) -> Engine:
        """The engine of the chat's collection (opened the first time a chat needs it: call off the event loop)."""
        return self.engines.get(self.collection_for(chat_id))

    async def on_collection(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/collection: which collection this chat answers from; /collection NAME: bind it (admins)."""
        if not await self.access.gate(update):
            return
        message = update.effective_message
        if not context.args:
            name, how = await asyncio.to_thread(self.bindings.binding, message.chat_id)
            text = f"This chat answers from the collection <b>{escape(name)}</b> ({how})."
            if self.access.is_admin(update):
                names = await asyncio.to_thread(self.engines.names)
                text += f"\nCollections: {escape(', '.join(names) or name)}. Change it with /collection NAME."
            await message.reply_text(text)
            return
        if not self.access.is_admin(update):
            await message.reply_text(NOT_ADMIN)
            return
        try:
            name = await asyncio.to_thread(
                self.bindings.bind, message.chat_id, context.args[0], update.effective_user.id
            )
            engine = await asyncio.to_thread(self.engines.get, name)
            stats = await asyncio.to_thread(engine.stats)
        except StoreError as exc:
            await message.reply_text(escape(str(exc)))
            return
        # a follow-up must not carry a subject over from the other collection's articles
        await asyncio.to_thread(engine.reset, f"tg:{message.chat_id}")
        holds = (
            plural(stats.articles, "article")
            if stats.articles
            else "no articles yet: add some with /ingest URL or by sending a file"
        )
        await message.reply_text(f"This chat now answers from the collection <b>{escape(name)}</b> ({holds}).")

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/forget WHAT: remove articles from this chat's collection (admins)."""
        if not await self.access.gate(update):
            return
        message = update.effective_message
        if not self.access.is_admin(update):
            await message.reply_text("Only the bot's admins can forget articles.")
            return
        what = " ".join(context.args or []).strip()
        if not what:
            await message.reply_text(FORGET_USAGE)
            return
        chat = message.chat_id

        def forget():
            engine = self.engine_for(chat)
            return engine.forget(what).summary(what, engine.store.collection)

        # on the ingest worker: one write at a time, and the reading commands stay free meanwhile
        summary = await asyncio.get_running_loop().run_in_executor(self.ingest_pool, forget)
        await send_html(message, escape(summary))
