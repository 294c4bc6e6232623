"""`articlebot eval`: retrieval and answer quality on question files, with the metrics of shared/eval/README.md.

Training questions (shared/train/realtimeqa-train) are split by week, seeded (`validation_weeks`): the reader, the
gate and the retrieval weights are fitted on the training weeks and chosen on the validation weeks; `--split`
evaluates either side. The dev questions (shared/eval) are for reporting only.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import time
from datetime import datetime

from bot.learning.metrics import (
    answer_in_reply,
    answer_rank,
    is_echo,
    is_fragment,
    is_question,
    load_questions,
    normalise,
    quoted_sentences,
)

_MARKER = re.compile(r"\[(\d+)\]")
SPLIT_SEED = 21
VALIDATION_SHARE = 0.25
SPLITS = ("validation", "training")


def week_of(question: dict) -> str:
    return question.get("week") or question.get("date", "")[:7]


def validation_weeks(questions: list[dict], seed: int = SPLIT_SEED, share: float = VALIDATION_SHARE) -> set[str]:
    """The validation weeks: a seeded sample of a quarter of the distinct weeks (the rest are for training)."""
    weeks = sorted({week_of(q) for q in questions})
    n = max(1, round(share * len(weeks))) if len(weeks) > 1 else 0
    return set(random.Random(seed).sample(weeks, n))


def split_questions(questions: list[dict], split: str | None) -> list[dict]:
    """The questions of one side of the week split ("validation" or "training"); all of them for None."""
    if split is None:
        return questions
    held = validation_weeks(questions)
    return [q for q in questions if (week_of(q) in held) == (split == "validation")]


def citation_marks(reply: str) -> list[tuple[str, int]]:
    """(the text a marker is attached to, its number) for every [n] in a reply."""
    marks: list[tuple[str, int]] = []
    start, claim = 0, ""
    for m in _MARKER.finditer(reply):
        between = reply[start : m.start()]
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


def same_answer(lead: str, gold: str) -> bool:
    """A direct answer line is right when it holds the gold answer or the gold answer holds it ("Bills"), as whole
    words: a lead line "3" is not the "2023" of the answer."""
    a, b = f" {normalise(lead)} ", f" {normalise(gold)} "
    return bool(a.strip() and b.strip()) and (a in b or b in a)


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


REFUSING_SHARE = 0.8  # a model that says NOT FOUND to this share of the questions it reads is flagged


def evaluate(engine, questions: list[dict], k: int = 5, progress=None) -> dict:
    """Every question asked as of its date; answerable ones give retrieval and answer metrics, `out_of_corpus`
    ones the abstention rate. An abstention is a reply that cites nothing (shared/eval/README.md)."""
    rows, latencies = [], []
    counts = getattr(engine.answerer, "counts", None)  # the LLM answerer's: what the model did with each question
    before = dict(counts) if counts is not None else None
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
        rows.append(
            {
                "id": q.get("id"),
                "question": q["question"],
                "answer": q["answer"],
                "as_of": str(as_of or ""),
                "answerable": bool(q.get("answerable", True)),
                "supported": bool(q.get("supported")),
                "out_of_corpus": bool(q.get("out_of_corpus")),
                # only a reply that cites answers: a "not covered" reply naming the closest title does not
                "rank": answer_rank(q["answer"], texts),
                "in_reply": bool(marks) and answer_in_reply(q["answer"], answer.text),
                "abstained": not marks,
                "lead": answer.lead if marks else "",
                "lead_ok": bool(marks and answer.lead) and same_answer(answer.lead, q["answer"]),
                "gate": answer.verdict.reason if answer.verdict else "",
                "marks": len(marks),
                "marks_ok": sum(citation_correct(claim, cited.get(n, ""), q["answer"]) for claim, n in marks),
                "quoted": quoted,
                "questions_quoted": sum(map(is_question, quoted)),
                "echoes": sum(is_echo(s, q["question"]) for s in quoted),
                "fragments": sum(map(is_fragment, quoted)),
                "retrieved": texts,
                "reply": answer.text,
                "citations": [c.__dict__ for c in answer.citations],
            }
        )
        if progress:
            progress()
    answerable = [r for r in rows if r["answerable"]]
    supported = [r for r in answerable if r["supported"]]
    had_it = [r for r in supported if r["rank"] is not None]
    answered = [r for r in rows if not r["abstained"]]
    n_quoted = sum(len(r["quoted"]) for r in rows)
    n_marks = sum(r["marks"] for r in rows)
    n = len(answerable)

    def per_100(key: str) -> float | None:
        return 100 * sum(r[key] for r in rows) / n_quoted if n_quoted else None

    metrics = {
        "questions": len(rows),
        "answerable": n,
        f"answer_recall@{k}": sum(r["rank"] is not None for r in answerable) / n if n else None,
        f"mrr@{k}": sum(1 / r["rank"] for r in answerable if r["rank"]) / n if n else None,
        "answer_in_reply": _share([r["in_reply"] for r in answerable]),
        "answer_in_reply_supported": _share([r["in_reply"] for r in supported]),
        "abstention_out_of_corpus": _share([r["abstained"] for r in rows if r["out_of_corpus"]]),
        "false_abstention": _share([r["abstained"] for r in had_it]),
        "lead_lines": sum(bool(r["lead"]) for r in rows),
        "lead_accuracy": _share([r["lead_ok"] for r in rows if r["lead"]]),
        "wrong_leads_per_100_answered": (
            100 * sum(bool(r["lead"]) and not r["lead_ok"] for r in answered) / len(answered) if answered else None
        ),
        "citation_precision": sum(r["marks_ok"] for r in rows) / n_marks if n_marks else None,
        "quoted_sentences": n_quoted,
        "quoted_questions_per_100": per_100("questions_quoted"),
        "echoes_per_100": per_100("echoes"),
        "fragments_per_100": per_100("fragments"),
        "latency_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "answerer": engine.answerer.name,
    }
    if counts is not None and before is not None:
        done = {key: counts[key] - before.get(key, 0) for key in counts}
        asked = sum(done.values())
        # a model that refuses (nearly) everything shows here: its replies are then the quotes, with a note
        metrics["llm_answered"] = done["answered"]
        metrics["llm_said_not_found"] = done["overruled"] + done["not_found"]
        metrics["llm_no_answer_of_its_own"] = done["uncited"] + done["restated"]
        metrics["llm_unreachable"] = done["unreachable"]
        metrics["llm_refusal_share"] = metrics["llm_said_not_found"] / asked if asked else None
    return {"metrics": metrics, "questions": rows}


def _label(path: str, split: str | None) -> str:
    from pathlib import Path

    parent = Path(path).parent.name
    label = f"{parent}/{Path(path).name}" if parent else Path(path).name
    return f"{label} ({split})" if split else label


def run_eval(
    engine, paths: list[str] | str, k: int = 5, limit: int = 0, as_json: bool = False, split: str | None = None
) -> int:
    """Evaluate each question file (one side of its week split with `split`) and print one column per file."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    sets = []
    for path in paths:
        try:
            questions = [q for q in load_questions(path) if q.get("answerable", True) or q.get("out_of_corpus")]
        except (OSError, ValueError) as exc:
            print(f"articlebot: cannot read questions from {path}: {exc}", file=sys.stderr)
            return 2
        questions = split_questions(questions, split)
        if limit:
            questions = questions[:limit]
        sets.append((_label(path, split), path, questions))
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=sum(len(q) for _, _, q in sets), unit=" questions", file=sys.stderr)
    results = []
    for label, path, questions in sets:
        result = evaluate(engine, questions, k=k, progress=bar.update if bar else None)
        results.append({"file": path, "split": split, "label": label, **result})
    if bar:
        bar.close()
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else {"runs": results}, indent=2, ensure_ascii=False))
        return 0
    print("| metric | " + " | ".join(r["label"] for r in results) + " |")
    print("|---" * (len(results) + 1) + "|")
    for key in results[0]["metrics"]:
        shown = []
        for r in results:
            value = r["metrics"][key]
            shown.append(f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value)))
        print(f"| {key} | " + " | ".join(shown) + " |")
    refusing = [r["label"] for r in results if (r["metrics"].get("llm_refusal_share") or 0) >= REFUSING_SHARE]
    if refusing:
        print(
            f"\nnote: the language model said NOT FOUND to most questions it was asked ({', '.join(refusing)}); "
            "those replies are the quotes with a note. It may be too small for this (docs/llm.md)."
        )
    return 0
