"""An OpenAI (or compatible) embedding endpoint, for `EMBED_MODEL=openai:<model>`."""

from __future__ import annotations

from collections.abc import Sequence

from vectorstore.config import OpenAIConfig, reveal

from .base import EmbeddingError


class OpenAIEmbedder:
    """An OpenAI (or compatible) embedding endpoint, for `EMBED_MODEL=openai:<model>`."""

    def __init__(self, settings: OpenAIConfig, model: str):
        from openai import OpenAI

        self.name = f"openai:{model}"
        self._model = model
        self._client = OpenAI(
            api_key=reveal(settings.openai_api_key) or "unused",
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            result = self._client.embeddings.create(model=self._model, input=list(texts))
        except Exception as exc:
            raise EmbeddingError(f"embedding call to {self.name} failed: {exc}") from exc
        return [item.embedding for item in sorted(result.data, key=lambda d: d.index)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
