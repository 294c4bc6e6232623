"""A sentence-transformers model through torch: another EMBED_MODEL, or the bundled one on a GPU without
onnxruntime-gpu. torch is imported only when something is embedded."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from vectorstore.config import DEFAULT_EMBED_MODEL

from .base import EmbeddingError
from .cache import verified_bundled_model


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
                raise EmbeddingError(
                    f"EMBED_MODEL={self.name} (or EMBED_DEVICE=cuda without onnxruntime-gpu) needs "
                    "sentence-transformers: pip install 'articlebot[torch]'"
                ) from None

            hf_logging.disable_progress_bar()  # the weights-loading bar would land in every CLI run's output

            try:
                self._model = SentenceTransformer(source, device=self.device)
            except Exception as exc:
                raise EmbeddingError(f"cannot load embedding model {self.name!r}: {exc}") from exc
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
