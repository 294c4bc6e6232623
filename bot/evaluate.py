"""`articlebot eval`: retrieval and answer quality on a question file, with the metrics of shared/eval/README.md."""
from __future__ import annotations

import json
import re
import statistics
import sys
import time
from datetime import datetime

from bot.metrics import answer_in_reply, answer_rank, load_questions, normalise

_MARKER = re.compile(r"\[(\d+)\]")


def citation_marks(reply: str) -> list[tuple[str, int]]:
    """(the text a marker is attached to, its number) for every [n] in a reply."""
    marks, start, claim = [], 0, ""
    for m in _MARKER.finditer(reply):
        between = reply[start:m.start()]
        if between.strip(" ,;.") or not marks:  # "claim [1] [2]": both markers belong to the same claim
            claim = between
        marks.append((claim, int(m.group(1))))
        start = m.end()
    return marks


def citation_correct(claim: str, cited: str, answer: str) -> bool:
    """A marker is right when its chunk contains the sentence it follows, or the fact (the gold answer) in it."""
    claim_n, cited_n, answer_n = normalise(claim), normalise(cited), normalise(answer)
    if claim_n and claim_n in cited_n:
        return True
    return bool(answer_n) and answer_n in claim_n and answer_n in cited_n


def question_as_of(question: dict) -> datetime | None:
    """The end of the day a quiz question was asked: what "this week" meant to it."""
    raw = (question.get("date") or "").replace("/", "-")
    try:
        return datetime.fromisoformat(raw).replace(hour=23, minute=59)
    except ValueError:
        return None


def evaluate(engine, questions: list[dict], k: int = 5, progress=None) -> dict:
    rows, ranks, in_reply, marks_total, marks_ok, latencies = [], [], [], 0, 0, []
    for q in questions:
        as_of = question_as_of(q)
        started = time.perf_counter()
        passages = engine.retrieve(q["question"], k=k, as_of=as_of)
        answer = engine.answerer.answer(q["question"], passages, [])
        latencies.append(time.perf_counter() - started)
        texts = [p.text for p in passages]
        rank = answer_rank(q["answer"], texts)
        ranks.append(rank)
        in_reply.append(answer_in_reply(q["answer"], answer.text))
        cited = {c.n: c.text for c in answer.citations}
        for claim, n in citation_marks(answer.text):
            marks_total += 1
            marks_ok += citation_correct(claim, cited.get(n, ""), q["answer"])
        rows.append({"id": q.get("id"), "question": q["question"], "answer": q["answer"], "as_of": str(as_of or ""),
                     "rank": rank, "retrieved": texts, "reply": answer.text,
                     "citations": [c.__dict__ for c in answer.citations]})
        if progress:
            progress()
    n = len(questions) or 1
    metrics = {
        "questions": len(questions),
        f"answer_recall@{k}": sum(r is not None for r in ranks) / n,
        f"mrr@{k}": sum(1 / r for r in ranks if r) / n,
        "answer_in_reply": sum(in_reply) / n,
        "citation_precision": marks_ok / marks_total if marks_total else None,
        "latency_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "answerer": engine.answerer.name,
    }
    return {"metrics": metrics, "questions": rows}


def run_eval(engine, path: str, k: int = 5, limit: int = 0, as_json: bool = False) -> int:
    try:
        questions = [q for q in load_questions(path) if q.get("answerable", True)]
    except (OSError, ValueError) as exc:
        print(f"articlebot: cannot read questions from {path}: {exc}", file=sys.stderr)
        return 2
    if limit:
        questions = questions[:limit]
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(questions), unit=" questions", file=sys.stderr)
    result = evaluate(engine, questions, k=k, progress=bar.update if bar else None)
    if bar:
        bar.close()
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    m = result["metrics"]
    print("| metric | value |\n|---|---|")
    for key, value in m.items():
        shown = f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))
        print(f"| {key} | {shown} |")
    return 0
