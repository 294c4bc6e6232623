"""Who may talk to the bot and who may add articles; strangers get one polite refusal that tells them their id.

TELEGRAM_ALLOWED_USERS / TELEGRAM_ALLOWED_CHATS close the bot (admins are always let in); TELEGRAM_ADMINS alone does
not close it: it says who may add articles, not who may ask. A refused user learns their numeric user id (and, in a
group, the chat's id) so they can hand it to the operator, who puts it in one of those settings.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType

from bot.settings import Settings

log = logging.getLogger(__name__)

REFUSAL = "Sorry, this bot is private. Ask its operator to add you"
MAX_REFUSED = 100_000  # strangers remembered as already refused


class Access:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.refused: set[tuple[str, int]] = set()

    @property
    def open_to_everyone(self) -> bool:
        s = self.settings
        return not (s.telegram_allowed_users or s.telegram_allowed_chats)

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return bool(user and user.id in self.settings.telegram_admins)

    def allowed(self, update: Update) -> bool:
        s = self.settings
        if self.open_to_everyone:
            return True
        user, chat = update.effective_user, update.effective_chat
        return bool(
            (user and (user.id in s.telegram_allowed_users or user.id in s.telegram_admins))
            or (chat and chat.id in s.telegram_allowed_chats)
        )

    @staticmethod
    def refusal(update: Update) -> str:
        """The refusal, with the ids the operator needs (HTML)."""
        user, chat = update.effective_user, update.effective_chat
        if chat is not None and chat.type != ChatType.PRIVATE:
            who = f"this chat (id <code>{chat.id}</code>, for TELEGRAM_ALLOWED_CHATS)"
            if user is not None:
                who += f" or you (user id <code>{user.id}</code>, for TELEGRAM_ALLOWED_USERS)"
            return f"{REFUSAL}: tell them {who}."
        if user is None:
            return f"{REFUSAL}."
        return f"{REFUSAL}: your Telegram user id is <code>{user.id}</code> (for TELEGRAM_ALLOWED_USERS)."

    async def gate(self, update: Update, *, always_tell: bool = False) -> bool:
        """True when the update may be served; otherwise refuse politely, once per user (or chat) unless
        `always_tell` (/start: someone asking explicitly gets their id every time)."""
        if self.allowed(update):
            return True
        user, chat = update.effective_user, update.effective_chat
        key = ("user", user.id) if user else ("chat", chat.id if chat else 0)
        log.info("refused %s %s in chat %s", *key, chat.id if chat else "?")
        if (always_tell or key not in self.refused) and update.effective_message:
            if len(self.refused) >= MAX_REFUSED:
                self.refused.clear()  # bounded: a stranger may hear the refusal twice, memory never grows
            self.refused.add(key)
            await update.effective_message.reply_text(self.refusal(update))
        return False
