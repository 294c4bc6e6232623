"""`articlebot eval`: retrieval and answer quality on a question file, with the metrics of shared/eval/README.md."""
from __future__ import annotations

import json
import re
import statistics
import sys
import time
from datetime import datetime

from bot.metrics import (answer_in_reply, answer_rank, is_echo, is_fragment, is_question, load_questions, normalise,
                         quoted_sentences)

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


def _same_answer(lead: str, gold: str) -> bool:
    """A direct answer line is right when it holds the gold answer or the gold answer holds it ("Bills")."""
    a, b = normalise(lead), normalise(gold)
    return bool(a and b) and (a in b or b in a)


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def evaluate(engine, questions: list[dict], k: int = 5, progress=None) -> dict:
    """Every question asked as of its date; answerable ones give retrieval and answer metrics, `out_of_corpus`
    ones the abstention rate. An abstention is a reply that cites nothing (shared/eval/README.md)."""
    rows, latencies = [], []
    for q in questions:
        as_of = question_as_of(q)
        started = time.perf_counter()
        passages = engine.retrieve(q["question"], k=k, as_of=as_of)
        answer = engine.answer(q["question"], passages)
        latencies.append(time.perf_counter() - started)
        texts = [p.text for p in passages]
        cited = {c.n: c.text for c in answer.citations}
        marks = citation_marks(answer.text)
        quoted = quoted_sentences(answer.text) if marks else []
        rows.append({"id": q.get("id"), "question": q["question"], "answer": q["answer"], "as_of": str(as_of or ""),
                     "answerable": bool(q.get("answerable", True)), "supported": bool(q.get("supported")),
                     "out_of_corpus": bool(q.get("out_of_corpus")),
                     "rank": answer_rank(q["answer"], texts), "in_reply": answer_in_reply(q["answer"], answer.text),
                     "abstained": not marks, "lead": answer.lead,
                     "lead_ok": bool(answer.lead) and _same_answer(answer.lead, q["answer"]), "gate": answer.verdict.reason if answer.verdict else "",
                     "marks": len(marks), "marks_ok": sum(citation_correct(claim, cited.get(n, ""), q["answer"])
                                                          for claim, n in marks),
                     "quoted": quoted, "questions_quoted": sum(map(is_question, quoted)),
                     "echoes": sum(is_echo(s, q["question"]) for s in quoted),
                     "fragments": sum(map(is_fragment, quoted)),
                     "retrieved": texts, "reply": answer.text, "citations": [c.__dict__ for c in answer.citations]})
        if progress:
            progress()
    answerable = [r for r in rows if r["answerable"]]
    supported = [r for r in answerable if r["supported"]]
    had_it = [r for r in supported if r["rank"] is not None]
    quoted = sum(len(r["quoted"]) for r in rows)
    marks = sum(r["marks"] for r in rows)
    n = len(answerable)
    per_100 = (lambda key: 100 * sum(r[key] for r in rows) / quoted if quoted else None)
    metrics = {
        "questions": len(rows),
        "answerable": n,
        f"answer_recall@{k}": sum(r["rank"] is not None for r in answerable) / n if n else None,
        f"mrr@{k}": sum(1 / r["rank"] for r in answerable if r["rank"]) / n if n else None,
        "answer_in_reply": _share([r["in_reply"] for r in answerable]),
        "answer_in_reply_supported": _share([r["in_reply"] for r in supported]),
        "abstention_out_of_corpus": _share([r["abstained"] for r in rows if r["out_of_corpus"]]),
        "false_abstention": _share([r["abstained"] for r in had_it]),
        "direct_answer_lines": sum(bool(r["lead"]) for r in answerable),
        "direct_answer_line_correct": _share([r["lead_ok"] for r in answerable if r["lead"]]),
        "citation_precision": sum(r["marks_ok"] for r in rows) / marks if marks else None,
        "quoted_sentences": quoted,
        "quoted_questions_per_100": per_100("questions_quoted"),
        "echoes_per_100": per_100("echoes"),
        "fragments_per_100": per_100("fragments"),
        "latency_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "answerer": engine.answerer.name,
    }
    return {"metrics": metrics, "questions": rows}


def run_eval(engine, path: str, k: int = 5, limit: int = 0, as_json: bool = False) -> int:
    try:
        questions = [q for q in load_questions(path) if q.get("answerable", True) or q.get("out_of_corpus")]
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
