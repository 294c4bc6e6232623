"""The reader's stages fitted on the training weeks, and every training question read through them in each mode
`articlebot train-reader` compares (bot/learning/train_reader.py):

- "lexical": the first stage alone, every candidate scored by the lexical model;
- "two-stage": as the shipped logistic reader reads (bot/answering/extractive.read): the lexical model's best POOL
  candidates re-scored with their embedding similarity to the question by the full model;
- "cross": the cross-encoder's probability of the lexical model's best POOL_CROSS candidates alone;
- "stacked": the cross-encoder's logit stacked into the full model's features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.answering.extractive import Reading, choose, cross_pairs
from bot.answering.features import FULL, LEXICAL, STACKED, full_features, sigmoid
from bot.answering.reader import POOL, POOL_CROSS, Linear
from bot.learning.logistic import fit, stack
from bot.learning.training_reads import Read

CROSS_MODES = ("cross", "stacked")


def similarities(r: Read, order: list[int], embedder) -> np.ndarray:
    """The embedding similarities of `order`'s candidates to the question, computed once per candidate."""
    missing = [i for i in order if i not in r.sims]
    if missing:
        vectors = np.array(embedder.embed_documents([r.question["question"]] + [r.candidates[i].text for i in missing]))
        for i, s in zip(missing, vectors[1:] @ vectors[0]):
            r.sims[i] = float(s)
    return np.array([r.sims[i] for i in order])


def pool(r: Read, lexical_model: Linear, embedder) -> tuple[list[int], np.ndarray]:
    """The candidates the full model sees (as bot/answering/extractive.read picks them) and their full features."""
    probs = lexical_model.prob(r.lexical)
    order = [int(i) for i in np.argsort(-probs, kind="stable")[:POOL]]
    return order, full_features(r.lexical[order], similarities(r, order, embedder))


def stacked_features(r: Read, order: list[int], logits: np.ndarray) -> np.ndarray:
    return full_features(r.lexical[order], np.array([r.sims[i] for i in order]), logits)


@dataclass
class Choices:
    """What bot/answering/extractive.choose reads from a Reader, with the candidate settings being tried."""

    nearly: float
    lead_threshold: float


@dataclass
class Stages:
    """The fitted models, and per in-corpus read its pooled candidates (and, with the cross-encoder, its logits)."""

    embedder: Any
    lexical: Linear
    full: Linear
    pooled: dict[int, tuple[list[int], np.ndarray]]
    crossed: dict[int, tuple[list[int], np.ndarray]] = field(default_factory=dict)
    stacked: Linear | None = None

    @classmethod
    def fit(cls, rows: list[Read], embedder, cross=None, log=print) -> Stages:
        """Fit the lexical stage on every candidate of the training weeks' in-corpus questions, the full stage on
        their pooled candidates and, with `cross` (bot/answering/cross_encoder.CrossEncoder), the stacked model on
        the candidates the cross-encoder reads."""
        fitting = [r for r in rows if not r.validation and r.in_corpus]
        lexical = fit(
            stack([r.lexical for r in fitting], len(LEXICAL)),
            np.concatenate([r.labels for r in fitting] or [np.zeros(0)]),
            LEXICAL,
        )
        pooled = {id(r): pool(r, lexical, embedder) for r in rows if r.in_corpus}
        full = fit(
            stack([pooled[id(r)][1] for r in fitting], len(FULL)),
            np.concatenate([r.labels[pooled[id(r)][0]] for r in fitting] or [np.zeros(0)]),
            FULL,
        )
        stages = cls(embedder, lexical, full, pooled)
        if cross is not None:
            t = time.perf_counter()
            for r in rows:  # the pool the run-time reader gives the cross-encoder: the lexical model's best
                order = [int(i) for i in np.argsort(-lexical.prob(r.lexical), kind="stable")[:POOL_CROSS]]
                logits = cross.logits(cross_pairs(r.question["question"], r.passages, r.candidates, order))
                stages.crossed[id(r)] = (order, logits)
                similarities(r, order, embedder)
            read = sum(len(o) for o, _ in stages.crossed.values())
            log(f"cross-encoder read {read} sentences in {time.perf_counter() - t:.0f} s")
            stages.stacked = fit(
                stack([stacked_features(r, *stages.crossed[id(r)]) for r in fitting], len(STACKED)),
                np.concatenate([r.labels[stages.crossed[id(r)][0]] for r in fitting] or [np.zeros(0)]),
                STACKED,
            )
        return stages

    def reading(self, r: Read, mode: str) -> Reading:
        """The question read as the reader reads it in `mode` (the module's docstring)."""
        if mode in CROSS_MODES:
            order, logits = self.crossed[id(r)]
            p = (
                sigmoid(logits)
                if mode == "cross" or self.stacked is None
                else self.stacked.prob(stacked_features(r, order, logits))
            )
            best = np.argsort(-p, kind="stable")
            return Reading(
                r.candidates, r.lexical, self.lexical.prob(r.lexical), [order[k] for k in best], p[best], logits[best]
            )
        if mode == "lexical":
            p_lex = self.lexical.prob(r.lexical)
            ranked = [int(i) for i in np.argsort(-p_lex, kind="stable")[:POOL]]
            return Reading(r.candidates, r.lexical, p_lex, ranked, p_lex[ranked])
        order, x = self.pooled[id(r)] if r.in_corpus else pool(r, self.lexical, self.embedder)
        p = self.full.prob(x)
        best = np.argsort(-p, kind="stable")
        return Reading(r.candidates, r.lexical, self.lexical.prob(r.lexical), [order[k] for k in best], p[best])

    def quoted(self, r: Read, mode: str, nearly: float, lead_threshold: float = 2.0):
        """(the sentences quoted, the lead line) as bot/answering/extractive.choose picks them with these settings."""
        return choose(r.question["question"], r.passages, self.reading(r, mode), Choices(nearly, lead_threshold))
