"""The terminal front end: the `articlebot` console script (main), its commands (collections and forget in their own
module), the chat REPL and ingest progress.

May import: `bot.engine`, `bot.answer`, `bot.settings`, `bot.answering`, `bot.news`, `bot.learning` (train-reader, eval),
`bot.telegram` (only to start it), `ingest`, `vectorstore`. It only translates between the terminal and the Engine.
"""

from bot.cli.main import main

__all__ = ["main"]
