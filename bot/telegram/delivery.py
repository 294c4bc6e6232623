"""Getting messages to Telegram when it pushes back, never sending one twice.

Two layers, both PTB's own classes with a retry policy of ours:
- PatientLimiter (the Application's rate limiter): AIORateLimiter's throttling (Telegram's 30 messages/s overall,
  20 a minute per group), and a 429 "retry after N" honoured for the refused request alone: it waits its N seconds
  and goes again, up to PATIENCE seconds in all. AIORateLimiter itself holds back every chat's messages during any
  429 and gives up after a fixed number of tries, which lost answers when 1 in 3 sends was refused.
- RetryingRequest (the Application's HTTP client): a call about a chat that gets a 5xx reply, or never left this
  machine (no connection, pool full), is retried with bounded exponential backoff. A call that may have reached
  Telegram (a read timeout, a dropped connection) is retried only when doing it twice changes nothing (an edit, a
  chat action): a send is never repeated, since its first try may have been delivered. Calls about no chat (getMe,
  webhooks, commands) are left to start-up's own backoff (start.py) and PTB's.
What still fails after that is raised to the handler and logged once with the chat id (TelegramFrontEnd.on_error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram.error import NetworkError, RetryAfter
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

PATIENCE = 120.0  # seconds of 429 waits one message may spend in all before it is given up
TRIES = 5  # attempts of one request on a 5xx or an unsent request: waits of ~0.5, 1, 2, 4 s between them
FIRST_WAIT = 0.5
# Requests that do the same thing when repeated; any other may have been carried out before its reply was lost.
REPEATABLE = ("edit", "sendChatAction", "get", "set", "delete", "answer")
# connections the bot keeps to the Bot API: enough for 30 messages/s at a few hundred ms each; a larger pool costs
# every request a check of every idle connection (most of the bot's own CPU under load, benchmarks/load.py)
POOL = 16
# after a 429, messages that are only a courtesy (the "queued" notice) are left out this long: each would be one
# more message for Telegram to refuse, and it takes refused tries from the same 30 a second as the answers
QUIET_AFTER_REFUSAL = 30.0


class PatientLimiter(AIORateLimiter):
    """AIORateLimiter's throttling, with each 429 waited out by the request it refused (see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._refused = -QUIET_AFTER_REFUSAL  # when Telegram last answered 429 (monotonic)

    def refusing(self) -> bool:
        """Whether Telegram refused a message in the last QUIET_AFTER_REFUSAL seconds."""
        return time.monotonic() - self._refused < QUIET_AFTER_REFUSAL

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id: Any = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        # as AIORateLimiter: negative ids and @names are groups and channels, limited per group as well
        group = chat_id if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str) else False
        waited = 0.0
        while True:
            try:
                return await self._run_request(
                    chat=chat_id is not None,
                    group=group,
                    allow_paid_broadcast=data.get("allow_paid_broadcast", False),
                    callback=callback,
                    args=args,
                    kwargs=kwargs,
                )
            except RetryAfter as exc:
                self._refused = time.monotonic()
                wait = exc._retry_after.total_seconds() + random.uniform(0.05, 0.25)  # noqa: SLF001 - as PTB does
                if waited + wait > PATIENCE:
                    raise
                waited += wait
                log.debug("%s to chat %s refused (429): retrying in %.1f s", endpoint, chat_id, wait)
                await asyncio.sleep(wait)


def repeatable(endpoint: str) -> bool:
    return endpoint.startswith(REPEATABLE)


def never_sent(exc: BaseException) -> bool:
    """Whether a failed request certainly never reached the server: no connection, or none free in the pool."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class RetryingRequest(HTTPXRequest):
    """PTB's HTTPXRequest with bounded retries of what is safe to retry (see the module doc)."""

    async def do_request(self, url: str, method: str, request_data=None, *args, **kwargs) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        if request_data is None or "chat_id" not in request_data.parameters:
            # not about a chat (getMe, webhooks, commands): start-up retries those with its own backoff (start.py)
            return await super().do_request(url, method, request_data, *args, **kwargs)
        attempt, wait = 1, FIRST_WAIT
        while True:
            try:
                code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
            except NetworkError as exc:  # TimedOut included
                if attempt == TRIES or not (never_sent(exc) or repeatable(endpoint)):
                    raise
                log.debug("%s failed (%s): try %d of %d in %.1f s", endpoint, exc, attempt + 1, TRIES, wait)
            else:
                if attempt > 1 and code == 400 and endpoint.startswith("edit") and b"not modified" in payload:
                    return 200, b'{"ok": true, "result": true}'  # an earlier try of this edit got through
                if code < 500 or attempt == TRIES:
                    return code, payload
                log.debug("%s answered %d: try %d of %d in %.1f s", endpoint, code, attempt + 1, TRIES, wait)
            await asyncio.sleep(wait * random.uniform(0.5, 1.0))
            attempt, wait = attempt + 1, wait * 2


def undeliverable(error: BaseException | None) -> bool:
    """A reply Telegram would not take even after the retries above (flood control, network, Telegram's 5xx):
    logged once with the chat id; telling the chat would be one more message that cannot be sent."""
    return isinstance(error, (RetryAfter, NetworkError))
