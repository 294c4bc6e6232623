"""The answer engine's workings: answerers (extractive and LLM), the reader and its trained models, the abstention
gate, evidence, citations, follow-ups, chat memory and what the corpus holds.

May import: `bot.settings`, `ingest`, `vectorstore`, `prompts`. Never a front end (`bot.cli`, `bot.telegram`) or
`bot.learning`.
"""
