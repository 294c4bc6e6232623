"""Watched topics from the chat: /watch TOPIC, /watches, /unwatch ID, and the job that sends their alerts.

bot/news/watches.py keeps the watches and finds the matches; this schedules the look at new articles and sends what it
found. A look happens right after every write through the engine (a followed source's poll, /ingest, an upload),
once at start (articles stored while the bot was down) and every WATCH_RECHECK seconds (what another process stored,
beside a Chroma server).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.news.watches import TERMINAL, Alert, Overflow, Watch, WatchError, Watches
from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.answers import preview_for
from bot.telegram.news_render import alert_text, render_watches
from bot.telegram.render import escape

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.engine import Engine

log = logging.getLogger(__name__)

WATCH_RECHECK = 60.0  # seconds between looks for articles stored by another process
CONSUMER = "telegram"  # the bot's mark in the watch state: where its last look at new articles ended


class WatchCommands:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    settings: Settings
    engine: Engine
    access: Access
    watches: Watches
    engine_for: Callable[[int], Engine]  # collections.py: the one place a chat is routed
    _scanning: bool
    _rescan: bool
    _loop: asyncio.AbstractEventLoop | None

    def start_watching(self, app: Application) -> None:
        """Look for new articles at start, every WATCH_RECHECK seconds and after every write through the engine."""
        jobs = app.job_queue
        assert jobs is not None
        jobs.run_repeating(self.watch_tick, interval=WATCH_RECHECK, first=1.0, name="watch")

        def after_write() -> None:
            """In the writing thread: a look now (before the first tick the loop is not known; that tick looks)."""
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: jobs.run_once(self.watch_tick, 0.0))

        self.engine.on_write.append(after_write)

    async def watch_tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Match the new articles against the watches and send the alerts; one look at a time."""
        self._loop = asyncio.get_running_loop()
        if self._scanning:
            self._rescan = True  # a write during a look: look again after it, not at the next recheck
            return
        self._scanning = True
        try:
            found = await asyncio.to_thread(self._scan)
        except Exception:  # noqa: BLE001 - a failed look must not stop the bot; the next one tries again
            log.exception("looking for new articles on watched topics failed")
            return
        finally:
            self._scanning = False
            if self._rescan:
                self._rescan = False
                context.job_queue.run_once(self.watch_tick, 0.0)
        for item in found:
            url = item.match.article.link if isinstance(item, Alert) else ""
            try:
                await context.bot.send_message(
                    item.watch.chat, alert_text(item), link_preview_options=preview_for(url, self.settings)
                )
            except TelegramError as exc:  # e.g. the bot was removed from the chat
                log.warning("could not send an alert for watch #%s to chat %s: %s", item.watch.id, item.watch.chat, exc)

    def _scan(self) -> list[Alert | Overflow]:
        """Each engine that serves a watching chat looks at its new articles for the chats it serves."""
        chats = {w.chat for w in self.watches.all() if w.chat != TERMINAL}
        engines = {id(e): e for e in map(self.engine_for, chats)}
        found: list[Alert | Overflow] = []
        for engine in engines.values():

            def served(watch: Watch, engine: Engine = engine) -> bool:
                return watch.chat != TERMINAL and self.engine_for(watch.chat) is engine

            found += self.watches.scan(engine, CONSUMER, served)
        return found

    # --- commands ----------------------------------------------------------------------------
    async def on_watch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/watch TOPIC: post each new article about the topic in this chat."""
        if not await self.access.gate(update):
            return
        chat = update.effective_chat.id
        topic = " ".join(context.args or [])
        if not topic.strip():
            await update.effective_message.reply_text(
                "Usage: /watch TOPIC, e.g. <code>/watch ferry strike</code>: I post each new article about it here."
            )
            return
        collection = self.engine_for(chat).settings.collection
        try:
            watch, new = await asyncio.to_thread(self.watches.add, chat, topic, collection)
        except WatchError as exc:
            await update.effective_message.reply_text(escape(str(exc)))
            return
        await update.effective_message.reply_text(_watching(watch, new, self.watches.alerts_per_hour))

    async def on_watches(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/watches: this chat's watched topics with their ids."""
        if not await self.access.gate(update):
            return
        watches = await asyncio.to_thread(self.watches.all, update.effective_chat.id)
        await update.effective_message.reply_text(render_watches(watches, self.watches.alerts_per_hour))

    async def on_unwatch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/unwatch ID: stop watching a topic in this chat."""
        if not await self.access.gate(update):
            return
        raw = (context.args or [""])[0].lstrip("#")
        if not raw.isdigit():
            await update.effective_message.reply_text("Usage: /unwatch ID — /watches shows the ids.")
            return
        gone = await asyncio.to_thread(self.watches.remove, int(raw), update.effective_chat.id)
        await update.effective_message.reply_text(
            f"Stopped watching “{escape(gone.topic)}”."
            if gone
            else f"This chat has no watch #{int(raw)}; see /watches."
        )


def _watching(watch: Watch, new: bool, per_hour: int) -> str:
    if not new:
        return f"Already watching “{escape(watch.topic)}” here (#{watch.id})."
    return (
        f"Watching “{escape(watch.topic)}” (#{watch.id}): each new article about it is posted here, at most "
        f"{per_hour} an hour. /watches lists what this chat watches; /unwatch {watch.id} stops it."
    )
