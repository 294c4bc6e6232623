"""The bundled all-MiniLM-L6-v2 through ONNX Runtime (the default embedder), on the CPU or through the CUDA provider."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from vectorstore.config import DEFAULT_EMBED_MODEL, EmbedderConfig

from .base import VARIANTS, EmbeddingError, embedder_identity, variant
from .cache import converted_model

log = logging.getLogger("vectorstore.embeddings")

MAX_WORD_PIECES = 256  # the model's max_seq_length (sentence_bert_config.json); longer texts are truncated
CUDA = "CUDAExecutionProvider"


def document_backend(device: str, available: Sequence[str], doc_kind: str) -> str:
    """Where documents are embedded: "cuda" (onnxruntime's CUDA provider: onnxruntime-gpu is installed), "torch"
    (sentence-transformers on the GPU: EMBED_DEVICE=cuda without onnxruntime-gpu; it computes fp32 vectors only)
    or "cpu". `available` is onnxruntime.get_available_providers()."""
    if device == "cpu":
        return "cpu"
    if CUDA in available:
        return "cuda"
    if device == "auto":
        return "cpu"
    if doc_kind != "fp32":
        raise EmbeddingError(
            f"EMBED_DEVICE=cuda with EMBED_VARIANT {doc_kind} needs onnxruntime-gpu "
            "(pip install 'articlebot[gpu]'); without it documents go through sentence-transformers, "
            "which embeds fp32 only: set EMBED_VARIANT=fp32 for a new store, or EMBED_DEVICE=cpu"
        )
    return "torch"


def _providers(backend: str) -> list:
    if backend == "cuda":
        return [(CUDA, {"use_tf32": "0"}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxEmbedder:
    """The bundled all-MiniLM-L6-v2 through ONNX Runtime and `tokenizers`, loaded on first use.

    Same word pieces (at most 256), mean pooling and normalisation as sentence-transformers. Texts are batched in
    order of length, so a batch pads to similar lengths, and returned in the order given. Safe to call from several
    threads: sessions, the tokenizer and the GPU fallback are created under one lock.
    """

    def __init__(self, settings: EmbedderConfig, batch_size: int = 32):
        self.settings = settings
        self.name = embedder_identity(settings)
        self.batch_size = batch_size
        self.doc_kind, self.query_kind = VARIANTS[variant(settings)]
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._sessions: dict[tuple[str, str, str], object] = {}
        self._gpu_fallback = None

    def _session(self, kind: str, backend: str, use: str):
        """One session per (model file, device, use). Documents and queries never share one: ONNX Runtime's worker
        threads take the CPU priority of the thread that creates the session, so the documents' session, created by
        the first thread that embeds documents (a follow poll lowers its own priority first), keeps its workers
        below the questions' (whose session warm() creates on the main thread)."""
        with self._lock:
            key = (kind, backend, use)
            if key not in self._sessions:
                session = self._open(kind, backend)
                if self._tokenizer is None:
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_str(session.get_modelmeta().custom_metadata_map["tokenizer.json"])
                    tokenizer.enable_truncation(MAX_WORD_PIECES)  # the file says 128; the model runs at 256
                    tokenizer.no_padding()  # padded per batch, below
                    self._tokenizer = tokenizer
                self._sessions[key] = session
            return self._sessions[key]

    def _open(self, kind: str, backend: str):
        import onnxruntime as ort

        if backend == "cuda" and hasattr(ort, "preload_dlls"):
            # CUDA and cuDNN from the nvidia-* wheels (or torch's) when the system has none on its library path
            ort.preload_dlls()
        options = session_options()
        path = converted_model(self.settings, kind)
        try:
            session = ort.InferenceSession(str(path), options, providers=_providers(backend))
        except Exception as exc:  # damaged in a way size and mtime did not show: check fully, rebuild, retry once
            log.debug("loading %s failed: %s", path, exc)
            path = converted_model(self.settings, kind, full_check=True)
            try:
                session = ort.InferenceSession(str(path), options, providers=_providers(backend))
            except Exception as exc2:
                raise EmbeddingError(f"cannot load the converted model {path}: {exc2}") from exc2
        if backend == "cuda" and CUDA not in session.get_providers():
            # onnxruntime-gpu is installed but could not start CUDA (no GPU, driver or CUDA/cuDNN libraries)
            if self.settings.embed_device == "cuda":
                raise EmbeddingError(
                    "EMBED_DEVICE=cuda: onnxruntime-gpu is installed but its CUDA provider did not "
                    "start (no GPU visible, or CUDA 12 / cuDNN 9 libraries missing: "
                    "pip install 'articlebot[gpu]' brings them); set EMBED_DEVICE=cpu or auto"
                )
            log.info("no usable CUDA GPU: embedding documents on the CPU")
        return session

    def _document_backend(self) -> str:
        if self.settings.embed_device == "cpu":
            return "cpu"
        import onnxruntime as ort

        return document_backend(self.settings.embed_device, ort.get_available_providers(), self.doc_kind)

    def _fallback(self):
        with self._lock:
            if self._gpu_fallback is None:
                from .torch_backend import LocalEmbedder

                self._gpu_fallback = LocalEmbedder(DEFAULT_EMBED_MODEL, self.batch_size, device="cuda")
            return self._gpu_fallback

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: Sequence[str]):
        """embed_documents as one float32 numpy array (n, 384): no list of lists to build for Chroma to convert back."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        backend = self._document_backend()
        if backend == "torch":
            return np.asarray(self._fallback().embed_documents(texts), dtype=np.float32)
        return self._run(self._session(self.doc_kind, backend, "documents"), texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several queries in one model run (bot/answering/batching.py merges concurrent questions' queries)."""
        return self._run(self._session(self.query_kind, "cpu", "queries"), texts).tolist()

    def _run(self, session, texts: Sequence[str]):
        import numpy as np

        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = len(encodings[batch[-1]].ids)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out[batch] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def session_options():
    """ONNX Runtime's options for this process: its CPUs for one run, quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = _cpus()
    options.inter_op_num_threads = 1
    # idle worker threads sleep rather than spin: ORT's default busy-wait after every run took about a third of a
    # busy bot's CPU, away from the question threads (benchmarks/load.py); a large ingest batch does not notice
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # ORT's own warnings would land in every CLI run's output
    return options


def _cpus() -> int:
    """The CPUs this process may use (a container's quota can be less than the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
