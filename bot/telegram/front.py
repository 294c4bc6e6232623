"""The state the handlers share (one TelegramFrontEnd per Application): settings, the engine of each collection and
which one each chat uses, access policy, throttle, per-chat locks, the worker pools and the news state (watches,
digests, feedback); the handlers themselves live in questions, inline, admin, following, collections, watching
and digest."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.news.digests import Digests
from bot.news.feedback import Feedback
from bot.news.watches import Watches
from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.admin import AdminIngest
from bot.telegram.bindings import ChatBindings
from bot.telegram.collections import CollectionCommands
from bot.telegram.delivery import undeliverable
from bot.telegram.digest import DigestCommands
from bot.telegram.following import FollowCommands
from bot.telegram.inline import InlineAnswers
from bot.telegram.questions import Questions
from bot.telegram.throttle import Throttle
from bot.telegram.turns import ChatTurn
from bot.telegram.watching import WatchCommands
from vectorstore.outage import unreachable

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong — please try again."
STORE_RESTARTING = "The article store is restarting — please ask again in a moment."
# Questions run on a pool of their own, so that however long the model takes, the event loop's default executor
# (a handful of threads on a small machine) stays free for /help, /sources, /latest and the follow commands. Eight:
# enough for a remote LLM's latency to overlap; more questions than that wait their turn in the pool's queue.
QUESTION_WORKERS = 8


class TelegramFrontEnd(
    Questions,
    InlineAnswers,
    AdminIngest,
    FollowCommands,
    CollectionCommands,
    WatchCommands,
    DigestCommands,
):
    """Handlers and the little state a chat front end needs."""

    def __init__(self, settings: Settings, engine):
        from bot.engine import Engines

        self.settings = settings
        self.engine = engine  # the configured collection's; a chat's own is engine_for(chat id)
        self.engines = Engines(engine)
        self.bindings = ChatBindings(settings)
        self.access = Access(settings)
        self.throttle = Throttle(settings.telegram_user_rate)
        # a chat's lock lives while a question in that chat holds or awaits it, then goes: a public bot's memory
        # does not grow with every chat it ever answered
        self.chat_locks: weakref.WeakValueDictionary[int, ChatTurn] = weakref.WeakValueDictionary()
        self.streaming = getattr(engine.answerer, "name", "") == "llm"
        self.drafts = True  # until the Bot API refuses one (streaming.py)
        self.question_pool = ThreadPoolExecutor(QUESTION_WORKERS, thread_name_prefix="articlebot-question")
        self.ingest_pool = ThreadPoolExecutor(1, thread_name_prefix="articlebot-ingest")
        self.following = None  # ingest.follow.Following, set by build_application
        self._polling = False
        self.watches = Watches(settings.data_dir, settings.watch_alerts_per_hour)
        self.digests = Digests(settings.data_dir)
        self.feedback = Feedback(settings.data_dir) if settings.telegram_feedback else None
        self._scanning = self._rescan = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inline_latest: dict[int, str] = {}
        self._inline_cache: OrderedDict = OrderedDict()

    # the access policy, as the front end's own (tests and run() ask the front end)
    @property
    def open_to_everyone(self) -> bool:
        return self.access.open_to_everyone

    def is_admin(self, update: Update) -> bool:
        return self.access.is_admin(update)

    async def close(self, app: Application | None = None) -> None:
        """When the bot stops: cut a running poll short and let the pools' threads go once their work is done."""
        await self.stop_following(app)
        self.shutdown_pools()
        self.bindings.close()

    def shutdown_pools(self) -> None:
        self.question_pool.shutdown(wait=False, cancel_futures=True)
        self.ingest_pool.shutdown(wait=False, cancel_futures=True)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """One log line (with the traceback) and a polite reply: never a stack trace in a chat."""
        if update is None and isinstance(context.error, TelegramError):
            # polling trouble (network, flood control, another instance polling): PTB retries by itself, with
            # backoff, so one line per failure is enough
            log.warning("polling Telegram failed, retrying with backoff: %s", context.error)
            return
        uid = update.update_id if isinstance(update, Update) else None
        chat = update.effective_chat if isinstance(update, Update) else None
        if undeliverable(context.error):
            # Telegram would not take a reply even after bounded retries (bot/telegram/delivery.py): one line, and
            # no "sorry", which would be one more message it will not take
            log.warning("could not send to chat %s (update %s): %s", chat.id if chat else None, uid, context.error)
            return
        if unreachable(context.error):
            # the Chroma server is down or restarting (the engine waited a while for it); nothing to fix here
            log.warning("the store was unreachable for update %s: %s", uid, context.error)
            reply = STORE_RESTARTING
        else:
            log.error("error handling update %s: %s", uid, context.error, exc_info=context.error)
            reply = SORRY
        if chat:
            try:
                await context.bot.send_message(chat.id, reply)
            except TelegramError as exc:
                log.warning("could not tell chat %s about the error: %s", chat.id, exc)
