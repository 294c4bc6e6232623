"""Learning and measuring: training the reader (logistic and cross-encoder), the evaluation over a quiz set and
its metrics.

May import: `bot.engine`, `bot.answer`, `bot.settings`, `bot.answering`, `ingest`, `vectorstore`. Only `bot.cli`
imports it (the `train-reader` and `eval` commands); the serving path never does.
"""
