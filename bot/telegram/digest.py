"""The daily digest from the chat: /digest HH:MM [Area/City], /digest off, and the JobQueue jobs that send it.

bot/news/digests.py keeps each chat's setting and makes the digest; here each setting is one JobQueue job (run_daily
at the chat's time in its time zone), scheduled again from the saved settings at every start. DIGEST_PERIOD (tests,
demos) replaces the day with a number of seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, JobQueue

from bot.news.digests import DigestError, Digests, DigestSetting, make_digest
from bot.news.watches import Watches
from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.news_render import render_digest
from bot.telegram.render import LIMIT, escape, split_html

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

USAGE = (
    "Usage: /digest HH:MM [time zone], e.g. <code>/digest 07:30</code> or <code>/digest 07:30 Europe/Oslo</code>: "
    "each day at that time, the new articles (grouped by what this chat watches). <code>/digest off</code> stops it."
)


class DigestCommands:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    settings: Settings
    access: Access
    watches: Watches
    digests: Digests

    engine_for: Callable[[int], Engine]  # collections.py: the one place a chat is routed

    def start_digests(self, app: Application) -> None:
        """Schedule every chat's saved digest (a restart keeps them)."""
        assert app.job_queue is not None
        for setting in self.digests.all():
            self._schedule(app.job_queue, setting)

    def _schedule(self, jobs: JobQueue, setting: DigestSetting) -> None:
        name = f"digest {setting.chat}"
        for job in jobs.get_jobs_by_name(name):
            job.schedule_removal()
        period = self.settings.digest_period
        if period > 0:
            jobs.run_repeating(self.digest_job, interval=period, first=period, name=name, chat_id=setting.chat)
        else:
            jobs.run_daily(self.digest_job, setting.time, name=name, chat_id=setting.chat)

    async def digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A chat's digest is due: send its news since the last one, or nothing when there is none."""
        chat = context.job.chat_id
        setting = await asyncio.to_thread(self.digests.get, chat)
        if setting is None:  # turned off meanwhile
            context.job.schedule_removal()
            return
        try:
            digest, until = await asyncio.to_thread(make_digest, self.engine_for(chat), self.watches, setting)
        except Exception:  # noqa: BLE001 - the next day tries again, from the same place
            log.exception("making the digest for chat %s failed", chat)
            return
        if digest.count:
            try:
                for part in split_html(render_digest(digest, setting.tz), LIMIT):
                    await context.bot.send_message(chat, part)
            except TelegramError as exc:  # e.g. the bot was removed from the chat: tried again next time
                log.warning("could not send the digest to chat %s: %s", chat, exc)
                return
        await asyncio.to_thread(self.digests.done, chat, until)

    async def on_digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/digest HH:MM [time zone] | off: the day's new articles at that time."""
        if not await self.access.gate(update):
            return
        message, chat, args = update.effective_message, update.effective_chat.id, list(context.args or [])
        if args[:1] == ["off"]:
            gone = await asyncio.to_thread(self.digests.remove, chat)
            for job in context.job_queue.get_jobs_by_name(f"digest {chat}"):
                job.schedule_removal()
            await message.reply_text("Daily digest stopped." if gone else "This chat gets no digest.")
            return
        if not args:
            current = await asyncio.to_thread(self.digests.get, chat)
            await message.reply_text(
                f"This chat's digest comes daily at {current.at} ({escape(current.tz)}).\n" + USAGE
                if current
                else USAGE
            )
            return
        current = await asyncio.to_thread(self.digests.get, chat)
        tz = args[1] if len(args) > 1 else (current.tz if current else self.settings.telegram_timezone)
        try:
            setting = await asyncio.to_thread(
                self.digests.set, chat, args[0], tz, self.engine_for(chat).settings.collection
            )
        except DigestError as exc:
            await message.reply_text(escape(str(exc)))
            return
        self._schedule(context.job_queue, setting)
        await message.reply_text(
            f"Daily digest at {setting.at} ({escape(setting.tz)}): the articles new since the last one, grouped by "
            "what this chat watches (/watches); nothing on a day without news. <code>/digest off</code> stops it."
        )
