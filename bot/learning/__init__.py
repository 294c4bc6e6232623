"""Learning and measuring: training the reader (logistic and cross-encoder), the evaluation over a quiz set and
its metrics.

May import: `bot.answering`, `bot.engine`, `bot.settings`, `ingest`, `vectorstore`. Nothing imports it at run
time except the CLI's `train-reader` and `eval` commands.
"""
