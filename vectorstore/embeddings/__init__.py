"""Turns text into vectors: the bundled model through ONNX Runtime by default, an OpenAI embedding model on request.

- base.py: the Embedder protocol, EmbeddingError, the bundled model's variants (fp32, int8) and the identity a
  collection records for its vectors;
- graph.py: the BERT graph built from the safetensors weights with `onnx` (no torch);
- cache.py: the bundled weights' digest, conversion to ONNX and the checked cache of converted files;
- onnx_backend.py (default), torch_backend.py (another sentence-transformers EMBED_MODEL, or the GPU without
  onnxruntime-gpu), openai_backend.py (EMBED_MODEL=openai:<model>): the backends, chosen in build_embedder below.
"""

from __future__ import annotations

import threading

from vectorstore.config import DEFAULT_EMBED_MODEL, EmbedderConfig

from .base import (
    DEFAULT_VARIANT,
    VARIANTS,
    Embedder,
    EmbeddingError,
    embedder_identity,
    resolve_variant,
    variant,
    variant_hint,
)
from .cache import (
    MINILM_SHA256,
    ONNX_FORMAT,
    BundledModelMissing,
    bundled_model_dir,
    check_model_files,
    convert_model,
    converted_model,
    model_path,
    prepare_model,
    verified_bundled_model,
    verify_digest,
)
from .onnx_backend import MAX_WORD_PIECES, OnnxEmbedder, document_backend

__all__ = [
    "DEFAULT_VARIANT",
    "MAX_WORD_PIECES",
    "MINILM_SHA256",
    "ONNX_FORMAT",
    "VARIANTS",
    "BundledModelMissing",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "OnnxEmbedder",
    "OpenAIEmbedder",
    "build_embedder",
    "bundled_model_dir",
    "check_model_files",
    "convert_model",
    "converted_model",
    "document_backend",
    "embedder_identity",
    "model_path",
    "prepare_model",
    "resolve_variant",
    "variant",
    "variant_hint",
    "verified_bundled_model",
    "verify_digest",
]


def __getattr__(name: str):
    # the torch and openai backends import their heavy packages only when used; so does naming them here
    if name == "LocalEmbedder":
        from .torch_backend import LocalEmbedder

        return LocalEmbedder
    if name == "OpenAIEmbedder":
        from .openai_backend import OpenAIEmbedder

        return OpenAIEmbedder
    raise AttributeError(name)


_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def build_embedder(settings: EmbedderConfig) -> Embedder:
    """The embedder EMBED_MODEL names; one instance per process so the model loads once."""
    key = (
        settings.embed_model,
        settings.embed_batch_size,
        variant(settings),
        settings.embed_device,
        str(settings.model_dir),
    )
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _new_embedder(settings)
        return _cache[key]


def _new_embedder(settings: EmbedderConfig) -> Embedder:
    if settings.embed_model.startswith("openai:"):
        if not settings.llm_configured:
            raise EmbeddingError("EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
        from .openai_backend import OpenAIEmbedder

        return OpenAIEmbedder(settings, settings.embed_model.split(":", 1)[1])
    if settings.embed_model == DEFAULT_EMBED_MODEL:
        return OnnxEmbedder(settings, settings.embed_batch_size)
    from .torch_backend import LocalEmbedder

    return LocalEmbedder(settings.embed_model, settings.embed_batch_size)
