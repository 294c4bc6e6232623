"""The cross-encoder reader (bot/answering/cross_encoder.py): adapters merged into the digest-checked base weights give the
same logits in the ONNX graph as in torch, a swapped adapter file is refused in one line, a damaged cached graph is
rebuilt, and the shipped model reads the sentence that answers above the one that repeats the question."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest


@pytest.fixture(scope="session")
def shipped(model_dir):
    """The shipped cross-encoder reader, its merged graph built once into the run's model dir (seconds)."""
    from bot.answering.reader import CROSS_DIR, Reader

    return Reader.load(CROSS_DIR, model_dir)


@pytest.fixture
def model_copy(tmp_path):
    from bot.answering.reader import CROSS_DIR

    folder = tmp_path / "model"
    shutil.copytree(CROSS_DIR, folder)
    return folder


def test_pairs_put_the_sentence_first_so_truncation_cuts_its_context():
    from bot.answering.cross_encoder import MAX_TOKENS, pair, tokenizer
    from vectorstore.embeddings.cache import verified_bundled_model

    q, b = pair("Who built the barge?", "The barge was built by Astrid Holm.", "A library", "2025-01-12", "x " * 400)
    assert b.startswith("The barge was built by Astrid Holm. | A library | 2025-01-12 | x")
    enc = tokenizer(verified_bundled_model()).encode(q, b)
    assert len(enc.ids) == MAX_TOKENS
    assert "holm" in enc.tokens and "barge" in enc.tokens


@pytest.mark.slow
def test_the_merged_onnx_graph_gives_the_torch_models_logits(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from bot.answering.cross_encoder import batch_arrays, build, pair, tokenizer
    from bot.learning.train_cross import _model, adapters, score
    from vectorstore.embeddings.cache import verified_bundled_model

    torch.manual_seed(3)
    source = verified_bundled_model()
    model = _model(source)
    with torch.no_grad():  # adapters as training leaves them: non-zero, so the merge is really tested
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    np.savez(tmp_path / "a.npz", **adapters(model))
    tok = tokenizer(source)
    pairs = [pair("How much did the repair cost?", s, "Lantern Bridge reopens", "2025-03-01") for s in (
        "The repair cost 86 million crowns.", "The bridge reopened on Saturday.", "Crowds lined the river.")]
    expected = score(model, tok, pairs)
    build(tmp_path / "a.npz", tmp_path / "fp32.onnx", quantize=False)
    import onnxruntime as ort

    ids, mask = batch_arrays(tok.encode_batch(pairs))
    got = ort.InferenceSession(str(tmp_path / "fp32.onnx")).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    assert np.allclose(got[:, 0], expected, atol=1e-4), (got[:, 0], expected)
    assert np.ptp(expected) > 1e-3  # three different sentences, three different logits


def test_a_swapped_adapter_file_is_refused_in_one_line(model_copy):
    from bot.answering.cross_encoder import ADAPTER_FILE
    from bot.answering.reader import ModelError, Reader

    raw = bytearray((model_copy / ADAPTER_FILE).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (model_copy / ADAPTER_FILE).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="damaged or was swapped") as exc:
        Reader.load(model_copy)
    assert "\n" not in str(exc.value) and "train-reader" in str(exc.value)


@pytest.mark.slow
def test_a_damaged_cached_graph_is_rebuilt(model_copy, tmp_path, caplog, shipped):
    from bot.answering.cross_encoder import ADAPTER_FILE
    from bot.answering.reader import Reader

    built, _ = shipped.cross.prepare()  # the same adapters, so the same graph: built once per run, not here
    (tmp_path / "cache").mkdir()
    for part in (built, built.with_suffix(".json")):
        shutil.copy2(part, tmp_path / "cache")
    reader = Reader.load(model_copy, tmp_path / "cache")
    pairs = [("Who built the barge?", "The barge was built by the Norrvik boatyard of Astrid Holm.")]
    first = reader.cross.logits(pairs)
    graph = next((tmp_path / "cache").glob("cross-encoder-*.onnx"))
    record = json.loads(graph.with_suffix(".json").read_text())
    raw = bytearray(graph.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    graph.write_bytes(bytes(raw))
    again = Reader.load(model_copy, tmp_path / "cache")  # a new process would load it so
    with caplog.at_level("WARNING"):
        assert np.allclose(again.cross.logits(pairs), first)
    assert "rebuilding" in caplog.text
    assert json.loads(graph.with_suffix(".json").read_text())["onnx_sha256"] == record["onnx_sha256"]


def test_the_shipped_cross_encoder_prefers_the_answer_to_the_echo(shipped):
    """The sentence that says who did it, over the one that repeats the question's words."""
    from bot.answering.cross_encoder import pair

    reader = shipped
    assert reader.cross is not None and reader.stacked is not None
    q = "Who cut the ribbon when the Lantern Bridge reopened?"
    title, when = "Lantern Bridge reopens after two years", "2025-03-01"
    logits = reader.cross.logits([
        pair(q, "Mayor Ilse Brandvold cut the ribbon at noon, and the first tram crossed minutes later.", title, when),
        pair(q, "The Lantern Bridge reopened on Saturday after two years of repairs.", title, when),
    ])
    assert logits[0] > logits[1], logits


@pytest.mark.slow
def test_train_reader_with_the_cross_encoder_end_to_end(settings, embedder, tmp_path):
    """Fine-tune a few steps on the fictional reader questions, then fit and choose with it: the model it writes
    loads, records the adapters' digest, and its reader scores with the cross-encoder."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from reader_fixture import write_articles, write_questions

    from bot.answering.cross_encoder import ADAPTER_FILE, CrossEncoder
    from bot.answering.reader import MANIFEST, POOL_CROSS, Reader, default_reader
    from bot.learning.train_cross import train as fine_tune
    from bot.learning.train_reader import train
    from bot.learning.training_reads import read_questions
    from bot.learning.metrics import load_questions
    from bot.learning.evaluate import validation_weeks
    from ingest.pipeline import ingest
    from vectorstore.retrieval import Retriever
    from vectorstore.store import open_store

    store = open_store(settings)
    try:
        ingest(settings, store, [str(write_articles(tmp_path / "articles"))], embedder)
        questions = write_questions(tmp_path / "questions.jsonl")
        retriever = Retriever(settings, store, embedder)
        qs = load_questions(questions)
        held = validation_weeks(qs)
        reads = read_questions(retriever, 5, qs, held, None)
        report = fine_tune(reads, default_reader().lexical, POOL_CROSS, tmp_path / "a.npz", 1, lambda m: None)
        assert report["pairs"] > 0 and len(report["epochs"]) == 1
        cross = CrossEncoder(settings.model_dir, tmp_path / "a.npz")
        out = tmp_path / "out"
        report = train(retriever, embedder, questions, out, log=lambda m: None, reads=(reads, held, retriever.index().ids),
                       cross=cross)
    finally:
        store.close()
    assert set(report["p_at_1"]) >= {"two-stage logistic", "cross-encoder alone", "cross-encoder stacked into the logistic model"}
    manifest = json.loads((out / MANIFEST).read_text())
    if report["mode"] in ("cross", "stacked"):
        assert manifest["files"][ADAPTER_FILE] == cross.sha
        reader = Reader.load(out, tmp_path / "cache")
        assert reader.cross is not None and (reader.stacked is not None) == (report["mode"] == "stacked")
    else:
        assert ADAPTER_FILE not in manifest["files"]
        assert Reader.load(out).cross is None


@pytest.mark.slow
def test_reader_model_cross_answers_through_the_cross_encoder(tmp_path, embedder, monkeypatch):
    """READER_MODEL=cross: the engine's gate and answerer read with the cross-encoder; the default stays logistic."""
    from conftest import EXAMPLES
    from engines import engine_over

    from bot.settings import Settings

    assert Settings().reader_model == "logistic"
    monkeypatch.setenv("READER_MODEL", "cross")
    settings = Settings(data_dir=tmp_path / "data")
    engine = engine_over(settings, embedder, EXAMPLES)
    try:
        assert engine.reader.cross is not None and engine.answerer.reader is engine.reader
        question = "How much did the Lantern Bridge repair cost?"
        verdict = engine.judge(question, engine.retrieve(question))
        assert verdict.reading is not None and len(verdict.reading.cross) == len(verdict.reading.pool) > 1
        answer = engine.ask("x", question)
    finally:
        engine.close()
    assert answer.found and "86 million crowns" in answer.text and answer.citations, answer.text
