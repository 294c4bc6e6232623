"""The answer engine's workings: answerers (extractive and LLM), the reader (its features, models and cross-encoder),
the abstention gate, evidence, citations, follow-ups, chat memory and what the corpus holds.

May import: `bot.answer`, `bot.settings`, `ingest`, `vectorstore`, `prompts`. Never `bot.engine` (the face above
these workings), a front end (`bot.cli`, `bot.telegram`) or `bot.learning`.
"""
