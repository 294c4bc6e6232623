"""What every embedder shares: the protocol, the error the operator sees, and the bundled model's variants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from vectorstore.config import DEFAULT_EMBED_MODEL, EmbedderConfig

C = TypeVar("C", bound=EmbedderConfig)

# EMBED_VARIANT -> (model file for documents, model file for queries)
VARIANTS = {"fp32": ("fp32", "fp32"), "int8": ("int8", "int8"), "int8-docs": ("int8", "fp32")}
# What EMBED_VARIANT=auto (the default) means for a new store: on a seeded subset of the training weeks int8 embedded
# ~1.7x faster than fp32 and retrieved no worse (recall@5 / MRR@5 0.568 / 0.442 against 0.554 / 0.427, 74 questions;
# docs/ingest-speed.md). A store keeps the variant it was built with.
DEFAULT_VARIANT = "int8"


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or called; the message is for the operator."""


class Embedder(Protocol):
    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def variant(settings: EmbedderConfig) -> str:
    """The bundled model's variant these settings run: EMBED_VARIANT, with auto read as DEFAULT_VARIANT, or fp32 when
    EMBED_DEVICE=cuda (on a GPU fp32 is fast and int8's dynamic quantization gains nothing). A store resolves auto to
    the variant it was built with first: resolve_variant."""
    if settings.embed_variant != "auto":
        return settings.embed_variant
    return "fp32" if settings.embed_device == "cuda" else DEFAULT_VARIANT


def embedder_identity(settings: EmbedderConfig) -> str:
    """The name a collection records for its vectors; a collection never holds vectors of two identities.

    fp32 ONNX vectors equal sentence-transformers' (cosine 1.0000 on 600 news sentences), so they keep the model's
    name; int8 document vectors differ (mean cosine 0.992) and get their own.
    """
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return settings.embed_model
    docs = VARIANTS[variant(settings)][0]
    return DEFAULT_EMBED_MODEL if docs == "fp32" else f"{DEFAULT_EMBED_MODEL}+{docs}"


def _variants_for(settings: EmbedderConfig, recorded: str) -> list[str]:
    if settings.embed_model != DEFAULT_EMBED_MODEL:
        return []
    return [v for v in VARIANTS if embedder_identity(settings.model_copy(update={"embed_variant": v})) == recorded]


def resolve_variant(settings: C, recorded: str | None) -> C:
    """Settings whose EMBED_VARIANT fits a collection that records `recorded` vectors, when EMBED_VARIANT is auto:
    a store keeps embedding (and answering) with the variant it was built with. Other settings come back as given."""
    if settings.embed_variant != "auto":
        return settings
    fits = _variants_for(settings, recorded) if recorded else []
    return settings.model_copy(update={"embed_variant": fits[0] if fits else variant(settings)})


def variant_hint(settings: EmbedderConfig, recorded: str) -> str | None:
    """What to run when a collection holds vectors of another variant of the bundled model; None if it is not one."""
    fits = _variants_for(settings, recorded)
    if not fits:
        return None
    return (
        f"set EMBED_VARIANT={' or '.join(fits)} (or auto) to keep using it, or embed the articles again into a "
        f"new collection: articlebot --collection {settings.collection}-{variant(settings)} ingest SOURCE..."
    )
