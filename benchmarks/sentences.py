"""The sentence splitter against NLTK's punkt (the data llama-index bundles) on the 782-article eval corpus.

    python benchmarks/sentences.py

For each splitter: import time (fresh process), time to split the corpus, sentences found, sentences cut after
an abbreviation ("... Bills vs.", "... Jan.") and agreement of sentence ends with punkt's.
Each line is split on its own by every splitter (a line break always ends a sentence in articlebot).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from _common import REPO, eval_path

OLD = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)]))\s+(?=[\"'“‘(]?[A-Z0-9])")  # the splitter before this change
CUT = re.compile(r"(?:^|\s)(vs|Jan|Feb|Aug|Sept?|Oct|Nov|Dec|Mr|Mrs|Dr|St|Gov|Sen|Rep|Gen|Lt|No|[A-Z])\.$")


def import_seconds(stmt: str) -> float:
    best = 1e9
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {stmt}; "
                              "print(time.perf_counter()-t)"], capture_output=True, text=True, cwd=REPO,
                             env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        best = min(best, float(out.stdout.strip().splitlines()[-1]))
    return best


def english_punkt():
    """NLTK's trained English punkt, from the data llama-index bundles (nothing downloaded)."""
    from pathlib import Path

    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    nltk.data.path.append(str(Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"))
    return PunktTokenizer("english").tokenize


def ends(parts: list[str]) -> set[int]:
    """Where each sentence ends, counted in non-space characters (splitters fold white space differently)."""
    at, out = 0, set()
    for p in parts:
        at += len("".join(p.split()))
        out.add(at)
    return out


def main() -> None:
    lines = [line.strip() for row in map(json.loads, open(eval_path(None, "articles.jsonl"), encoding="utf-8"))
             for line in row["text"].split("\n") if line.strip()]
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    from vectorstore.sentences import split

    punkt_split = english_punkt()
    splitters = {
        "regex before (no abbreviations)": (lambda s: OLD.split(s), "import re"),
        "articlebot (regex + abbreviations)": (split, "from vectorstore.sentences import split"),
        "llama-index's split_by_sentence_tokenizer (punkt untrained)": (
            split_by_sentence_tokenizer(),
            "from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer as f; f()('A b.')"),
        "NLTK punkt, English model (the punkt_tab data llama-index ships)": (
            punkt_split, "import sys; sys.path.insert(0, 'benchmarks'); from sentences import english_punkt; english_punkt()"),
    }
    reference = [ends(punkt_split(line)) for line in lines]  # trained punkt is the reference
    print(f"{len(lines):,} lines of article text\n")
    print("| splitter | import s | split s | sentences | cut after an abbreviation | sentence ends as punkt's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (fn, stmt) in splitters.items():
        started = time.perf_counter()
        parts = [fn(line) for line in lines]
        took = time.perf_counter() - started
        count = sum(len(p) for p in parts)
        cut = sum(1 for p in parts for s in p if CUT.search(s.strip()))
        same = sum(len(ends(p) & ref) for p, ref in zip(parts, reference))
        total = sum(len(ends(p) | ref) for p, ref in zip(parts, reference))
        if "-v" in sys.argv:
            print(*[s for p in parts for s in p if CUT.search(s.strip())][:15], sep="\n")
        print(f"| {name} | {import_seconds(stmt):.2f} | {took:.2f} | {count:,} | {cut:,} | {same / total:.3f} |")


if __name__ == "__main__":
    main()
