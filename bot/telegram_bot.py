"""The Telegram front end: translates Telegram updates into Engine calls and answers into Telegram HTML.

No answering logic lives here. What does: who may talk to the bot, when a group message is meant for it, per-user
throttling, typing indicators, optional edit-in-place streaming for the LLM answerer, document uploads by admins,
and keeping the bot token out of logs.
"""
from __future__ import annotations

import asyncio
import logging
import re
import secrets
import sys
import tempfile
import threading
import time
import weakref
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CommandHandler, ContextTypes, Defaults,
                          MessageHandler, filters)

from bot.answer import Answer
from bot.settings import Settings
from bot.telegram_render import LIMIT, escape, render_answer, render_sources, split_html

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
UPLOAD_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".json"}
SORRY = "Sorry, something went wrong — please try again."
REFUSAL = "Sorry, this bot is private. Ask its operator to add you."
SLOW_DOWN = "You're asking faster than I can keep up — please wait a minute before the next question."
ADMIN_ONLY = "Only the bot's admins can add articles."
TYPING_EVERY = 4.0       # Telegram shows "typing…" for about 5 s
MAX_REFUSED = 100_000   # strangers remembered as already refused
EDIT_EVERY = 1.0         # edit-in-place at most this often (Telegram throttles edits per chat)

COMMANDS = [
    BotCommand("ask", "ask a question about the articles"),
    BotCommand("help", "what I know and how to ask"),
    BotCommand("sources", "the sources of my last answer, in full"),
    BotCommand("latest", "the newest articles I have"),
    BotCommand("reset", "forget this chat's conversation"),
    BotCommand("ingest", "add an article or feed by URL (admins)"),
    BotCommand("follow", "keep a feed or page current (admins)"),
    BotCommand("unfollow", "stop following a source (admins)"),
    BotCommand("following", "followed sources and how their last check went (admins)"),
]
FOLLOW_TICK = 5.0        # seconds between looks at the follow list (a SQLite read); sources are polled when due


class TokenFilter(logging.Filter):
    """Replaces the bot token in log records: httpx logs request URLs, and the token is part of every URL."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's problem, not ours
            return True
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def install_token_filter(token: str) -> TokenFilter:
    """On the root handlers (they see every propagated record) and on the chatty loggers themselves."""
    flt = TokenFilter(token)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(flt)
    for name in ("", "httpx", "httpcore", "telegram", "telegram.ext"):
        logging.getLogger(name).addFilter(flt)
    return flt


def token_problem(token: str | None) -> str | None:
    if not token:
        return "TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and set it in the environment or .env."
    if not TOKEN_RE.match(token.strip()):
        return "TELEGRAM_BOT_TOKEN does not look like a bot token (expected 123456:ABC-DEF..., as @BotFather gives it)."
    return None


class Throttle:
    """A sliding one-minute window per user; warns once per window instead of on every message."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.seen: dict[int, deque] = defaultdict(deque)
        self.warned: set[int] = set()
        self._swept = 0.0

    def allow(self, user_id: int, now: float | None = None) -> tuple[bool, bool]:
        """(allowed, should_warn)."""
        if self.per_minute <= 0:
            return True, False
        now = time.monotonic() if now is None else now
        if now - self._swept >= 60:
            self._sweep(now)
        window = self.seen[user_id]
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= self.per_minute:
            warn = user_id not in self.warned
            self.warned.add(user_id)
            return False, warn
        self.warned.discard(user_id)
        window.append(now)
        return True, False

    def _sweep(self, now: float) -> None:
        """Forget users quiet for a minute, so a public bot's memory does not grow with every user it ever saw."""
        self._swept = now
        for uid in [u for u, w in self.seen.items() if not w or now - w[-1] >= 60]:
            del self.seen[uid]
            self.warned.discard(uid)


class TelegramFrontEnd:
    """Handlers and the little state a chat front end needs; one per Application."""

    def __init__(self, settings: Settings, engine):
        self.settings = settings
        self.engine = engine
        self.throttle = Throttle(settings.telegram_user_rate)
        self.refused: set[tuple[str, int]] = set()
        # a chat's lock lives while a question in that chat holds or awaits it, then goes: a public bot's memory
        # does not grow with every chat it ever answered
        self.chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self.streaming = getattr(engine.answerer, "name", "") == "llm"
        self.following = None      # ingest.follow.Following, set by build_application
        self._polling = False

    # --- who may talk to the bot -------------------------------------------------------------
    @property
    def open_to_everyone(self) -> bool:
        s = self.settings
        # admins alone do not close the bot: TELEGRAM_ADMINS says who may add articles, not who may ask
        return not (s.telegram_allowed_users or s.telegram_allowed_chats)

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return bool(user and user.id in self.settings.telegram_admins)

    def allowed(self, update: Update) -> bool:
        s = self.settings
        if self.open_to_everyone:
            return True
        user, chat = update.effective_user, update.effective_chat
        return bool((user and (user.id in s.telegram_allowed_users or user.id in s.telegram_admins))
                    or (chat and chat.id in s.telegram_allowed_chats))

    async def gate(self, update: Update) -> bool:
        """True when the update may be served; otherwise refuse politely, once per user (or chat)."""
        if self.allowed(update):
            return True
        user, chat = update.effective_user, update.effective_chat
        key = ("user", user.id) if user else ("chat", chat.id if chat else 0)
        log.info("refused %s %s in chat %s", *key, chat.id if chat else "?")
        if key not in self.refused and update.effective_message:
            if len(self.refused) >= MAX_REFUSED:
                self.refused.clear()  # bounded: a stranger may hear the refusal twice, memory never grows
            self.refused.add(key)
            await update.effective_message.reply_text(REFUSAL)
        return False

    # --- sending -----------------------------------------------------------------------------
    @staticmethod
    def _reply_to(message: Message) -> ReplyParameters | None:
        # in a group, quote the question so the answer is visibly attached to it
        if message.chat.type != ChatType.PRIVATE:
            return ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
        return None

    async def send_html(self, message: Message, html: str) -> list[Message]:
        sent = []
        for i, part in enumerate(split_html(html, LIMIT)):
            sent.append(await message.get_bot().send_message(
                message.chat_id, part, reply_parameters=self._reply_to(message) if i == 0 else None,
                message_thread_id=message.message_thread_id if message.is_topic_message else None))
        return sent

    async def _typing(self, message: Message) -> None:
        try:
            while True:
                await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
                await asyncio.sleep(TYPING_EVERY)
        except asyncio.CancelledError:
            raise
        except TelegramError as exc:  # a missing typing indicator is not worth failing the answer
            log.debug("typing indicator failed: %s", exc)

    # --- answering ---------------------------------------------------------------------------
    def conversation(self, message: Message) -> str:
        return f"tg:{message.chat_id}"

    async def answer(self, message: Message, question: str) -> None:
        if not question.strip():
            await message.reply_text("Ask me a question about the articles, e.g. <code>/ask what happened this week?</code>",
                                     reply_parameters=self._reply_to(message))
            return
        user = message.from_user
        allowed, warn = self.throttle.allow(user.id if user else message.chat_id)
        if not allowed:
            if warn:
                await message.reply_text(SLOW_DOWN, reply_parameters=self._reply_to(message))
            return
        # one question at a time per chat, so a follow-up sees the answer to the question before it
        lock = self.chat_locks.get(message.chat_id)
        if lock is None:
            lock = self.chat_locks[message.chat_id] = asyncio.Lock()
        async with lock:
            typing = asyncio.create_task(self._typing(message))
            try:
                if self.streaming:
                    await self._answer_streaming(message, question)
                else:
                    answer = await asyncio.to_thread(self.engine.ask, self.conversation(message), question)
                    typing.cancel()
                    await self.send_html(message, render_answer(answer))
            finally:
                typing.cancel()

    async def _answer_streaming(self, message: Message, question: str) -> None:
        """Edit one message in place as text arrives (≤ 1 edit/s), then replace it with the rendered answer."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        conversation = self.conversation(message)

        def produce():
            try:
                for part in self.engine.stream(conversation, question):
                    loop.call_soon_threadsafe(queue.put_nowait, part)
            except BaseException as exc:  # noqa: BLE001 - handed to the event loop, which raises it
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=produce, name="articlebot-stream", daemon=True).start()
        text, draft, shown, last_edit, final = "", None, "", 0.0, None
        while True:
            item = await queue.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Answer):
                final = item
                continue
            text += item
            now = time.monotonic()
            preview = escape(text.strip())
            if preview and preview != shown and now - last_edit >= EDIT_EVERY and len(preview) < LIMIT - 2:
                try:
                    if draft is None:
                        draft = await message.get_bot().send_message(
                            message.chat_id, preview + " …", reply_parameters=self._reply_to(message))
                    else:
                        await draft.edit_text(preview + " …")
                    shown, last_edit = preview, now
                except BadRequest as exc:  # e.g. "message is not modified"; the final edit fixes it
                    log.debug("draft edit failed: %s", exc)
        if final is None:
            raise RuntimeError("the engine's stream ended without an answer")
        if draft is None:
            await self.send_html(message, render_answer(final))
            return
        parts = split_html(render_answer(final), LIMIT)
        await draft.edit_text(parts[0])
        for part in parts[1:]:
            await message.get_bot().send_message(message.chat_id, part)

    # --- handlers ----------------------------------------------------------------------------
    def addressed(self, message: Message, bot_id: int, username: str) -> str | None:
        """The question in a message meant for the bot (mention stripped), or None if it isn't for the bot."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        mention = f"@{username}".lower() if username else None
        mentioned = bool(mention) and any(value.lower() == mention for value in
                                          message.parse_entities([MessageEntityType.MENTION]).values())
        replied = bool(message.reply_to_message and message.reply_to_message.from_user
                       and message.reply_to_message.from_user.id == bot_id)
        if not (mentioned or replied):
            return None
        if mention:
            text = re.sub(re.escape(mention) + r"\b[,:]?", " ", text, flags=re.I)
        return " ".join(text.split())

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        question = self.addressed(message, context.bot.id, context.bot.username)
        if question is None:
            return  # group chatter not meant for the bot
        if not await self.gate(update):
            return
        await self.answer(message, question)

    async def on_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self.gate(update):
            return
        await self.answer(update.effective_message, " ".join(context.args or []))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self.gate(update):
            return
        stats = await asyncio.to_thread(self.engine.stats)
        if stats.articles:
            span = (f", published {escape(stats.first_published)} to {escape(stats.last_published)}"
                    if stats.first_published else "")
            know = f"I know <b>{stats.articles}</b> articles{span}."
            if stats.last_published:
                know += f" Current as of {escape(stats.last_published)} (the newest article)."
        else:
            know = "I have no articles yet; an admin can add some with /ingest URL or by sending a file."
        private = update.effective_chat.type == ChatType.PRIVATE
        how = ("Just send me a question" if private
               else f"Mention me (@{escape(context.bot.username)}), reply to one of my answers, or use /ask")
        followed = len(await asyncio.to_thread(self.following.list.all)) if self.following else 0
        if followed:
            know += f" I follow {followed} source{'s' if followed != 1 else ''} and add new articles as they appear."
        text = (f"Hi! I answer questions about news articles and cite my sources.\n\n{know}\n\n"
                f"{how}, e.g. <i>What did the central bank decide?</i> Follow-up questions work too.\n\n"
                "/sources — the sources of my last answer\n/latest — the newest articles\n/reset — forget our conversation\n/ask QUESTION — ask in a group")
        if self.is_admin(update):
            text += "\n/ingest URL — add a page or feed (or send me a .txt .md .html .pdf .json .jsonl file)"
            text += "\n/follow URL [30m] — keep a feed or page current; /unfollow URL; /following"
        await update.effective_message.reply_text(text)

    async def on_reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self.gate(update):
            return
        await asyncio.to_thread(self.engine.reset, self.conversation(update.effective_message))
        await update.effective_message.reply_text("Done — I've forgotten our conversation. Ask me something new.")

    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The sources of this chat's last answer, in full."""
        if not await self.gate(update):
            return
        last = self.engine.last_answer(self.conversation(update.effective_message))
        if last is None:
            await update.effective_message.reply_text("I haven't answered anything here yet. /latest lists the newest articles.")
            return
        await self.send_html(update.effective_message, render_sources(last))

    async def on_latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The newest articles."""
        if not await self.gate(update):
            return
        articles = await asyncio.to_thread(self.engine.recent_articles, 10)
        if not articles:
            await update.effective_message.reply_text("I have no articles yet.")
            return
        stats = await asyncio.to_thread(self.engine.stats)
        lines = [f"<b>Newest {len(articles)} of {stats.articles} articles:</b>"]
        for a in articles:
            title = escape(a.title or a.link)
            head = f'<a href="{escape(a.link)}">{title}</a>' if re.match(r"^https?://", a.link or "") else title
            when = ", ".join(escape(x) for x in (a.outlet, a.published) if x)
            lines.append(f"• {head}" + (f" — {when}" if when else ""))
        await self.send_html(update.effective_message, "\n".join(lines))

    async def on_ingest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await self.gate(update):
            return
        message = update.effective_message
        if not self.is_admin(update):
            await message.reply_text(ADMIN_ONLY)
            return
        urls = [a for a in (context.args or []) if urlsplit(a).scheme in ("http", "https")]
        if not urls:
            await message.reply_text("Usage: /ingest URL [URL ...] — a web page or an RSS/Atom feed.")
            return
        await self._ingest(message, urls)

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message.chat.type != ChatType.PRIVATE and not (message.caption and context.bot.username
                                                           and f"@{context.bot.username}".lower() in message.caption.lower()):
            return  # files shared in a group are not for the bot unless it is mentioned
        if not await self.gate(update):
            return
        if not self.is_admin(update):
            await message.reply_text(ADMIN_ONLY)
            return
        doc = message.document
        name = Path(doc.file_name or "upload.txt").name
        # keep the original name (it becomes the article's path/title) but nothing that could escape the folder
        name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "upload.txt"
        if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            await message.reply_text(f"I can add {' '.join(sorted(UPLOAD_SUFFIXES))} files; "
                                     f"{escape(name)} is not one of them.")
            return
        if doc.file_size and doc.file_size > self.settings.max_file_mb * 1024 * 1024:
            await message.reply_text(f"That file is larger than {self.settings.max_file_mb:g} MB; I skipped it.")
            return
        uploads = Path(self.settings.data_dir) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{message.chat_id}-{message.message_id}-", dir=uploads))
        target = folder / name
        tg_file = await doc.get_file()
        await tg_file.download_to_drive(target)
        await self._ingest(message, [str(target)])

    async def _ingest(self, message: Message, sources: list[str]) -> None:
        typing = asyncio.create_task(self._typing(message))
        try:
            report = await asyncio.to_thread(self.engine.ingest, sources)
        finally:
            typing.cancel()
        await self.send_html(message, f"<pre>{escape(report.summary())}</pre>")

    # --- following (ingest/follow.py keeps the list and polls; this schedules and translates) ---------------------
    async def follow_tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Start a poll of the due sources unless one is running; the job returns at once (the poll is a task)."""
        if self.following is None or self._polling:
            return
        self._polling = True
        loop = asyncio.get_running_loop()

        def poll() -> None:
            # a thread of its own (daemon: a long first poll never holds up shutdown, and ingest is kill-safe); it is
            # reniced for the poll, so it must not be a pool thread that later serves questions
            try:
                results = self.following.poll_due(self.engine.add_articles)
                for r in results:
                    (log.warning if r.outcome == "failed" else log.info)("follow: %s", r.line())
            except Exception:  # noqa: BLE001 - a poll must never stop the bot; the next tick tries again
                log.exception("polling the followed sources failed")
            finally:
                try:
                    loop.call_soon_threadsafe(setattr, self, "_polling", False)
                except RuntimeError:  # the bot stopped meanwhile
                    pass

        threading.Thread(target=poll, name="articlebot-follow-poll", daemon=True).start()

    async def stop_following(self, app: Application) -> None:
        """Cut a running poll short when the bot stops (its in-flight requests are closed)."""
        if self.following is not None:
            self.following.close()

    async def _admin_args(self, update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str) -> list[str] | None:
        if not await self.gate(update):
            return None
        if not self.is_admin(update):
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

        args = await self._admin_args(update, context, "Usage: /follow URL [every, e.g. 30m, 2h, 1d] — an RSS/Atom feed or a web page.")
        if args is None:
            return
        url, every = args[0], (args[1] if len(args) > 1 else None)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            await update.effective_message.reply_text("I can follow http(s) feeds and pages; folders are followed "
                                                      "by the operator with `articlebot follow add`.")
            return
        try:
            followed, new = await asyncio.to_thread(self.following.add, url, every)
        except FollowError as exc:
            await update.effective_message.reply_text(str(exc))
            return
        if new:
            context.job_queue.run_once(self.follow_tick, 0)
        await update.effective_message.reply_text(
            f"{'Following' if new else 'Already following'} {escape(followed.source)}, checked every "
            f"{format_every(followed.every)}." + (" First check now; /following shows how it went." if new else ""))

    async def on_unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/unfollow URL: stop following; the articles already added stay."""
        args = await self._admin_args(update, context, "Usage: /unfollow URL")
        if args is None:
            return
        gone = await asyncio.to_thread(self.following.remove, args[0])
        await update.effective_message.reply_text(
            f"Stopped following {escape(args[0])}; its articles stay." if gone else f"I don't follow {escape(args[0])}.")

    async def on_following(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/following: each followed source with its last check and what it added."""
        from ingest.follow import format_every

        if await self._admin_args(update, context, "") is None:
            return
        follows = await asyncio.to_thread(self.following.list.all)
        if not follows:
            await update.effective_message.reply_text("I follow nothing yet. Add a feed with /follow URL.")
            return
        lines = [f"<b>Following {len(follows)} source{'s' if len(follows) != 1 else ''}:</b>"]
        for f in follows:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(f.last_check)) if f.last_check else "not yet"
            state = f"error: {escape(f.last_error)}" if f.failures else ("ok" if f.last_check else "waiting")
            lines.append(f"• {escape(f.source)} — every {format_every(f.every)}; last checked {when} ({state}); "
                         f"{f.articles_added} articles added; next check "
                         f"{time.strftime('%H:%M UTC', time.gmtime(f.next_check))}")
        await self.send_html(update.effective_message, "\n".join(lines))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update is None and isinstance(context.error, TelegramError):
            # polling trouble (network, flood control, another instance polling): PTB retries by itself, with
            # backoff, so one line per failure is enough
            log.warning("polling Telegram failed, retrying with backoff: %s", context.error)
            return
        uid = update.update_id if isinstance(update, Update) else None
        log.error("error handling update %s: %s", uid, context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat:
            try:
                await context.bot.send_message(update.effective_chat.id, SORRY)
            except TelegramError as exc:
                log.warning("could not tell chat %s about the error: %s", update.effective_chat.id, exc)

    async def post_init(self, app: Application) -> None:
        await app.bot.set_my_commands(COMMANDS)
        log.info("Telegram bot @%s ready", app.bot.username)


def build_application(settings: Settings, engine, *, rate_limit: bool = True) -> Application:
    """The configured Application (not started). Tests and the benchmark drive it against a loopback Bot API server."""
    front = TelegramFrontEnd(settings, engine)
    builder = (ApplicationBuilder().token(settings.telegram_bot_token.strip())
               .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
               .concurrent_updates(64)
               .connection_pool_size(64).pool_timeout(10)
               .post_init(front.post_init))
    if rate_limit:
        # stays under Telegram's flood limits and retries RetryAfter (429) replies instead of dropping the answer
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(base)
        root, _, tail = base.rpartition("/")
        # a self-hosted Bot API serves files at /file/bot<token>/ next to /bot<token>/
        builder = builder.base_file_url(f"{root}/file/{tail}" if tail.startswith("bot") else f"{base}/file/bot")
    app = builder.build()
    app.bot_data["front"] = front
    app.add_handler(CommandHandler(["start", "help"], front.on_help))
    app.add_handler(CommandHandler("ask", front.on_ask))
    app.add_handler(CommandHandler("reset", front.on_reset))
    app.add_handler(CommandHandler("sources", front.on_sources))
    app.add_handler(CommandHandler("latest", front.on_latest))
    app.add_handler(CommandHandler("ingest", front.on_ingest))
    _add_following(app, front, settings)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, front.on_text))
    app.add_handler(MessageHandler(filters.Document.ALL, front.on_document))
    app.add_error_handler(front.on_error)
    return app


def _add_following(app: Application, front: TelegramFrontEnd, settings: Settings) -> None:
    """Admin commands for followed sources, and the JobQueue job that polls them in the background."""
    app.add_handler(CommandHandler("follow", front.on_follow))
    app.add_handler(CommandHandler("unfollow", front.on_unfollow))
    app.add_handler(CommandHandler("following", front.on_following))
    if app.job_queue is None:
        log.warning("python-telegram-bot[job-queue] is not installed: followed sources are not polled")
        return
    from ingest.follow import Following

    front.following = Following(settings)
    for problem in front.following.seed_problems:
        log.warning("%s", problem)
    app.job_queue.run_repeating(front.follow_tick, interval=FOLLOW_TICK, first=1.0, name="follow")
    previous = app.post_stop

    async def post_stop(application: Application) -> None:
        await front.stop_following(application)
        if previous:
            await previous(application)

    app.post_stop = post_stop


def run(settings: Settings) -> int:
    """`articlebot telegram`: long polling, or a webhook server when TELEGRAM_WEBHOOK_URL is set."""
    problem = token_problem(settings.telegram_bot_token)
    if problem:
        print(f"articlebot: {problem}", file=sys.stderr)
        return 2
    secret = settings.telegram_webhook_secret
    if settings.telegram_webhook_url and secret and not SECRET_RE.match(secret):
        print("articlebot: TELEGRAM_WEBHOOK_SECRET may only hold 1-256 letters, digits, '_' and '-' (Telegram's rule).",
              file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.strip()
    install_token_filter(token)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)  # an operator wants to see "ready" and refusals without -v
    from bot.engine import Engine
    from vectorstore.embeddings import EmbeddingError

    log.info("Loading the model and index…")
    engine = Engine.from_settings(settings)
    try:
        try:
            engine.warm()  # before polling, so the first question is not the one that waits for them
        except EmbeddingError as exc:
            print(f"articlebot: {exc}", file=sys.stderr)
            return 2
        app = build_application(settings, engine)
        front: TelegramFrontEnd = app.bot_data["front"]
        if front.open_to_everyone:
            log.warning("Neither TELEGRAM_ALLOWED_USERS nor TELEGRAM_ALLOWED_CHATS is set: "
                        "anyone who finds the bot can use it.")
        from bot.telegram_start import BOOTSTRAP_RETRIES, StartFailed, connect_blocking

        try:
            connect_blocking(app, settings)
        except StartFailed as exc:
            print(f"articlebot: {exc}", file=sys.stderr)
            return exc.status
        if settings.telegram_webhook_url:
            secret = secret or secrets.token_urlsafe(32)
            app.run_webhook(listen=settings.telegram_webhook_listen, port=settings.telegram_webhook_port,
                            url_path=urlsplit(settings.telegram_webhook_url).path.lstrip("/"),
                            webhook_url=settings.telegram_webhook_url, secret_token=secret,
                            allowed_updates=[Update.MESSAGE], bootstrap_retries=BOOTSTRAP_RETRIES)
        else:
            app.run_polling(allowed_updates=[Update.MESSAGE], bootstrap_retries=BOOTSTRAP_RETRIES)
    finally:
        engine.close()
    return 0
