"""Why-questions: the sentence that gives the reason is quoted first (bot/answering/extractive.py calls it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.answering.features import wants
from bot.answering.reader import POOL

if TYPE_CHECKING:
    from bot.answering.extractive import Reading

# "because", "due to", "caused": not "after", "since" or "amid", which as often say when as why. Stricter than
# features._CAUSE, which stays as it is: the shipped model's `want_reason_x` weight was fitted with it.
_REASON = re.compile(r"\b(because|due to|as a result|caus(e|ed|es|ing)|led to|so that|in order to)\b", re.I)


def reason_first(question: str, chosen: list[int], reading: Reading, limit: int) -> list[int]:
    """For a "why" question whose best sentence gives no reason, the reader's best sentence of the same article
    that does ("… was withdrawn because …") goes first, the best one after it. The reader learns little about
    reasons (their gold answers are paraphrases, so few sentences are labelled); on the 90 "why" questions of the
    training folders this moved 10 first sentences, gained 3 (by the answer's words) and lost none."""
    if not chosen or wants(question) != "reason":
        return chosen
    cands = reading.candidates
    top = cands[chosen[0]]
    if _REASON.search(top.text):
        return chosen
    cue = next(
        (i for i in reading.pool[:POOL] if cands[i].passage == top.passage and _REASON.search(cands[i].text)), None
    )
    if cue is None:
        return chosen
    return [cue] + [i for i in chosen if i != cue][: limit - 1]
