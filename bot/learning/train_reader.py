"""`articlebot train-reader`: learn the reader and the gate (bot/answering/reader.py) from quiz questions over a store,
an articles file or training folders.

Every question is read in the corpus and out of it (bot/learning/training_reads.py). Weeks, not questions, are split
into training and validation (seeded), so no week is on both sides. The models are fitted on the training weeks
(bot/learning/stages.py, bot/learning/logistic.py); which reader, how many sentences to quote, the gate's threshold,
the lead line's threshold and when to overrule an LLM's NOT FOUND are chosen on the validation weeks
(bot/learning/thresholds.py), for the rates stated in docs/reader.md. The model and its manifest are written here.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from bot.answering.features import FULL
from bot.answering.reader import POOL_CROSS, save
from bot.learning import thresholds
from bot.learning.evaluate import validation_weeks as week_split
from bot.learning.logistic import SEED, boosted_p_at_1
from bot.learning.stages import Stages
from bot.learning.training_reads import Read, read_questions  # Read: where earlier runs' pickled reads find it


def data_digest(questions_path: Path, chunk_ids: list[str]) -> str:
    """sha256 of the question file and of the store's chunk ids: what the model was trained on."""
    h = hashlib.sha256(Path(questions_path).read_bytes())
    for cid in sorted(chunk_ids):
        h.update(cid.encode())
    return h.hexdigest()


def train(
    retriever,
    embedder,
    questions_path: Path,
    out: Path,
    top_k: int = 5,
    log=print,
    cache: Path | None = None,
    reads: tuple | None = None,
    cross=None,
) -> dict:
    """Fit and choose everything; write the model and its manifest to `out`; return the validation report.

    `cache`: a file keeping the questions' passages, features and embedded similarities between runs (for trying
    out changes to the fitting and choosing; delete it when the retrieval or the features change). `reads`: the
    reads already made (bot/learning/training_reads.py: (reads, validation weeks, chunk ids)), from several folders.
    `cross`: the fine-tuned cross-encoder (bot/answering/cross_encoder.CrossEncoder); the reader with it (its
    probability alone, or stacked into the logistic model) is measured against the two-stage logistic one, and the
    best ships.
    """
    from bot.answering.extractive import MAX_SENTENCES
    from bot.learning.metrics import load_questions

    started = time.perf_counter()
    questions = load_questions(questions_path)
    chunk_ids = None
    if reads is not None:
        rows, validation_weeks, chunk_ids = reads
    else:
        validation_weeks = week_split(questions)  # the split `articlebot eval --split` uses
    log(f"{len(questions)} questions, {len(validation_weeks)} validation weeks: {', '.join(sorted(validation_weeks))}")
    if reads is None and cache is not None and cache.is_file():
        import pickle

        rows = pickle.loads(cache.read_bytes())
    elif reads is None:
        rows = read_questions(retriever, top_k, questions, validation_weeks, None)
    log(f"read in {time.perf_counter() - started:.0f} s")
    fitting = [r for r in rows if not r.validation]
    held = [r for r in rows if r.validation]
    stages = Stages.fit(rows, embedder, cross, log)
    lex, pooled = stages.lexical, stages.pooled

    def answerable(rs: list[Read]) -> list[Read]:
        return [r for r in rs if r.in_corpus and r.labels.any()]

    def p_at_1(rs, score) -> float | None:
        hits = [float(r.labels[score(r)]) for r in rs if len(r.candidates)]
        return sum(hits) / len(hits) if hits else None

    report: dict = {"questions": len(questions), "validation_weeks": sorted(validation_weeks)}
    val_answerable = answerable(held)
    report["validation_answerable_read"] = len(val_answerable)
    report["p_at_1"] = {
        "first sentence of the top passage": p_at_1(val_answerable, lambda r: 0),
        "lexical logistic": p_at_1(val_answerable, lambda r: int(np.argmax(lex.prob(r.lexical)))),
        "two-stage logistic": p_at_1(val_answerable, lambda r: stages.reading(r, "two-stage").pool[0]),
        "two-stage, boosted trees (scikit-learn)": boosted_p_at_1(
            [(pooled[id(r)][1], r.labels[pooled[id(r)][0]]) for r in answerable(fitting)],
            [(pooled[id(r)][1], r.labels[pooled[id(r)][0]]) for r in val_answerable],
            len(FULL),
        ),
    }
    modes = ["two-stage"]
    if cross is not None:
        modes += ["cross", "stacked"]
        report["p_at_1"]["cross-encoder alone"] = p_at_1(val_answerable, lambda r: stages.reading(r, "cross").pool[0])
        report["p_at_1"]["cross-encoder stacked into the logistic model"] = p_at_1(
            val_answerable, lambda r: stages.reading(r, "stacked").pool[0]
        )

    top = {
        "two-stage": report["p_at_1"]["two-stage logistic"],
        "cross": report["p_at_1"].get("cross-encoder alone"),
        "stacked": report["p_at_1"].get("cross-encoder stacked into the logistic model"),
    }
    mode, nearly, grid = thresholds.sentences(stages, val_answerable, modes, top)
    use_full = mode != "lexical"
    report["sentences"] = {
        f"{k[0]} {k[1]}": {"answer_in_quotes": round(a, 3), "mean_sentences": round(c, 2)} for k, (a, c) in grid.items()
    }
    report["use_full"] = use_full
    report["mode"] = mode
    report["nearly"] = nearly
    with_cross = mode in ("cross", "stacked")

    gate, threshold, report["gate"], vp = thresholds.gate(stages, fitting, held, mode)
    gated = [r for r, _ in thresholds.gated(held)]
    answered = [r for r, p in zip(gated, vp) if p >= threshold and r.in_corpus]
    lead_threshold, report["lead"] = thresholds.lead(stages, answered, mode, nearly, log)
    # what the deciding gate lets through: the trained one, or the rule (`Verdict.covered`) while it decides
    through = [
        r for r, p in zip(gated, vp) if (p >= threshold if report["gate"]["use_trained_gate"] else r.verdict.covered)
    ]
    overrule, report["overrule"] = thresholds.overrule(stages, through, mode)

    if cache is not None:
        import pickle

        cache.write_bytes(pickle.dumps(rows))
    ids = chunk_ids if chunk_ids is not None else retriever.index().ids
    model = {
        "lexical": lex.as_json(),
        "full": stages.full.as_json(),
        "gate": gate.as_json(),
        "overrule": round(overrule, 6),
        "gate_threshold": round(threshold, 6),
        "use_full": use_full,
        "use_gate": report["gate"]["use_trained_gate"],
        "lead_threshold": lead_threshold,
        "nearly": nearly,
        "max_sentences": MAX_SENTENCES,
        "seed": SEED,
        "training_data": data_digest(questions_path, ids),
        "training_questions": len(questions),
        "training_chunks": len(ids),
        "validation": json.loads(json.dumps(report, default=float)),
    }
    extra = {}
    if with_cross:
        import shutil

        from bot.answering.cross_encoder import ADAPTER_FILE

        model["cross"] = {"mode": mode, "pool": POOL_CROSS, "sha256": cross.sha}
        if mode == "stacked" and stages.stacked is not None:
            model["stacked"] = stages.stacked.as_json()
        out.mkdir(parents=True, exist_ok=True)
        if cross.adapters.resolve() != (out / ADAPTER_FILE).resolve():
            shutil.copyfile(cross.adapters, out / ADAPTER_FILE)
        extra[ADAPTER_FILE] = cross.sha
    report["sha256"] = save(out, model, extra)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main(
    settings,
    questions: list[str],
    out: str | None,
    articles: str | None = None,
    cache: str | None = None,
    cross: bool = False,
    cross_from: str | None = None,
    epochs: int = 1,
) -> int:
    """`questions`: one questions.jsonl (with --articles, or over the store), or training folders each holding
    questions.jsonl and articles.jsonl.gz (read with BM25, bot/learning/training_reads.py). `cross`: fine-tune the
    cross-encoder first (needs torch); `cross_from`: its adapters from an earlier run."""
    from bot.answering.reader import MODEL_DIR
    from vectorstore.embeddings import build_embedder
    from vectorstore.retrieval import Retriever
    from vectorstore.store import open_store

    paths = [Path(q) for q in questions]
    folders = [p for p in paths if p.is_dir()]
    for p in [p for p in paths if not p.is_dir()] + ([Path(articles)] if articles else []):
        if not p.is_file():
            print(f"articlebot: no such file: {p}", file=sys.stderr)
            return 2
    for f in folders:
        if not (f / "questions.jsonl").is_file() or not (f / "articles.jsonl.gz").is_file():
            print(f"articlebot: {f} holds no questions.jsonl and articles.jsonl.gz", file=sys.stderr)
            return 2
    target = Path(out) if out else MODEL_DIR

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    embedder = build_embedder(settings)
    if folders:
        import tempfile

        from bot.answering.cross_encoder import ADAPTER_FILE, CrossEncoder
        from bot.learning import training_reads

        reads = training_reads.cached(
            Path(cache) if cache else Path(tempfile.mkdtemp()) / "reads.pkl", folders, settings, settings.top_k, log
        )
        merged = _merged_questions(folders)
        encoder = None
        if cross or cross_from:
            adapters = Path(cross_from) if cross_from else target / ADAPTER_FILE
            if not cross_from:
                from bot.answering.reader import default_reader
                from bot.learning.train_cross import train as fine_tune

                target.mkdir(parents=True, exist_ok=True)
                log(json.dumps(fine_tune(reads[0], default_reader().lexical, POOL_CROSS, adapters, epochs, log)))
            encoder = CrossEncoder(settings.model_dir, adapters)
        report = train(None, embedder, merged, target, top_k=settings.top_k, log=log, reads=reads, cross=encoder)
    elif articles:
        from bot.learning.article_retriever import ArticleRetriever

        started = time.perf_counter()
        retriever = ArticleRetriever(Path(articles), settings)
        log(f"{len(retriever.passages)} passages indexed in {time.perf_counter() - started:.0f} s")
        report = train(
            retriever, embedder, paths[0], target, top_k=settings.top_k, log=log, cache=Path(cache) if cache else None
        )
    else:
        store = open_store(settings)
        try:
            report = train(
                Retriever(settings, store, embedder), embedder, paths[0], target, top_k=settings.top_k, log=log
            )
        finally:
            store.close()
    print(json.dumps(report, indent=1, default=float))
    return 0


def _merged_questions(folders: list[Path]) -> Path:
    """All folders' questions in one file beside the model's temporary work: the training-data digest covers them."""
    import tempfile

    merged = Path(tempfile.mkdtemp()) / "questions.jsonl"
    merged.write_bytes(b"".join((f / "questions.jsonl").read_bytes() for f in folders))
    return merged
