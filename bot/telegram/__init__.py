"""The Telegram front end: translates Telegram updates into Engine calls and answers into Telegram HTML.

No answering logic lives here (that is the Engine's, testable without Telegram). The rooms:
- access: who may talk to the bot, who may add articles, and the polite refusal (which tells a stranger their id);
- throttle: questions per user per minute;
- chat: sending HTML (split at Telegram's limit) and the typing indicator;
- delivery: getting messages to Telegram when it pushes back (429s waited out, 5xx retried), never sending one twice;
- turns: each chat's questions in order, chats served in arrival order, and the "queued" notice;
- bridge: a blocking engine stream handed to the event loop from a worker thread, cancellable;
- questions: questions, /help, /sources, /latest, /reset, on bounded worker pools so a slow model never stalls them;
- admin: /ingest and document uploads by admins;
- following: /follow, /unfollow, /following and the job that polls followed sources;
- collections: /collection and /forget, and the engine of a chat's collection; bindings: which collection each chat
  uses (no Telegram in it);
- front: the state the handlers share; app: building and running the Application; tokens: the bot token kept out
  of logs.
Rendering (escaping, splitting) is bot/telegram/render.py; reaching the Bot API at start-up is bot/telegram/start.py.

May import: `bot.engine`, `bot.answer`, `bot.settings`, `bot.answering`, `ingest`, `vectorstore`. Never `bot.cli` or
`bot.learning`.
"""

from bot.telegram.app import build_application, run
from bot.telegram.front import TelegramFrontEnd
from bot.telegram.throttle import Throttle
from bot.telegram.tokens import TokenFilter, install_token_filter, token_problem

__all__ = [
    "TelegramFrontEnd",
    "Throttle",
    "TokenFilter",
    "build_application",
    "install_token_filter",
    "run",
    "token_problem",
]
