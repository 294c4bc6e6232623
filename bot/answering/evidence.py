"""Focused evidence for the LLM: the retrieved passages' best sentences with their neighbours, not whole chunks.

Five 512-token chunks are ~2,600 prompt tokens; a small local model loses the question in that much text, and on
a CPU reading the prompt is most of its latency. The sentences are scored the way the extractive answerer scores
them (idf-weighted overlap with the question, then embedding similarity for the best few) and each chosen one is
sent with the sentence before and after it, so a pronoun keeps its referent. Passages with nothing chosen are left
out; the prompt numbers only what it sends, and `Excerpt.index` maps a number back to the retrieved passage.
With the cross-encoder reader (bot/answering/cross_encoder.py), the pool is re-scored by it instead of by the similarity:
the sentence the offline reader would quote first is the one the model hears first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vectorstore.analysis import idf_weights, terms
from vectorstore.passages import Passage
from vectorstore.sentences import split

SENTENCES = 6  # best sentences sent (each with its neighbours)
PER_PASSAGE = 3  # at most this many of them from one passage, so a second source gets a say
POOL = 16  # sentences re-scored by embedding similarity
NEIGHBOURS = 1  # sentences sent either side of a chosen one
GAP = " … "


@dataclass
class Excerpt:
    index: int  # position of the passage in the retrieved list
    text: str


def focus(
    question: str,
    passages: list[Passage],
    embedder,
    sentences: int = SENTENCES,
    best_passage: int | None = None,
    cross=None,
) -> list[Excerpt]:
    """The excerpts to send, in retrieval order. `best_passage` (the gate's) always contributes its best sentence.
    `cross`: the reader's cross-encoder, which then ranks the pool."""
    split_passages = [split(p.text) for p in passages]
    cands = [(pi, si, s) for pi, ss in enumerate(split_passages) for si, s in enumerate(ss) if len(s.split()) >= 3]
    if not cands:
        return [Excerpt(i, p.text.strip()) for i, p in enumerate(passages)]
    q_terms = set(terms(question))
    sent_terms = [set(terms(s)) for _, _, s in cands]
    idf = idf_weights(q_terms, sent_terms)
    total = sum(idf.values()) or 1.0
    lexical = [sum(idf[t] for t in ts & q_terms) / total + 0.05 / (1 + pi) for (pi, _, _), ts in zip(cands, sent_terms)]
    pool = sorted(range(len(cands)), key=lambda i: -lexical[i])[:POOL]
    score = {i: lexical[i] for i in pool}
    if cross is not None and len(pool) > 1:
        from bot.answering.cross_encoder import pair

        pairs = [
            pair(
                question,
                cands[i][2],
                passages[cands[i][0]].title,
                passages[cands[i][0]].published,
                _before(cands[i], split_passages),
            )
            for i in pool
        ]
        score = {i: float(logit) for i, logit in zip(pool, cross.logits(pairs))}
    elif embedder is not None and len(pool) > 1:
        vectors = np.array(embedder.embed_documents([question] + [cands[i][2] for i in pool]))
        for i, sim in zip(pool, vectors[1:] @ vectors[0]):
            score[i] += float(sim)
    ranked = sorted(pool, key=lambda i: -score[i])
    chosen: list[int] = []
    per: dict[int, int] = {}
    if best_passage is not None:  # the passage the gate found the answer's words in is always heard
        first = next((i for i in ranked if cands[i][0] == best_passage), None)
        if first is not None:
            chosen.append(first)
            per[best_passage] = 1
    for i in ranked:
        if len(chosen) >= sentences:
            break
        pi = cands[i][0]
        if i in chosen or per.get(pi, 0) >= PER_PASSAGE:
            continue
        chosen.append(i)
        per[pi] = per.get(pi, 0) + 1
    keep: dict[int, set[int]] = {}
    for i in chosen:
        pi, si, _ = cands[i]
        n = len(split_passages[pi])
        keep.setdefault(pi, set()).update(range(max(0, si - NEIGHBOURS), min(n, si + NEIGHBOURS + 1)))
    out = []
    for pi in sorted(keep):
        text, last = "", None
        for si in sorted(keep[pi]):
            sep = "" if last is None else (" " if si == last + 1 else GAP)
            text += sep + split_passages[pi][si]
            last = si
        if last is not None and last < len(split_passages[pi]) - 1:
            text += GAP.rstrip()
        if min(keep[pi]) > 0:
            text = GAP.lstrip() + text
        out.append(Excerpt(pi, text))
    return out


def _before(cand: tuple[int, int, str], split_passages: list[list[str]]) -> str:
    pi, si, _ = cand
    return split_passages[pi][si - 1] if si > 0 else ""
