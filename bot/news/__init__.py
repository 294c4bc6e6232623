"""What a news reader is told without asking: watched topics and their alerts, daily digests, and the feedback
readers give on answers. State lives in SQLite under the data dir (`news.sqlite3`), so a restart keeps it.

Matching a new article to a watched topic uses the engine's own retrieval and abstention gate, never a substring test.
Front ends (Telegram, the CLI) schedule the work and show the results; nothing here knows Telegram.

May import: `bot.engine`, `bot.answer`, `bot.settings`, `bot.answering`, `ingest`, `vectorstore`. Never a front end.
"""
