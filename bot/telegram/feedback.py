"""👍 / 👎 under each answer, and what a press does: the vote is stored (bot/news/feedback.py) and the press answered
once (answerCallbackQuery), which thanks the voter. The buttons carry `fb:<answer id>:up|down`, never the text: the
answer is looked up by id, and only in the chat it was given in (a forged button for another chat's answer is
refused). TELEGRAM_FEEDBACK=false leaves the buttons out.
"""

from __future__ import annotations

import asyncio
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.answer import Answer
from bot.news.feedback import DOWN, UP, Feedback
from bot.telegram.access import Access

VOTE = re.compile(r"^fb:(\d{1,18}):(up|down)$")
REPLIES = {
    "new": "Thanks for the feedback!",
    "changed": "Vote changed — thanks!",
    "same": "Already noted — thanks!",
    "unknown": "I no longer have that answer, sorry.",
}


def vote_buttons(answer_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"fb:{answer_id}:up"),
                InlineKeyboardButton("👎", callback_data=f"fb:{answer_id}:down"),
            ]
        ]
    )


def worth_a_vote(answer: Answer) -> bool:
    """An answer the engine made from the articles (found, or judged not covered); not "ask me a question" or the
    reply to a question in another language."""
    return answer.found or answer.verdict is not None


class FeedbackButtons:
    """Mixed into TelegramFrontEnd (front.py), which sets these."""

    access: Access
    feedback: Feedback | None  # None: TELEGRAM_FEEDBACK is off

    async def vote_markup(self, chat: int, question: str, answer: Answer) -> InlineKeyboardMarkup | None:
        """The buttons for an answer about to be sent (the answer kept under a new id), or None."""
        if self.feedback is None or not worth_a_vote(answer):
            return None
        answer_id = await asyncio.to_thread(self.feedback.record, chat, question, answer)
        return vote_buttons(answer_id)

    async def on_vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press of 👍 or 👎 under an answer: stored, and answered with a thank-you."""
        query = update.callback_query
        m = VOTE.match(query.data or "")
        if m is None or self.feedback is None:
            await query.answer()
            return
        if not self.access.allowed(update):
            await query.answer("Sorry, this bot is private.")
            return
        chat = query.message.chat.id if query.message else 0
        vote = UP if m.group(2) == "up" else DOWN
        outcome = await asyncio.to_thread(self.feedback.vote, int(m.group(1)), chat, query.from_user.id, vote)
        await query.answer(REPLIES[outcome])
