"""The abstention gate's trade-off on the eval data: abstention on out-of-corpus questions against false abstention.

    python benchmarks/abstention.py [--data-dir DIR]

Every question of questions.jsonl and out-of-corpus.jsonl is retrieved once (as of its date, top 5), then the
gate (bot/answering/gate.py) is judged over a grid of its settings. Abstention = the gate turns an out-of-corpus question
down; false abstention = it turns down a `supported` question whose answer is in the top 5 passages. To keep the
choice honest, the settings are chosen on the tuning half (the first half of each file by id) and reported on
the held-out half too; the product's settings are marked with *.
"""
from __future__ import annotations

import argparse
import itertools

from _common import corpus_settings, eval_path

from bot.answering import gate
from bot.learning.evaluate import question_as_of
from bot.learning.metrics import answer_rank, load_questions


def halves(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    rows = sorted(rows, key=lambda r: r["id"])
    return rows[: len(rows) // 2], rows[len(rows) // 2:]


def rates(rows: list[dict], verdicts: dict[str, bool]) -> tuple[float, float]:
    ooc = [r for r in rows if r["ooc"]]
    had = [r for r in rows if r["had_it"]]
    return (sum(not verdicts[r["id"]] for r in ooc) / len(ooc), sum(not verdicts[r["id"]] for r in had) / len(had))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="store with the eval corpus (default .bench/realtimeqa, built if missing)")
    args = parser.parse_args()
    settings = corpus_settings(args.data_dir)
    from bot.engine import Engine

    engine = Engine.from_settings(settings)
    rows = []
    for name in ("questions.jsonl", "out-of-corpus.jsonl"):
        for q in load_questions(eval_path(None, name)):
            ooc = bool(q.get("out_of_corpus"))
            if not (ooc or q.get("supported")):
                continue
            passages = engine.retrieve(q["question"], k=5, as_of=question_as_of(q))
            rank = answer_rank(q["answer"], [p.text for p in passages])
            rows.append({"id": q["id"], "question": q["question"], "ooc": ooc, "had_it": not ooc and rank is not None,
                         "passages": passages})
    vocabulary = engine.retriever.vocabulary()
    tune, held = (halves([r for r in rows if r["ooc"]])[i] + halves([r for r in rows if not r["ooc"]])[i]
                  for i in (0, 1))
    print(f"{sum(r['ooc'] for r in rows)} out-of-corpus questions, {sum(r['had_it'] for r in rows)} supported with "
          "the answer retrieved\n")
    print("| window | min coverage | key share | abstention (tune) | false abst. (tune) | abstention (held out) "
          "| false abst. (held out) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for window, cover, share in itertools.product((1, 2, 3), (0.3, 0.34, 0.38, 0.42, 0.5), (0.5, 0.7, 0.9)):
        verdicts = {r["id"]: gate.judge(r["question"], r["passages"], vocabulary, min_coverage=cover,
                                        key_share=share, window=window).covered for r in rows}
        t_abst, t_false = rates(tune, verdicts)
        h_abst, h_false = rates(held, verdicts)
        mark = " *" if (window, cover, share) == (gate.WINDOW, gate.MIN_COVERAGE, gate.KEY_SHARE) else ""
        print(f"| {window}{mark} | {cover} | {share} | {t_abst:.2f} | {t_false:.2f} | {h_abst:.2f} | {h_false:.2f} |")
    engine.close()


if __name__ == "__main__":
    main()
