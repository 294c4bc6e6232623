"""A chat's turn: its questions answered one at a time and in order, and a word to a chat whose question waits.

A question first takes its chat's turn (a lock: a follow-up sees the answer before it, and answers arrive in the
order asked), then a question worker; the turn passes on once the answer is made, while it is being sent. Chats
take workers in the order their questions arrived, so each chat's first question comes before any chat's second.
When a question's answer has not begun QUEUED_AFTER seconds after it came (the workers are busy with other chats'
questions, or this chat's own earlier ones), the chat is told once that it is queued; it is told again only after it
has had nothing left waiting, and not while Telegram is refusing messages (flood control). "typing…" shows while the
answer is made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram import Message
from telegram.error import TelegramError

from bot.telegram.chat import reply_to
from bot.telegram.delivery import PatientLimiter

log = logging.getLogger(__name__)

QUEUED = "Your question is queued — I'll answer it as soon as the questions before it are done."
QUEUED_AFTER = 4.0  # seconds a question may wait for its answer to begin before its chat is told


class ChatTurn(asyncio.Lock):
    """A chat's lock; it lives while a question of the chat holds or awaits it (TelegramFrontEnd.chat_locks).

    The lock is held while an answer is made. It may be let go before the answer is sent, so the next question is
    answered meanwhile: next_delivery() then keeps the answers going out in order."""

    def __init__(self) -> None:
        super().__init__()
        self.told = False  # the chat was told it is queued since it last had nothing waiting
        self._delivered: asyncio.Future | None = None  # resolved once the last answer taken in turn is out

    def next_delivery(self) -> tuple[asyncio.Future | None, asyncio.Future]:
        """(what to await before sending: the previous answer's delivery, or None; this answer's, to resolve once it
        is sent or given up). Called while holding the lock, so in the order the answers were made."""
        before, mine = self._delivered, asyncio.get_running_loop().create_future()
        self._delivered = mine
        return before, mine


async def tell_if_queued(message: Message, turn: ChatTurn, started: asyncio.Event) -> None:
    """Tell the chat once that it is queued, unless the answer begins (`started`) within QUEUED_AFTER seconds."""
    try:
        await asyncio.wait_for(started.wait(), QUEUED_AFTER)
        return
    except TimeoutError:
        pass
    if turn.told:
        return
    limiter = getattr(message.get_bot(), "rate_limiter", None)
    if isinstance(limiter, PatientLimiter) and limiter.refusing():  # a courtesy Telegram would refuse too
        log.debug("chat %s waits, but Telegram is refusing messages: not told it is queued", message.chat_id)
        return
    turn.told = True
    try:
        await message.reply_text(QUEUED, reply_parameters=reply_to(message))
    except TelegramError as exc:  # a notice that cannot be sent is not worth failing the answer
        log.debug("queued notice to chat %s failed: %s", message.chat_id, exc)


def signalling(started: asyncio.Event, work: Callable[..., Any]) -> Callable[..., Any]:
    """`work`, made to set `started` (on the event loop) as a worker thread begins it."""
    loop = asyncio.get_running_loop()

    def run(*args: Any) -> Any:
        loop.call_soon_threadsafe(started.set)
        return work(*args)

    return run
