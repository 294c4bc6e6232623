"""The training reads: every training question's retrieved passages and candidate sentences, from several folders.

A folder is a `questions.jsonl` with its `articles.jsonl.gz` (shared/train/realtimeqa-train, realtimeqa-more).
Each folder's questions are read against its own articles (bot/learning/train_reader.py's `_reads`: in the corpus, and
out of it with the question's own weeks removed). The validation weeks: the first folder's seeded split (the 8
weeks `articlebot eval --split validation` uses, kept fixed), plus a seeded share of every further folder's weeks
(more validation questions make choices steadier); none of them is trained on. The reads are cached in one pickle,
since reading ~3,500 questions costs minutes and every fitting step after it reuses them.
"""

from __future__ import annotations

import pickle
import random
import time
from pathlib import Path

from bot.learning.evaluate import validation_weeks, week_of
from bot.learning.metrics import load_questions

EXTRA_VALIDATION_SHARE = 0.12  # of a further folder's weeks: 11 of realtimeqa-more's 91
EXTRA_SEED = 26


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
    from bot.learning.train_reader import ArticleRetriever, _reads

    sets = [load_questions(f / "questions.jsonl") for f in folders]
    held = split_weeks(sets)
    reads, ids = [], []
    for folder, questions in zip(folders, sets):
        started = time.perf_counter()
        retriever = ArticleRetriever(folder / "articles.jsonl.gz", settings)
        log(f"{folder.name}: {len(retriever.passages)} passages indexed in {time.perf_counter() - started:.0f} s")
        reads += _reads(retriever, top_k, questions, held, None)
        ids += retriever.ids
        log(f"{folder.name}: {len(questions)} questions read in {time.perf_counter() - started:.0f} s")
    return reads, held, ids


def cached(path: Path, folders: list[Path], settings, top_k: int, log=print):
    if path.is_file():
        return pickle.loads(path.read_bytes())
    out = build(folders, settings, top_k, log)
    path.write_bytes(pickle.dumps(out))
    return out
