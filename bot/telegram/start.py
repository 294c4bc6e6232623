"""Reaching the Telegram Bot API at start-up, for a bounded time, so a bot without a network does not crash-loop.

`Application.run_polling(bootstrap_retries=N)` counts tries, waits without jitter and logs a traceback when it gives
up; here the Application is initialized (getMe) first, retried with capped exponential backoff plus jitter for
TELEGRAM_START_TIMEOUT seconds, one log line per failed try. An invalid token stops at once: retrying cannot help.
Once polling, PTB's own loop retries for as long as the bot runs (×1.5 backoff, capped at 30 s) and the error
handler logs one line per failure.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlsplit

from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from bot.settings import Settings, reveal

log = logging.getLogger(__name__)
# deleteWebhook / setWebhook come right after getMe succeeded: PTB's own retries cover a blip there
BOOTSTRAP_RETRIES = 5


class StartFailed(Exception):
    """One line for the operator, and the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _retryable(exc: BaseException) -> bool:
    # BadRequest is a NetworkError subclass in PTB, but it is Telegram answering "no"
    return isinstance(exc, RetryAfter) or (isinstance(exc, NetworkError) and not isinstance(exc, BadRequest))


def _where(settings: Settings) -> str:
    return urlsplit(settings.telegram_base_url).netloc if settings.telegram_base_url else "api.telegram.org"


async def connect(app: Application, settings: Settings) -> None:
    """Initialize app (this is where it first talks to Telegram), retrying while the network or Telegram is down.
    Raises StartFailed with one line to print."""
    timeout = max(0.0, settings.telegram_start_timeout)
    where = _where(settings)
    backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

    def wait(state) -> float:
        exc = state.outcome.exception()
        pause = backoff(state)
        if isinstance(exc, RetryAfter):  # flood control names its own wait
            pause = max(
                pause, exc.retry_after if isinstance(exc.retry_after, (int, float)) else exc.retry_after.total_seconds()
            )
        return min(pause, max(0.0, timeout - state.seconds_since_start))  # the last try comes at the deadline

    def say(state) -> None:
        log.warning(
            "Telegram Bot API at %s not reachable (%s); try %d failed, next in %.1f s, giving up %g s after "
            "start (TELEGRAM_START_TIMEOUT)",
            where,
            state.outcome.exception(),
            state.attempt_number,
            state.next_action.sleep,
            timeout,
        )

    retrying = AsyncRetrying(
        stop=stop_after_delay(timeout), wait=wait, retry=retry_if_exception(_retryable), before_sleep=say, reraise=True
    )
    try:
        await retrying(app.initialize)
    except InvalidToken as exc:
        # PTB's own message quotes the token; the server's answer (its cause) does not
        said = str(exc.__cause__ or "rejected").replace(reveal(settings.telegram_bot_token).strip(), "<token>")
        hint = " (and TELEGRAM_BASE_URL)" if settings.telegram_base_url else ""
        raise StartFailed(
            f"Telegram rejected the bot token ({said}): check TELEGRAM_BOT_TOKEN{hint}; "
            "@BotFather shows the current token.",
            2,
        ) from None
    except TelegramError as exc:
        if not _retryable(exc):
            raise StartFailed(f"Telegram Bot API at {where} refused to start the bot: {exc}", 1) from None
        tries = retrying.statistics.get("attempt_number", 1)
        waited = retrying.statistics.get("delay_since_first_attempt", 0)
        raise StartFailed(
            f"cannot reach the Telegram Bot API at {where} (tried {tries} times in {waited:.0f} s): "
            f"{exc}. Check the network (or TELEGRAM_BASE_URL); exiting.",
            1,
        ) from None


def connect_blocking(app: Application, settings: Settings) -> None:
    """connect() on a fresh event loop that run_polling / run_webhook then use (they take the current one).

    SIGTERM and SIGINT stop the wait at once (StartFailed, status 0): in a container the bot is PID 1, which the
    kernel shields from signals without a handler, so `docker stop` would otherwise wait 10 s and then kill it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(connect(app, settings))
    stops = [s for s in (signal.SIGTERM, signal.SIGINT) if _on_signal(loop, s, task.cancel)]
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        loop.close()
        raise StartFailed("stopped while waiting for the Telegram Bot API", 0) from None
    except BaseException:
        loop.close()
        raise
    finally:
        for sig in stops:
            if not loop.is_closed():
                loop.remove_signal_handler(sig)


def _on_signal(loop: asyncio.AbstractEventLoop, sig: int, callback) -> bool:
    try:
        loop.add_signal_handler(sig, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not a Unix loop
        return False
    return True
