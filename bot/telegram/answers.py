"""Sending a finished answer: its HTML split at Telegram's limit, the link preview pointed at the first cited
article (TELEGRAM_LINK_PREVIEW; off, no preview at all), and the 👍 / 👎 buttons under the last part.

A message carrying several links would otherwise preview whichever comes first in the text; LinkPreviewOptions(url=)
names the article the answer rests on most.
"""

from __future__ import annotations

import re

from telegram import LinkPreviewOptions, Message

from bot.answer import Answer
from bot.settings import Settings
from bot.telegram.chat import NO_PREVIEW, send_html
from bot.telegram.feedback import FeedbackButtons
from bot.telegram.render import LIMIT, render_answer, split_html

WEB_LINK = re.compile(r"^https?://", re.I)


def preview_for(url: str, settings: Settings) -> LinkPreviewOptions:
    """A preview of this web page, or none (a file path, no link, or previews turned off)."""
    if settings.telegram_link_preview and url and WEB_LINK.match(url):
        # is_disabled said outright: PTB fills what is left unsaid from the bot's defaults, which disable previews
        return LinkPreviewOptions(is_disabled=False, url=url)
    return NO_PREVIEW


def answer_preview(answer: Answer, settings: Settings) -> LinkPreviewOptions:
    """The preview of the first cited article that has a web address."""
    url = next((c.url for c in answer.citations if c.url and WEB_LINK.match(c.url)), "")
    return preview_for(url, settings)


class AnswerSending(FeedbackButtons):
    """Mixed into TelegramFrontEnd (front.py) through Questions; the buttons come from FeedbackButtons."""

    settings: Settings

    async def send_answer(self, message: Message, question: str, answer: Answer, shown: Message | None = None) -> None:
        """The answer to `question`, as new messages or, when the answer was streamed into `shown`, as that message
        edited (the rest of a long answer follows it)."""
        markup = await self.vote_markup(message.chat_id, question, answer)
        preview = answer_preview(answer, self.settings)
        html = render_answer(answer)
        if shown is None:
            await send_html(message, html, markup=markup, preview=preview)
            return
        parts = split_html(html, LIMIT)
        await shown.edit_text(parts[0], link_preview_options=preview, reply_markup=markup if len(parts) == 1 else None)
        for i, part in enumerate(parts[1:], 2):
            await message.get_bot().send_message(
                message.chat_id, part, reply_markup=markup if i == len(parts) else None
            )
