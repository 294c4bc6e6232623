"""The cross-encoder: how likely one sentence answers a question, read together by a fine-tuned MiniLM-L6.

The bundled all-MiniLM-L6-v2 reads "question [SEP] sentence | title | date | sentence before" as one text; mean
pooling and one linear head give a logit. Fine-tuning (bot/learning/train_cross.py, docs/reader.md) learned low-rank
adapters (LoRA) for every linear layer, the LayerNorms and the head: `bot/answering/models/cross/cross.npz`, a few MB,
recorded in bot/answering/models/cross/MANIFEST.json (READER_MODEL=cross chooses this reader). At first use they are merged into the digest-checked base weights and written as one
int8 ONNX graph (vectorstore/embeddings/graph.py, no torch) under the model dir, beside a record of its sha256;
every load checks that record and rebuilds a damaged file. A swapped or damaged adapter file is refused in one
line (ModelError).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

ADAPTER_FILE = "cross.npz"
MAX_TOKENS = 88  # question + sentence + context; the context is cut first
FORMAT = 1  # bump when the merge or the graph changes: cached files of another format are rebuilt
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def pair(question: str, sentence: str, title: str = "", published: str = "", previous: str = "") -> tuple[str, str]:
    """The two texts the model reads: the sentence first, so that truncation cuts its context, never it."""
    context = " | ".join(x for x in (title.strip(), published[:10], previous.strip()) if x)
    return question.strip(), f"{sentence.strip()} | {context}" if context else sentence.strip()


def tokenizer(source: Path):
    """The bundled tokenizer set up for pairs (`pair_tokenizer`)."""
    return pair_tokenizer((source / "tokenizer.json").read_text(encoding="utf-8"))


def pair_tokenizer(tokenizer_json: str):
    """A tokenizer for pairs: at most MAX_TOKENS word pieces, the second text cut first, padded per batch."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(MAX_TOKENS, strategy="only_second")
    tok.no_padding()
    return tok


def batch_arrays(encodings) -> tuple[np.ndarray, np.ndarray]:
    """input_ids and attention_mask, padded to the longest (token types are all 0, as the graph assumes)."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1
    return ids, mask


def merge(base: dict, adapters: dict) -> dict:
    """The base weights with the adapters folded in: W + scale · B @ A for every adapted linear layer, the trained
    LayerNorms and the head ("head.weight", "head.bias")."""
    w = dict(base)
    scale = float(adapters["lora_scale"])
    for name, value in adapters.items():
        if name.endswith(".lora_A"):
            prefix = name[: -len(".lora_A")]
            b = adapters[prefix + ".lora_B"]
            w[prefix + ".weight"] = (base[prefix + ".weight"] + scale * (b @ value)).astype(np.float32)
        elif name.endswith((".weight", ".bias")):
            w[name] = np.asarray(value, dtype=np.float32)
    return w


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_adapters(folder: Path) -> str:
    """The adapter file's sha256 once it matches the manifest; ModelError (one line) when not."""
    from bot.answering.reader import MANIFEST, ModelError

    path = folder / ADAPTER_FILE
    try:
        expected = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files", {}).get(ADAPTER_FILE)
        digest = _sha256(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the cross-encoder in {folder}: {exc}") from None
    if digest != expected:
        raise ModelError(
            f"the cross-encoder {path} is damaged or was swapped (sha256 {digest[:12]}…, the manifest records "
            f"{str(expected)[:12]}…); run articlebot train-reader to rebuild it"
        )
    return digest


def build(adapter_path: Path, dest: Path, quantize: bool = True) -> dict:
    """Merge the adapters into the verified base weights and write the int8 ONNX graph to `dest` with a record."""
    import shutil
    import tempfile

    import onnx
    from safetensors.numpy import load_file

    from vectorstore.embeddings.cache import quantize_int8, verified_bundled_model
    from vectorstore.embeddings.graph import bert_graph

    source = verified_bundled_model()  # nothing is derived from weights that fail their digest
    with np.load(adapter_path) as z:
        adapters = {k: z[k] for k in z.files}
    weights = merge(load_file(str(source / "model.safetensors")), adapters)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        staged = work / dest.name
        onnx.save(bert_graph(weights, head=True), str(staged))
        if quantize:
            quantize_int8(staged)
        model = onnx.load(str(staged))
        onnx.helper.set_model_props(model, {"tokenizer.json": (source / "tokenizer.json").read_text(encoding="utf-8")})
        onnx.save(model, str(staged))
        os.chmod(staged, 0o644)
        os.replace(staged, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = {"format": FORMAT, "adapters_sha256": _sha256(adapter_path), "onnx_sha256": _sha256(dest)}
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.json")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, dest.with_suffix(".json"))
    return record


def _problem(dest: Path, adapters_sha: str) -> str | None:
    try:
        record = json.loads(dest.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return "missing"
    if record.get("format") != FORMAT or record.get("adapters_sha256") != adapters_sha:
        return "from other adapters"
    if not dest.exists() or _sha256(dest) != record.get("onnx_sha256"):
        return "damaged"
    return None


def converted(model_dir: Path, adapters: Path, sha: str) -> Path:
    """The merged ONNX file for the `adapters` (whose sha256 is `sha`), built once and checked at every load
    (vectorstore/embeddings/cache.built_once)."""
    from bot.answering.reader import ModelError
    from vectorstore.embeddings.cache import built_once

    dest = Path(model_dir) / f"cross-encoder-{sha[:12]}-int8.onnx"
    try:
        built_once(dest, lambda: _problem(dest, sha), lambda: build(adapters, dest))
    except OSError as exc:
        raise ModelError(
            f"cannot write the cross-encoder to {dest.parent} ({exc.strerror or exc}): set ARTICLEBOT_MODEL_DIR "
            "to a writable folder"
        ) from None
    return dest


class CrossEncoder:
    """Scores (question, candidate) pairs; loaded at first use, safe to share between threads."""

    def __init__(self, model_dir: Path, adapters: Path, sha: str | None = None, batch_size: int = 32):
        """`sha`: the adapters' digest as the manifest records it (checked by the caller); None: computed here
        (training, where no manifest records them yet)."""
        self.model_dir, self.adapters, self.batch_size = Path(model_dir), Path(adapters), batch_size
        self.sha = sha or _sha256(self.adapters)
        self._lock = threading.Lock()
        self._session = None
        self._tok = None

    def load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                from vectorstore.embeddings.onnx_backend import session_options

                path = converted(self.model_dir, self.adapters, self.sha)
                session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
                tok = pair_tokenizer(session.get_modelmeta().custom_metadata_map["tokenizer.json"])
                self._tok, self._session = tok, session
        return self._session

    def prepare(self) -> tuple[Path, str]:
        """The merged graph, built (or checked) now, and its sha256: what `articlebot prepare-model` leaves in the
        model dir."""
        path = converted(self.model_dir, self.adapters, self.sha)
        return path, json.loads(path.with_suffix(".json").read_text())["onnx_sha256"]

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        session = self.load()
        assert self._tok is not None
        encodings = self._tok.encode_batch(pairs)
        order = sorted(range(len(pairs)), key=lambda i: len(encodings[i].ids))
        out = np.empty(len(pairs), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = batch_arrays([encodings[i] for i in rows])
            out[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0][:, 0]
        return out
