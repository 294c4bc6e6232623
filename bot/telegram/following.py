"""Followed sources from the chat (admins): /follow, /unfollow, /following, and the JobQueue job that polls them.

ingest/follow.py keeps the list and makes one poll; this schedules polls and translates replies.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.telegram.access import Access
from bot.telegram.chat import send_html
from bot.telegram.render import escape

if TYPE_CHECKING:
    from bot.engine import Engines
    from ingest.follow import Following

log = logging.getLogger(__name__)

FOLLOW_TICK = 5.0  # seconds between looks at the follow list (a SQLite read); sources are polled when due


class FollowCommands:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    engines: Engines
    access: Access
    following: Following | None  # the configured collection's; None when the bot has no job queue
    _polling: bool
    collection_for: Callable[[int], str]  # collections.py

    def following_for(self, chat_id: int) -> Following | None:
        """The followed sources of the chat's collection (None when following is off)."""
        return None if self.following is None else self.engines.following(self.collection_for(chat_id))

    async def follow_tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Start a poll of the due sources unless one is running; the job returns at once."""
        if self.following is None or self._polling:
            return
        self._polling = True
        loop = asyncio.get_running_loop()

        def poll() -> None:
            # a thread of its own (daemon: a long first poll never holds up shutdown, and ingest is kill-safe); it is
            # reniced for the poll, so it must not be a pool thread that later serves questions
            try:
                for name, r in self.engines.poll_due():
                    (log.warning if r.outcome == "failed" else log.info)("follow [%s]: %s", name, r.line())
            except Exception:  # noqa: BLE001 - a poll must never stop the bot; the next tick tries again
                log.exception("polling the followed sources failed")
            finally:
                try:
                    loop.call_soon_threadsafe(setattr, self, "_polling", False)
                except RuntimeError:  # the bot stopped meanwhile
                    pass

        threading.Thread(target=poll, name="articlebot-follow-poll", daemon=True).start()

    async def stop_following(self, app: Application | None = None) -> None:
        """Cut a running poll short when the bot stops (its in-flight requests are closed)."""
        if self.following is not None:
            self.engines.close()

    async def _admin_args(self, update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str) -> list[str] | None:
        """The command's arguments when an admin sent it in a bot that follows sources; None once refused."""
        if not await self.access.gate(update):
            return None
        if not self.access.is_admin(update):
            await update.effective_message.reply_text("Only the bot's admins can change what it follows.")
            return None
        if self.following is None:
            await update.effective_message.reply_text("Following is off in this bot (no job queue).")
            return None
        if usage and not context.args:
            await update.effective_message.reply_text(usage)
            return None
        return list(context.args or [])

    async def on_follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/follow URL [every]: follow a feed or page; checked at once, then every interval."""
        from ingest.follow import FollowError, format_every

        args = await self._admin_args(
            update, context, "Usage: /follow URL [every, e.g. 30m, 2h, 1d] — an RSS/Atom feed or a web page."
        )
        if args is None:
            return
        url, every = args[0], (args[1] if len(args) > 1 else None)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            await update.effective_message.reply_text(
                "I can follow http(s) feeds and pages; folders are followed "
                "by the operator with <code>articlebot follow add</code>."
            )
            return
        try:
            following = await asyncio.to_thread(self.following_for, update.effective_chat.id)
            followed, new = await asyncio.to_thread(following.add, url, every)
        except FollowError as exc:
            await update.effective_message.reply_text(escape(str(exc)))  # it quotes the admin's URL: HTML parse mode
            return
        if new:
            context.job_queue.run_once(self.follow_tick, 0)
        await update.effective_message.reply_text(
            f"{'Following' if new else 'Already following'} {escape(followed.source)}, checked every "
            f"{format_every(followed.every)}." + (" First check now; /following shows how it went." if new else "")
        )

    async def on_unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/unfollow URL: stop following; the articles already added stay."""
        args = await self._admin_args(update, context, "Usage: /unfollow URL")
        if args is None:
            return
        following = await asyncio.to_thread(self.following_for, update.effective_chat.id)
        gone = await asyncio.to_thread(following.remove, args[0])
        await update.effective_message.reply_text(
            f"Stopped following {escape(args[0])}; its articles stay." if gone else f"I don't follow {escape(args[0])}."
        )

    async def on_following(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/following: each followed source with its last check and what it added."""
        from ingest.follow import format_every

        if await self._admin_args(update, context, "") is None:
            return
        following = await asyncio.to_thread(self.following_for, update.effective_chat.id)
        follows = await asyncio.to_thread(following.list.all)
        if not follows:
            await update.effective_message.reply_text("I follow nothing yet. Add a feed with /follow URL.")
            return
        lines = [f"<b>Following {len(follows)} source{'s' if len(follows) != 1 else ''}:</b>"]
        for f in follows:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(f.last_check)) if f.last_check else "not yet"
            state = f"error: {escape(f.last_error)}" if f.failures else ("ok" if f.last_check else "waiting")
            lines.append(
                f"• {escape(f.source)} — every {format_every(f.every)}; last checked {when} ({state}); "
                f"{f.articles_added} articles added; next check "
                f"{time.strftime('%H:%M UTC', time.gmtime(f.next_check))}"
            )
        await send_html(update.effective_message, "\n".join(lines))
