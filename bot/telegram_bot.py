"""Moved to the bot.telegram package; this name stays so that `from bot.telegram_bot import ...` keeps working."""

from bot.telegram import (
    TelegramFrontEnd,
    Throttle,
    TokenFilter,
    build_application,
    install_token_filter,
    run,
    token_problem,
)

__all__ = [
    "TelegramFrontEnd",
    "Throttle",
    "TokenFilter",
    "build_application",
    "install_token_filter",
    "run",
    "token_problem",
]
