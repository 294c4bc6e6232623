"""The LLM answerer against a real model: llama.cpp's OpenAI-compatible server on 127.0.0.1 with a small GGUF model.

Slow (the server loads a model; each answer takes seconds on a CPU). Skipped with one line when llama-cpp-python's
server or the model is absent. The model is a test peer fetched beforehand (benchmarks/llm_local.py's docstring):
its wheels, or the reassembled .gguf, in $ARTICLEBOT_LLM_MODELS (default: ../llm-models beside the checkout).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO
from engines import engine_over

pytestmark = pytest.mark.slow

MODELS_DIR = Path(os.environ.get("ARTICLEBOT_LLM_MODELS", REPO.parent / "llm-models"))
BRIDGE = "Lantern Bridge reopens to traffic after two-year repair"


@pytest.fixture(scope="module")
def server():
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python[server] is not installed (docs/llm.md)")
    bench = str(REPO / "benchmarks")
    sys.path.insert(0, bench)
    try:
        from llm_local import MODELS, assemble, start_server
    finally:
        # benchmarks/ingest.py must not shadow the ingest package
        sys.path[:] = [p for p in sys.path if p != bench]
    gguf = assemble(MODELS["qwen0.5b"], MODELS_DIR) if MODELS_DIR.is_dir() else None
    if gguf is None:
        pytest.skip(f"no Qwen2.5-Coder-0.5B-Instruct GGUF in {MODELS_DIR} (benchmarks/llm_local.py)")
    proc, url = start_server(gguf, threads=1, ctx=4096, log_path=MODELS_DIR / "server-test.log")
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.fixture
def engine(settings, embedder, server):
    settings = settings.model_copy(update={"openai_base_url": server, "openai_model": "local", "openai_timeout": 180.0,
                                           "openai_max_retries": 0, "llm_first_token_timeout": 180.0})
    engine = engine_over(settings, embedder, EXAMPLES)
    yield engine
    engine.close()


def test_a_real_small_model_answers_with_a_checked_citation(engine):
    answer = engine.ask("real1", "How much did the Lantern Bridge repair cost?")
    # the model's own answer, or the quotes when it refused with strong evidence: never a bare "not found"
    assert answer.found and answer.citations and answer.citations[0].title == BRIDGE
    assert "86" in answer.text
    if answer.answerer == "llm":
        assert all(1 <= c.n <= len(answer.citations) for c in answer.citations)
        assert len(answer.text.split()) < 150  # bounded by LLM_MAX_TOKENS


def test_a_real_small_model_streams_and_is_bounded(engine):
    # (the ribbon question this test asked before is one the offline reader misses: tests/test_reader.py; with
    # the 0.5B model refusing, the LLM path quotes the reader, so that question tested the reader, not this path)
    parts = list(engine.stream("real2", "When did the Lantern Bridge reopen to traffic?"))
    final = parts[-1]
    assert final.found and "Friday" in final.text and final.citations[0].title == BRIDGE
    if final.answerer == "llm":
        assert any(isinstance(p, str) for p in parts[:-1])  # text arrived before the checked answer
