"""The bot token: checked for shape before start, and replaced by <token> in every log record (httpx logs request
URLs, and the token is part of every Bot API URL)."""

from __future__ import annotations

import logging
import re

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")


class TokenFilter(logging.Filter):
    """Replaces the bot token in log records."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's problem, not ours
            return True
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def install_token_filter(token: str) -> TokenFilter:
    """On the root handlers (they see every propagated record) and on the chatty loggers themselves."""
    flt = TokenFilter(token)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(flt)
    for name in ("", "httpx", "httpcore", "telegram", "telegram.ext"):
        logging.getLogger(name).addFilter(flt)
    return flt


def token_problem(token: str | None) -> str | None:
    if not token:
        return "TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and set it in the environment or .env."
    if not TOKEN_RE.match(token.strip()):
        return "TELEGRAM_BOT_TOKEN does not look like a bot token (expected 123456:ABC-DEF..., as @BotFather gives it)."
    return None
