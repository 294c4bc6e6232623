"""Adding articles from the chat, for admins: /ingest URL and document uploads.

An upload is written to a folder of its own under <data dir>/uploads, ingested, and removed: the store keeps the text,
and nothing piles up under the data dir. Folders left by a bot that was killed mid-ingest are swept at start.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.chat import keep_typing, send_html
from bot.telegram.render import escape

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".json"}
ADMIN_ONLY = "Only the bot's admins can add articles."
STALE_UPLOAD = 24 * 3600.0  # an upload folder this old is a leftover of a killed bot


def sweep_uploads(data_dir: Path, now: float | None = None) -> int:
    """Remove upload folders left behind by a bot killed while ingesting them; returns how many went."""
    uploads = Path(data_dir) / "uploads"
    now = time.time() if now is None else now
    gone = 0
    for folder in uploads.glob("*") if uploads.is_dir() else []:
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > STALE_UPLOAD:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        except OSError:
            continue
    return gone


class AdminIngest:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    settings: Settings
    engine: Engine
    access: Access
    ingest_pool: Executor
    engine_for: Callable[[int], Engine]  # the chat's collection's engine (collections.py)

    async def on_ingest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ingest URL [URL ...]: add pages or feeds (admins)."""
        if not await self.access.gate(update):
            return
        message = update.effective_message
        if not self.access.is_admin(update):
            await message.reply_text(ADMIN_ONLY)
            return
        urls = [a for a in (context.args or []) if urlsplit(a).scheme in ("http", "https")]
        if not urls:
            await message.reply_text("Usage: /ingest URL [URL ...] — a web page or an RSS/Atom feed.")
            return
        await self._ingest(message, urls)

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file sent by an admin: ingested, then its copy removed."""
        message = update.effective_message
        if message.chat.type != ChatType.PRIVATE and not (
            message.caption and context.bot.username and f"@{context.bot.username}".lower() in message.caption.lower()
        ):
            return  # files shared in a group are not for the bot unless it is mentioned
        if not await self.access.gate(update):
            return
        if not self.access.is_admin(update):
            await message.reply_text(ADMIN_ONLY)
            return
        doc = message.document
        name = Path(doc.file_name or "upload.txt").name
        # keep the original name (it becomes the article's title) but nothing that could escape the folder
        name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "upload.txt"
        if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            await message.reply_text(
                f"I can add {' '.join(sorted(UPLOAD_SUFFIXES))} files; {escape(name)} is not one of them."
            )
            return
        if doc.file_size and doc.file_size > self.settings.max_file_mb * 1024 * 1024:
            await message.reply_text(f"That file is larger than {self.settings.max_file_mb:g} MB; I skipped it.")
            return
        uploads = Path(self.settings.data_dir) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{message.chat_id}-{message.message_id}-", dir=uploads))
        try:
            tg_file = await doc.get_file()
            await tg_file.download_to_drive(folder / name)
            report = await self._run_ingest(message, [str(folder / name)])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        await send_html(message, f"<pre>{escape(report.summary())}</pre>")

    async def _ingest(self, message: Message, sources: list[str]) -> None:
        report = await self._run_ingest(message, sources)
        await send_html(message, f"<pre>{escape(report.summary())}</pre>")

    async def _run_ingest(self, message: Message, sources: list[str]):
        typing = asyncio.create_task(keep_typing(message))
        try:
            # one ingest at a time (the engine serialises them anyway): a queue of /ingest never holds the threads
            # that /help and /latest use
            return await asyncio.get_running_loop().run_in_executor(
                self.ingest_pool, lambda: self.engine_for(message.chat_id).ingest(sources)
            )
        finally:
            typing.cancel()
