"""An answer shown while the LLM writes it. In a private chat the text grows in a draft (sendMessageDraft, Bot API
9.5: an ephemeral preview Telegram animates), then one message brings the checked answer with its sources. In a
group, or where the Bot API refuses drafts (an older self-hosted server), one message is sent and edited in place
(at most once a second: Telegram throttles edits), then edited into the answer. A refusal is no error to the user:
the answer goes on as edits, and the bot stops trying drafts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from telegram import Message
from telegram.constants import ChatType
from telegram.error import BadRequest, InvalidToken, TelegramError

from bot.answer import Answer
from bot.telegram.chat import reply_to
from bot.telegram.render import LIMIT, escape

log = logging.getLogger(__name__)

EDIT_EVERY = 1.0  # edit-in-place at most this often (Telegram throttles edits per chat)
DRAFT_EVERY = 0.3  # drafts are made for streaming: a smoother preview


class LiveReply:
    """The text so far, shown as a draft or as a message edited in place."""

    def __init__(self, message: Message, drafts: bool):
        self.message = message
        # a draft's id must be non-zero and names the draft: the question's message id is both
        self.draft_id = message.message_id if drafts and message.chat.type == ChatType.PRIVATE else 0
        self.refused = False  # the Bot API does not take drafts
        self.shown: Message | None = None  # the message edited in place, once sent
        self.off = False  # the first preview message could not be sent: the answer comes as a message of its own
        self._text, self._last, self._at = "", "", 0.0

    async def add(self, piece: str) -> None:
        self._text += piece
        preview, now = escape(self._text.strip()), time.monotonic()
        every = DRAFT_EVERY if self.draft_id else EDIT_EVERY
        if self.off or not preview or preview == self._last or now - self._at < every or len(preview) >= LIMIT - 2:
            return
        bot, chat = self.message.get_bot(), self.message.chat_id
        try:
            if self.draft_id:
                await bot.send_message_draft(chat, self.draft_id, preview + " …")
            elif self.shown is None:
                self.shown = await bot.send_message(chat, preview + " …", reply_parameters=reply_to(self.message))
            else:
                await self.shown.edit_text(preview + " …")
            self._last, self._at = preview, now
        except (BadRequest, InvalidToken) as exc:
            # a Bot API without sendMessageDraft answers 404 (InvalidToken in PTB) or 400; an edit can fail with
            # "message is not modified", which the final edit fixes
            if self.draft_id:
                log.info("the Bot API refused a draft (%s): editing a message instead", exc)
                self.draft_id, self.refused = 0, True
            else:
                log.debug("draft edit failed: %s", exc)
        except TelegramError as exc:
            # previews are best effort (Telegram pushing back, benchmarks/load.py): one it would not take is skipped
            if self.draft_id:
                log.info("a draft failed (%s): editing a message for the rest of this answer", exc)
                self.draft_id = 0
            else:
                log.debug("a preview in chat %s failed: %s", chat, exc)
                self.off = self.shown is None


async def show_stream(message: Message, stream: AsyncIterator, drafts: bool) -> tuple[Answer, LiveReply]:
    """Show the stream's text as it arrives; returns the checked Answer it ends with and what was shown."""
    live = LiveReply(message, drafts)
    final = None
    async for item in stream:
        if isinstance(item, Answer):
            final = item
        else:
            await live.add(item)
    if final is None:
        raise RuntimeError("the engine's stream ended without an answer")
    return final, live
