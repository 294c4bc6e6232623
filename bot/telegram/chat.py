"""Sending to a chat: Telegram HTML split at the 4096-character limit, answers attached to the question in groups,
and the typing indicator while an answer is being made."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from bot.telegram.render import LIMIT, split_html

log = logging.getLogger(__name__)

TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 s
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# an answer ready within this long after its work began needs no "typing…": under load the chat actions were a
# third of the bot's calls to Telegram, and each costs the bot as much CPU as a reply (benchmarks/load.py)
TYPING_AFTER = 1.0


def reply_to(message: Message) -> ReplyParameters | None:
    """In a group, quote the question so the answer is visibly attached to it."""
    if message.chat.type != ChatType.PRIVATE:
        return ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
    return None


async def send_html(
    message: Message,
    html: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    preview: LinkPreviewOptions | None = None,
) -> list[Message]:
    """`html` in as many messages as it takes; `preview` on the first (else the bot's default: none), `markup`
    (buttons) under the last."""
    sent = []
    parts = split_html(html, LIMIT)
    for i, part in enumerate(parts):
        sent.append(
            await message.get_bot().send_message(
                message.chat_id,
                part,
                reply_parameters=reply_to(message) if i == 0 else None,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
                link_preview_options=preview if i == 0 and preview is not None else NO_PREVIEW,
                reply_markup=markup if i == len(parts) - 1 else None,
            )
        )
    return sent


async def keep_typing(message: Message, started: asyncio.Event | None = None) -> None:
    """Show "typing…" from TYPING_AFTER seconds after the answer began to be made (`started`) until cancelled: a
    question still waiting for a worker is told it is queued instead (bot/telegram/turns.py)."""
    try:
        if started is not None:
            await started.wait()
        await asyncio.sleep(TYPING_AFTER)
        while True:
            await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
            await asyncio.sleep(TYPING_EVERY)
    except asyncio.CancelledError:
        raise
    except TelegramError as exc:  # a missing typing indicator is not worth failing the answer
        log.debug("typing indicator failed: %s", exc)
