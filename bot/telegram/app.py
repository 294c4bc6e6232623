"""Building the Application (handlers, defaults, rate limiter, the follow job) and `articlebot telegram`."""

from __future__ import annotations

import logging
import re
import secrets
import sys
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.settings import Settings, reveal
from bot.telegram.admin import sweep_uploads
from bot.telegram.delivery import POOL, PatientLimiter, RetryingRequest
from bot.telegram.following import FOLLOW_TICK
from bot.telegram.front import TelegramFrontEnd
from bot.telegram.tokens import install_token_filter, token_problem

log = logging.getLogger(__name__)

SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# updates handled at once: a question waiting for its chat's earlier ones holds one, so this must exceed the questions
# of a burst, or a chat's first question waits behind other chats' fourth (its own turn is kept by its chat's lock)
UPDATES_AT_ONCE = 1024
COMMANDS = [
    BotCommand("ask", "ask a question about the articles"),
    BotCommand("help", "what I know and how to ask"),
    BotCommand("sources", "the sources of my last answer, in full"),
    BotCommand("latest", "the newest articles I have"),
    BotCommand("reset", "forget this chat's conversation"),
    BotCommand("watch", "post each new article about a topic here"),
    BotCommand("watches", "the topics this chat watches"),
    BotCommand("unwatch", "stop watching a topic"),
    BotCommand("digest", "the day's new articles at a time of day (HH:MM, or off)"),
    BotCommand("ingest", "add an article or feed by URL (admins)"),
    BotCommand("follow", "keep a feed or page current (admins)"),
    BotCommand("unfollow", "stop following a source (admins)"),
    BotCommand("following", "followed sources and how their last check went (admins)"),
    BotCommand("collection", "which collection this chat answers from (admins: change it)"),
    BotCommand("forget", "remove articles from this chat's collection (admins)"),
]

UPDATES = [Update.MESSAGE, Update.INLINE_QUERY, Update.CALLBACK_QUERY]  # what the bot asks Telegram for


async def _post_init(app: Application) -> None:
    await app.bot.set_my_commands(COMMANDS)
    log.info("Telegram bot @%s ready", app.bot.username)


def build_application(settings: Settings, engine, *, rate_limit: bool = True) -> Application:
    """The configured Application (not started). Tests and the benchmark drive it against a loopback Bot API server."""
    front = TelegramFrontEnd(settings, engine)
    builder = (
        ApplicationBuilder()
        .token(reveal(settings.telegram_bot_token).strip())
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(UPDATES_AT_ONCE)
        .request(RetryingRequest(connection_pool_size=POOL, pool_timeout=10))
        .post_init(_post_init)
        .post_stop(front.close)
    )
    if rate_limit:
        # stays under Telegram's flood limits and waits out each 429's retry_after (bot/telegram/delivery.py)
        builder = builder.rate_limiter(PatientLimiter())
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(base)
        root, _, tail = base.rpartition("/")
        # a self-hosted Bot API serves files at /file/bot<token>/ next to /bot<token>/
        builder = builder.base_file_url(f"{root}/file/{tail}" if tail.startswith("bot") else f"{base}/file/bot")
    app = builder.build()
    app.bot_data["front"] = front
    app.add_handler(CommandHandler("start", front.on_start))
    app.add_handler(CommandHandler("help", front.on_help))
    app.add_handler(CommandHandler("ask", front.on_ask))
    app.add_handler(CommandHandler("reset", front.on_reset))
    app.add_handler(CommandHandler("sources", front.on_sources))
    app.add_handler(CommandHandler("latest", front.on_latest))
    app.add_handler(CommandHandler("ingest", front.on_ingest))
    app.add_handler(CommandHandler("collection", front.on_collection))
    app.add_handler(CommandHandler("forget", front.on_forget))
    _add_following(app, front, settings)
    _add_news(app, front)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, front.on_text))
    app.add_handler(MessageHandler(filters.Document.ALL, front.on_document))
    app.add_error_handler(front.on_error)
    sweep_uploads(settings.data_dir)
    return app


def _add_following(app: Application, front: TelegramFrontEnd, settings: Settings) -> None:
    """Admin commands for followed sources, and the JobQueue job that polls them in the background."""
    app.add_handler(CommandHandler("follow", front.on_follow))
    app.add_handler(CommandHandler("unfollow", front.on_unfollow))
    app.add_handler(CommandHandler("following", front.on_following))
    if app.job_queue is None:
        log.warning(
            "python-telegram-bot[job-queue] is not installed: followed sources are not polled, "
            "watches send no alerts and no digest goes out"
        )
        return
    front.following = front.engines.following()
    for problem in front.following.seed_problems:
        log.warning("%s", problem)
    app.job_queue.run_repeating(front.follow_tick, interval=FOLLOW_TICK, first=1.0, name="follow")


def _add_news(app: Application, front: TelegramFrontEnd) -> None:
    """Watches and digests (their jobs on the JobQueue), inline answers, and the feedback buttons' presses."""
    for command, handler in (
        ("watch", front.on_watch),
        ("watches", front.on_watches),
        ("unwatch", front.on_unwatch),
        ("digest", front.on_digest),
    ):
        app.add_handler(CommandHandler(command, handler))
    app.add_handler(InlineQueryHandler(front.on_inline))
    app.add_handler(CallbackQueryHandler(front.on_vote, pattern=r"^fb:"))
    if app.job_queue is not None:  # without it _add_following has said so
        front.start_watching(app)
        front.start_digests(app)


def run(settings: Settings) -> int:
    """`articlebot telegram`: long polling, or a webhook server when TELEGRAM_WEBHOOK_URL is set."""
    problem = token_problem(reveal(settings.telegram_bot_token))
    if problem:
        print(f"articlebot: {problem}", file=sys.stderr)
        return 2
    secret = reveal(settings.telegram_webhook_secret)
    if settings.telegram_webhook_url and secret and not SECRET_RE.match(secret):
        print(
            "articlebot: TELEGRAM_WEBHOOK_SECRET may only hold 1-256 letters, digits, '_' and '-' (Telegram's rule).",
            file=sys.stderr,
        )
        return 2
    install_token_filter(reveal(settings.telegram_bot_token).strip())
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
            log.warning(
                "Neither TELEGRAM_ALLOWED_USERS nor TELEGRAM_ALLOWED_CHATS is set: anyone who finds the bot can use it."
            )
        from bot.telegram.start import BOOTSTRAP_RETRIES, StartFailed, connect_blocking

        try:
            connect_blocking(app, settings)
        except StartFailed as exc:
            print(f"articlebot: {exc}", file=sys.stderr)
            return exc.status
        if settings.telegram_webhook_url:
            secret = secret or secrets.token_urlsafe(32)
            app.run_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=urlsplit(settings.telegram_webhook_url).path.lstrip("/"),
                webhook_url=settings.telegram_webhook_url,
                secret_token=secret,
                allowed_updates=UPDATES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        else:
            app.run_polling(allowed_updates=UPDATES, bootstrap_retries=BOOTSTRAP_RETRIES)
    finally:
        engine.close()
    return 0
