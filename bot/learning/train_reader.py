"""`articlebot train-reader`: learn the reader and the gate (bot/answering/reader.py) from quiz questions over a store.

For every question (asked as of its date, as `articlebot eval` asks it):
- in the corpus: the passages the engine retrieves; each quotable sentence is a positive when it holds the
  normalised answer (bot/learning/metrics.py), else a negative. The question is a positive for the gate when a retrieved
  passage holds the answer.
- out of the corpus: the same question against the store without its own weeks: only articles published more than
  OOC_GAP_DAYS before it (the quiz weeks are three weeks apart, so none of its own or later weeks' articles) and
  none of whose retrieved passages holds the answer. A negative for the gate.
Weeks, not questions, are split into training and validation (seeded), so no week is on both sides. The models
are fitted on the training weeks; the gate's threshold, the lead line's threshold and how many sentences to quote
are chosen on the validation weeks, for the rates stated in docs/reader.md. Logistic regression is fitted by
Newton's method in numpy (deterministic, no extra dependency); gradient-boosted trees (scikit-learn, when
installed) are fitted too, for comparison only.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from bot.answering.gate import KEY_SHARE
from bot.answering.reader import (
    FULL,
    GATE,
    GATE_CROSS,
    LEXICAL,
    POOL,
    POOL_CROSS,
    STACKED,
    Linear,
    full_features,
    gate_features,
    lexical_features,
    save,
    sigmoid,
)
from bot.learning.evaluate import validation_weeks as week_split

SEED = 21
OOC_GAP_DAYS = 21
OOC_DEPTH = 15  # passages retrieved before those holding the answer are dropped
FALSE_ABSTENTION = 0.04  # the gate's threshold: the highest that abstains on at most this share of answerable ones
WRONG_LEADS = 1.0  # the lead line's threshold: at most this many wrong lead lines per 100 answered
MEAN_SENTENCES = 3.5  # quote the sentences that raise answer-in-reply most, on average no more than today (~3.3)
NEARLY = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.65, 0.8, 0.95)  # the shares of the best's probability tried
OVERRULE_OOC = 0.05  # an LLM's NOT FOUND is overruled on at most this share of the out-of-corpus questions let through
L2 = 1.0


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


def data_digest(questions_path: Path, chunk_ids: list[str]) -> str:
    """sha256 of the question file and of the store's chunk ids: what the model was trained on."""
    h = hashlib.sha256(Path(questions_path).read_bytes())
    for cid in sorted(chunk_ids):
        h.update(cid.encode())
    return h.hexdigest()


def fit(x: np.ndarray, y: np.ndarray, names: list[str], l2: float = L2, iterations: int = 30) -> Linear:
    """L2-regularised logistic regression on standardised features, by Newton's method."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    constant = scale < 1e-9
    mean[constant], scale[constant] = 0.0, 1.0
    z = (x - mean) / scale
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[constant] = 1e-6  # the bias column
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Linear(names, mean, scale, w)


def _reads(retriever, top_k, questions, validation_weeks, progress) -> list[Read]:
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


def _pool(r: Read, lexical_model: Linear, embedder) -> tuple[list[int], np.ndarray]:
    """The candidates the full model sees (as bot/extractive.read picks them) and their full features."""
    probs = lexical_model.prob(r.lexical)
    order = [int(i) for i in np.argsort(-probs, kind="stable")[:POOL]]
    return order, full_features(r.lexical[order], _similarities(r, order, embedder))


def _similarities(r: Read, order: list[int], embedder) -> np.ndarray:
    """The embedding similarities of `order`'s candidates to the question, computed once per candidate."""
    missing = [i for i in order if i not in r.sims]
    if missing:
        vectors = np.array(embedder.embed_documents([r.question["question"]] + [r.candidates[i].text for i in missing]))
        for i, s in zip(missing, vectors[1:] @ vectors[0]):
            r.sims[i] = float(s)
    return np.array([r.sims[i] for i in order])


def _stacked_features(r: Read, order: list[int], logits: np.ndarray) -> np.ndarray:
    return full_features(r.lexical[order], np.array([r.sims[i] for i in order]), logits)


def _stack(rows: list[np.ndarray], width: int) -> np.ndarray:
    return np.vstack(rows) if rows else np.zeros((0, width))


def _boosted_p_at_1(train: list[tuple[np.ndarray, np.ndarray]], val: list[tuple[np.ndarray, np.ndarray]]):
    """Validation precision at 1 of gradient-boosted trees on the same pooled features (comparison only)."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return None
    x = _stack([a for a, _ in train], len(FULL))
    y = np.concatenate([b for _, b in train]) if train else np.zeros(0)
    if len(set(y.tolist())) < 2:
        return None
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, max_leaf_nodes=15, random_state=SEED)
    model.fit(x, y)
    hits = [float(b[int(np.argmax(model.predict_proba(a)[:, 1]))]) for a, b in val if len(a)]
    return sum(hits) / len(hits) if hits else None


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
    `cross`: the fine-tuned cross-encoder (bot/cross_encoder.CrossEncoder); the reader with it (its probability
    alone, or stacked into the logistic model) is measured against the two-stage logistic one, and the best ships.
    """
    from bot.answering.extractive import MAX_SENTENCES, Reading, choose, cross_pairs
    from bot.learning.evaluate import _same_answer
    from bot.learning.metrics import load_questions, normalise

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
        rows = _reads(retriever, top_k, questions, validation_weeks, None)
    log(f"read in {time.perf_counter() - started:.0f} s")
    fitting = [r for r in rows if not r.validation]
    held = [r for r in rows if r.validation]

    def answerable(rs: list[Read]) -> list[Read]:
        return [r for r in rs if r.in_corpus and r.labels.any()]

    # the lexical stage, on every candidate of the training weeks' in-corpus questions
    lex = fit(
        _stack([r.lexical for r in fitting if r.in_corpus], len(LEXICAL)),
        np.concatenate([r.labels for r in fitting if r.in_corpus] or [np.zeros(0)]),
        LEXICAL,
    )
    # the full stage, on the pooled candidates
    pooled = {id(r): _pool(r, lex, embedder) for r in rows if r.in_corpus}
    full = fit(
        _stack([pooled[id(r)][1] for r in fitting if r.in_corpus], len(FULL)),
        np.concatenate([r.labels[pooled[id(r)][0]] for r in fitting if r.in_corpus] or [np.zeros(0)]),
        FULL,
    )

    use_full = True  # set below, from the validation weeks
    mode = "two-stage"  # or, with the cross-encoder, "cross" (its probability alone) or "stacked"
    crossed: dict[int, tuple[list[int], np.ndarray]] = {}
    stacked = None
    if cross is not None:
        t = time.perf_counter()
        for r in rows:  # the pool the run-time reader gives the cross-encoder: the lexical model's best
            order = [int(i) for i in np.argsort(-lex.prob(r.lexical), kind="stable")[:POOL_CROSS]]
            crossed[id(r)] = (order, cross.logits(cross_pairs(r.question["question"], r.passages, r.candidates, order)))
            _similarities(r, order, embedder)
        log(
            f"cross-encoder read {sum(len(o) for o, _ in crossed.values())} sentences in {time.perf_counter() - t:.0f} s"
        )
        stacked = fit(
            _stack([_stacked_features(r, *crossed[id(r)]) for r in fitting if r.in_corpus], len(STACKED)),
            np.concatenate([r.labels[crossed[id(r)][0]] for r in fitting if r.in_corpus] or [np.zeros(0)]),
            STACKED,
        )

    def reading(r: Read, mode_: str | None = None) -> Reading:
        m = mode_ or mode
        if m in ("cross", "stacked"):
            order, logits = crossed[id(r)]
            p = (
                sigmoid(logits)
                if m == "cross" or stacked is None
                else stacked.prob(_stacked_features(r, order, logits))
            )
            best = np.argsort(-p, kind="stable")
            return Reading(
                r.candidates, r.lexical, lex.prob(r.lexical), [order[k] for k in best], p[best], logits[best]
            )
        if not use_full:
            p_lex = lex.prob(r.lexical)
            ranked = [int(i) for i in np.argsort(-p_lex, kind="stable")[:POOL]]
            return Reading(r.candidates, r.lexical, p_lex, ranked, p_lex[ranked])
        order, x = pooled[id(r)] if r.in_corpus else _pool(r, lex, embedder)
        p = full.prob(x)
        best = np.argsort(-p, kind="stable")
        return Reading(r.candidates, r.lexical, lex.prob(r.lexical), [order[k] for k in best], p[best])

    def p_at_1(rs, score) -> float | None:
        hits = [float(r.labels[score(r)]) for r in rs if len(r.candidates)]
        return sum(hits) / len(hits) if hits else None

    report: dict = {"questions": len(questions), "validation_weeks": sorted(validation_weeks)}
    val_answerable = answerable(held)
    report["validation_answerable_read"] = len(val_answerable)
    report["p_at_1"] = {
        "first sentence of the top passage": p_at_1(val_answerable, lambda r: 0),
        "lexical logistic": p_at_1(val_answerable, lambda r: int(np.argmax(lex.prob(r.lexical)))),
        "two-stage logistic": p_at_1(val_answerable, lambda r: reading(r).pool[0]),
        "two-stage, boosted trees (scikit-learn)": _boosted_p_at_1(
            [(pooled[id(r)][1], r.labels[pooled[id(r)][0]]) for r in answerable(fitting)],
            [(pooled[id(r)][1], r.labels[pooled[id(r)][0]]) for r in val_answerable],
        ),
    }
    modes = ["two-stage"]
    if cross is not None:
        modes += ["cross", "stacked"]
        report["p_at_1"]["cross-encoder alone"] = p_at_1(val_answerable, lambda r: reading(r, "cross").pool[0])
        report["p_at_1"]["cross-encoder stacked into the logistic model"] = p_at_1(
            val_answerable, lambda r: reading(r, "stacked").pool[0]
        )

    def quoted(r: Read, nearly: float, lead_threshold: float = 2.0):
        return choose(r.question["question"], r.passages, reading(r), _Choices(nearly, lead_threshold))

    # how many sentences (the share of the best's probability a further one needs): the most answers in the quotes
    # at no more than MEAN_SENTENCES on average
    grid = {}
    for mode in ["lexical"] + modes:
        use_full = mode != "lexical"
        for nearly in NEARLY:
            hits, counts = [], []
            for r in val_answerable:
                picked, _ = quoted(r, nearly)
                text = normalise(" ".join(s for s, _ in picked))
                hits.append(normalise(r.question["answer"]) in text)
                counts.append(len(picked))
            if hits:
                grid[(mode, nearly)] = (sum(hits) / len(hits), sum(counts) / len(counts))
    # the similarity stage is kept whatever these figures say (docs/reader.md): on the project's own test articles
    # the lexical stage alone quoted the wrong article first, and on 89 validation questions the two are within noise
    # the answer in the quotes and in the first of them count alike: a reply is read from its first sentence
    top = {
        "two-stage": report["p_at_1"]["two-stage logistic"],
        "cross": report["p_at_1"].get("cross-encoder alone"),
        "stacked": report["p_at_1"].get("cross-encoder stacked into the logistic model"),
    }
    short = {k: v for k, v in grid.items() if k[0] != "lexical" and v[1] <= MEAN_SENTENCES} or grid
    mode, nearly = (
        max(short, key=lambda k: (short[k][0] + (top.get(k[0]) or 0.0), -short[k][1])) if short else ("two-stage", 0.5)
    )
    use_full = mode != "lexical"
    report["sentences"] = {
        f"{k[0]} {k[1]}": {"answer_in_quotes": round(a, 3), "mean_sentences": round(c, 2)} for k, (a, c) in grid.items()
    }
    report["use_full"] = use_full
    report["mode"] = mode
    report["nearly"] = nearly
    with_cross = mode in ("cross", "stacked")

    # the gate: in-corpus questions whose passages hold the answer against the out-of-corpus ones
    def gate_rows(rs):
        rows, ys = [], []
        for r in rs:
            if r.in_corpus and not r.holds_answer:
                continue
            logits = crossed[id(r)][1] if with_cross else None
            rows.append(gate_features(r.verdict, lex.prob(r.lexical), r.passages, r.lexical, logits))
            ys.append(1.0 if r.in_corpus else 0.0)
        return _stack(rows, len(GATE_CROSS if with_cross else GATE)), np.array(ys)

    gx, gy = gate_rows(fitting)
    gate = fit(gx, gy, GATE_CROSS if with_cross else GATE)
    vx, vy = gate_rows(held)
    # as bot/gate.decide: a question whose names and numbers the passages do not hold is turned down regardless
    keys_ok = np.array([r.verdict.key_share >= KEY_SHARE for r, _ in _gated(held)], dtype=bool)
    vp = np.where(keys_ok, gate.prob(vx), -1.0)
    positives = np.sort(vp[(vy == 1) & keys_ok])  # the model's own share of false abstentions is what is set
    # the highest threshold that turns down at most FALSE_ABSTENTION of the answerable validation questions
    k = int(np.floor(FALSE_ABSTENTION * len(positives)))
    threshold = float(positives[k]) - 1e-9 if len(positives) else 0.5
    report["gate"] = {
        "threshold": threshold,
        "validation_answerable": int((vy == 1).sum()),
        "validation_out_of_corpus": int((vy == 0).sum()),
        "false_abstention": float((vp[vy == 1] < threshold).mean()) if (vy == 1).any() else None,
        "out_of_corpus_abstention": float((vp[vy == 0] < threshold).mean()) if (vy == 0).any() else None,
        "rule_false_abstention": float(np.mean([not r.verdict.covered for r, y in _gated(held) if y]))
        if (vy == 1).any()
        else None,
        "rule_out_of_corpus_abstention": float(np.mean([not r.verdict.covered for r, y in _gated(held) if not y]))
        if (vy == 0).any()
        else None,
    }
    g = report["gate"]
    # the trained gate decides only where it beats the rule on the validation weeks on both counts
    use_gate = None not in g.values() and (
        g["false_abstention"] <= g["rule_false_abstention"]
        and g["out_of_corpus_abstention"] >= g["rule_out_of_corpus_abstention"]
    )
    g["use_trained_gate"] = bool(use_gate)

    # the lead line: the lowest reader probability that keeps wrong lines under WRONG_LEADS per 100 answered
    answered = [r for r, y, p in zip([r for r, _ in _gated(held)], vy, vp) if p >= threshold and r.in_corpus]
    lead_threshold, lead_report = 1.0, {}
    for t in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):  # down from the strictest, while every one passes
        leads = [(lead, r) for r in answered for _, lead in [quoted(r, nearly, t)] if lead]
        wrong = sum(not _same_answer(lead, r.question["answer"]) for lead, r in leads)
        log(f"lead lines at {t}: " + "; ".join(f"{lead!r} for {r.question['answer']!r}" for lead, r in leads[:12]))
        per_100 = 100 * wrong / len(answered) if answered else 0.0
        lead_report[str(t)] = {"lines": len(leads), "wrong": wrong, "wrong_per_100_answered": round(per_100, 2)}
        # a threshold whose lines are mostly wrong adds nothing, however rare they are ("2 million subscribers" for
        # "970,000" and "3.2 million lives" for "3 million" were the only two at 0.3 on the validation weeks)
        if per_100 > WRONG_LEADS or wrong > len(leads) - wrong:
            break
        lead_threshold = t
    report["lead"] = {"threshold": lead_threshold, "grid": lead_report, "answered": len(answered)}

    # an LLM's NOT FOUND is overruled (the quotes shown) only when the reader is this sure: no more often than on
    # OVERRULE_OOC of the out-of-corpus validation questions the gate lets through
    let_through = [r for r, p in zip([r for r, _ in _gated(held)], vp) if p >= threshold]
    ooc_best = np.sort([float(reading(r).probs[0]) for r in let_through if not r.in_corpus and r.candidates])
    overrule = (
        float(ooc_best[min(len(ooc_best) - 1, int(np.ceil((1 - OVERRULE_OOC) * len(ooc_best))))])
        if len(ooc_best)
        else 0.5
    )
    in_best = [float(reading(r).probs[0]) for r in let_through if r.in_corpus and r.candidates]
    report["overrule"] = {
        "threshold": overrule,
        "out_of_corpus_let_through": len(ooc_best),
        "answerable_above": float(np.mean([b >= overrule for b in in_best])) if in_best else None,
    }

    if cache is not None:
        import pickle

        cache.write_bytes(pickle.dumps(rows))
    ids = chunk_ids if chunk_ids is not None else retriever.index().ids
    model = {
        "lexical": lex.as_json(),
        "full": full.as_json(),
        "gate": gate.as_json(),
        "overrule": round(overrule, 6),
        "gate_threshold": round(threshold, 6),
        "use_full": use_full,
        "use_gate": bool(use_gate),
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
        if mode == "stacked" and stacked is not None:
            model["stacked"] = stacked.as_json()
        out.mkdir(parents=True, exist_ok=True)
        if cross.adapters.resolve() != (out / ADAPTER_FILE).resolve():
            shutil.copyfile(cross.adapters, out / ADAPTER_FILE)
        extra[ADAPTER_FILE] = cross.sha
    report["sha256"] = save(out, model, extra)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


@dataclass
class _Choices:
    """What bot/extractive.choose reads from a Reader, with the candidate settings being tried."""

    nearly: float
    lead_threshold: float


def _gated(reads: list[Read]):
    for r in reads:
        if r.in_corpus and not r.holds_answer:
            continue
        yield r, r.in_corpus


class ArticleRetriever:
    """Passages for training straight from an articles.jsonl(.gz), without a store: the articles cleaned and chunked
    as ingest does them (ingest/cleaning.py, ingest/chunking.py), searched with BM25 through the project's analyser,
    with the retriever's time prior and one passage per article. No sentence is embedded, so 5,154 articles are
    indexed in about a minute where an ingest takes most of an hour on 2 busy cores; the difference from the engine's
    retrieval is that the dense side is missing (docs/reader.md says what that changes)."""

    def __init__(self, path: Path, settings):
        import gzip

        import bm25s

        from ingest.chunking import split_text
        from ingest.cleaning import clean_text
        from ingest.loaders import normalise_date
        from vectorstore import analysis
        from vectorstore.passages import Passage
        from vectorstore.retrieval import Vocabulary

        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            articles = [json.loads(line) for line in fh if line.strip()]
        self.passages: list[Passage] = []
        self.article: list[int] = []
        self.days: list[int] = []
        for a, art in enumerate(articles):
            title = art.get("title") or ""
            published = normalise_date(art.get("published") or "")
            text = clean_text(art.get("text") or "", title)
            for pos, piece in enumerate(split_text(text, settings.chunk_size, settings.chunk_overlap)):
                self.passages.append(
                    Passage(
                        id=f"{art.get('id', a)}-{pos:05d}",
                        text=piece,
                        score=0.0,
                        title=title,
                        outlet=art.get("source") or "",
                        url=art.get("url") or "",
                        published=published,
                        position=pos,
                    )
                )
                self.article.append(a)
                self.days.append(_day(published))
        tokens = analysis.bm25_tokenize([f"{p.title}\n{p.text}" for p in self.passages])
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)
        df = np.diff(self.bm25.scores["indptr"])
        self._vocabulary = Vocabulary(self.bm25.vocab_dict, df, len(self.passages))
        self.ids = [p.id for p in self.passages]

    def vocabulary(self):
        return self._vocabulary

    def index(self):
        return self

    def search(self, query: str, k: int = 5, filters=None) -> list:
        from dataclasses import replace

        from vectorstore import analysis
        from vectorstore.retrieval import FUTURE_PENALTY, POOL, RECENT_BOOST, RECENT_BOOST_TIMELY, RECENT_DAYS, TIMELY

        tokens = analysis.bm25_tokenize([query])
        if not tokens.vocab:
            return []
        rows, scores = self.bm25.retrieve(tokens, k=min(POOL * 4, len(self.passages)), show_progress=False)
        today = _day(filters.as_of.date().isoformat()) if filters is not None and filters.as_of else None
        until = _day(filters.until.isoformat()) if filters is not None and filters.until else None
        hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]
        if until is not None:
            hits = [(r, s) for r, s in hits if 0 <= self.days[r] <= until]
        hits = hits[:POOL]
        top = max((s for _, s in hits), default=1.0)
        boost = RECENT_BOOST_TIMELY if TIMELY.search(query) else RECENT_BOOST
        scored = []
        for r, s in hits:
            score = s / top
            if today is not None and self.days[r] >= 0:
                age = today - self.days[r]
                score += -FUTURE_PENALTY if age < -1 else boost if age <= RECENT_DAYS else 0.0
            scored.append((score, r))
        out, seen = [], set()
        for score, r in sorted(scored, key=lambda x: -x[0]):
            if self.article[r] in seen:
                continue
            seen.add(self.article[r])
            out.append(replace(self.passages[r], score=score))
            if len(out) == k:
                break
        return out


def _day(published: str) -> int:
    from datetime import date

    try:
        return (date.fromisoformat(published[:10]) - date(1970, 1, 1)).days
    except ValueError:
        return -1


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
                from bot.answering.reader import POOL_CROSS, default_reader
                from bot.learning.train_cross import train as fine_tune

                target.mkdir(parents=True, exist_ok=True)
                log(json.dumps(fine_tune(reads[0], default_reader().lexical, POOL_CROSS, adapters, epochs, log)))
            encoder = CrossEncoder(settings.model_dir, adapters)
        report = train(None, embedder, merged, target, top_k=settings.top_k, log=log, reads=reads, cross=encoder)
    elif articles:
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
