"""The training reads: every training question's retrieved passages and candidate sentences, from several folders.

For every question (asked as of its date, as `articlebot eval` asks it):
- in the corpus: the passages the engine retrieves; each quotable sentence is a positive when it holds the
  normalised answer (bot/learning/metrics.py), else a negative. The question is a positive for the gate when a
  retrieved passage holds the answer.
- out of the corpus: the same question against the store without its own weeks: only articles published more than
  OOC_GAP_DAYS before it (the quiz weeks are three weeks apart, so none of its own or later weeks' articles) and
  none of whose retrieved passages holds the answer. A negative for the gate.

A folder is a `questions.jsonl` with its `articles.jsonl.gz` (shared/train/realtimeqa-train, realtimeqa-more).
Each folder's questions are read against its own articles (bot/learning/article_retriever.py). The validation
weeks: the first folder's seeded split (the 8 weeks `articlebot eval --split validation` uses, kept fixed), plus a
seeded share of every further folder's weeks (more validation questions make choices steadier); none of them is
trained on. The reads are cached in one pickle, since reading ~3,500 questions costs minutes and every fitting step
after it reuses them.
"""

from __future__ import annotations

import pickle
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from bot.answering.features import lexical_features
from bot.learning.evaluate import validation_weeks, week_of
from bot.learning.metrics import load_questions

OOC_GAP_DAYS = 21
OOC_DEPTH = 15  # passages retrieved before those holding the answer are dropped
EXTRA_VALIDATION_SHARE = 0.12  # of a further folder's weeks: 11 of realtimeqa-more's 91
EXTRA_SEED = 26


@dataclass
class Read:
    """One question's retrieval, read the way the answerer reads it."""

    question: dict
    validation: bool
    in_corpus: bool
    passages: list
    verdict: object
    candidates: list
    lexical: np.ndarray
    labels: np.ndarray
    holds_answer: bool  # a retrieved passage holds the answer
    sims: dict = field(default_factory=dict)  # candidate index → similarity to the question


def read_questions(retriever, top_k, questions, validation_weeks, progress) -> list[Read]:
    """Every question read in the corpus and, when it has a date, out of it (the module's docstring)."""
    from bot.answering.extractive import candidates
    from bot.answering.gate import judge
    from bot.learning.evaluate import question_as_of
    from bot.learning.metrics import normalise
    from vectorstore.retrieval import Filters
    from vectorstore.sentences import split

    vocabulary = retriever.vocabulary()
    out = []
    for q in questions:
        as_of = question_as_of(q)
        answer = normalise(q["answer"])
        validation = (q.get("week") or q.get("date", "")[:7]) in validation_weeks
        runs = [(True, retriever.search(q["question"], k=top_k, filters=Filters(as_of=as_of)))]
        if as_of is not None:
            until = (as_of - timedelta(days=OOC_GAP_DAYS)).date()
            deep = retriever.search(q["question"], k=OOC_DEPTH, filters=Filters(as_of=as_of, until=until))
            runs.append((False, [p for p in deep if answer not in normalise(p.text)][:top_k]))
        for in_corpus, passages in runs:
            cands = candidates(q["question"], passages)
            sentences = {i: split(p.text) for i, p in enumerate(passages)}
            lexical = lexical_features(q["question"], cands, passages, sentences.__getitem__)
            labels = np.array([bool(answer) and answer in normalise(c.text) for c in cands], dtype=float)
            out.append(
                Read(
                    q,
                    validation,
                    in_corpus,
                    passages,
                    judge(q["question"], passages, vocabulary),
                    cands,
                    lexical,
                    labels,
                    any(answer and answer in normalise(p.text) for p in passages),
                )
            )
        if progress:
            progress()
    return out


def split_weeks(folders: list[list[dict]]) -> set[str]:
    """The validation weeks of all folders: the first folder's own split, a seeded share of each further one's."""
    held = set(validation_weeks(folders[0])) if folders else set()
    for questions in folders[1:]:
        weeks = sorted({week_of(q) for q in questions} - held)
        n = round(EXTRA_VALIDATION_SHARE * len(weeks))
        held |= set(random.Random(EXTRA_SEED).sample(weeks, n))
    return held


def build(folders: list[Path], settings, top_k: int, log=print) -> tuple[list, set[str], list[str]]:
    """(reads of every folder's questions, the validation weeks, the chunk ids read from) ."""
    from bot.learning.article_retriever import ArticleRetriever

    sets = [load_questions(f / "questions.jsonl") for f in folders]
    held = split_weeks(sets)
    reads, ids = [], []
    for folder, questions in zip(folders, sets):
        started = time.perf_counter()
        retriever = ArticleRetriever(folder / "articles.jsonl.gz", settings)
        log(f"{folder.name}: {len(retriever.passages)} passages indexed in {time.perf_counter() - started:.0f} s")
        reads += read_questions(retriever, top_k, questions, held, None)
        ids += retriever.ids
        log(f"{folder.name}: {len(questions)} questions read in {time.perf_counter() - started:.0f} s")
    return reads, held, ids


def cached(path: Path, folders: list[Path], settings, top_k: int, log=print):
    if path.is_file():
        return pickle.loads(path.read_bytes())
    out = build(folders, settings, top_k, log)
    path.write_bytes(pickle.dumps(out))
    return out
