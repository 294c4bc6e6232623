"""The one configuration object: read from the environment and `.env`, built once by the entry point."""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from typing import Annotated, Literal

from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
# Comma/space separated in the environment, not JSON.
Ids = Annotated[frozenset[int], NoDecode]
Sources = Annotated[tuple[str, ...], NoDecode]


def _ids(value: object) -> frozenset[int]:
    """Accept "1, 2 3" or a list; Telegram ids are integers (group ids negative)."""
    if value in (None, ""):
        return frozenset()
    if isinstance(value, (int, str)):
        parts = str(value).replace(",", " ").split()
    else:
        parts = list(value)  # type: ignore[arg-type]
    return frozenset(int(p) for p in parts)


class Settings(BaseSettings):
    """Every knob articlebot has. Field docs are the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), validation_alias=AliasChoices("ARTICLEBOT_DATA_DIR", "data_dir"),
                           description="Where the embedded store, chat memory and locks live.")
    collection: str = Field("articles", validation_alias=AliasChoices("ARTICLEBOT_COLLECTION", "collection"),
                            description="Chroma collection holding the article chunks.")
    chroma_host: str | None = Field(None, validation_alias=AliasChoices("CHROMA_HOST", "chroma_host"),
                                    description="Chroma server host; unset = embedded store under the data dir.")
    chroma_port: int = Field(8000, validation_alias=AliasChoices("CHROMA_PORT", "chroma_port"))
    chroma_ssl: bool = Field(False, validation_alias=AliasChoices("CHROMA_SSL", "chroma_ssl"))
    chroma_auth_token: str | None = Field(None, validation_alias=AliasChoices("CHROMA_AUTH_TOKEN", "chroma_auth_token"),
                                          description="Bearer token for a Chroma server with token auth.")
    chroma_start_timeout: float = Field(60.0, validation_alias=AliasChoices("CHROMA_START_TIMEOUT", "chroma_start_timeout"),
                                        description="Seconds to wait for the Chroma server at start, retrying with "
                                                    "backoff (compose may start the bot first); 0 = try once.")

    # --- embeddings and chunking -------------------------------------------------------------
    embed_model: str = Field(DEFAULT_EMBED_MODEL, validation_alias=AliasChoices("EMBED_MODEL", "embed_model"),
                             description="all-MiniLM-L6-v2 (bundled, offline), another sentence-transformers "
                                         "model path/name, or openai:<model>.")
    embed_variant: Literal["fp32", "int8", "int8-docs"] = Field(
        "fp32", validation_alias=AliasChoices("EMBED_VARIANT", "embed_variant"),
        description="How the bundled model runs (ONNX Runtime): fp32 (same vectors as sentence-transformers), int8 "
                    "(per-channel dynamic quantization, faster, its own vectors), int8-docs (int8 documents, fp32 query).")
    embed_device: Literal["auto", "cpu", "cuda"] = Field(
        "cpu", validation_alias=AliasChoices("EMBED_DEVICE", "embed_device"),
        description="Where documents are embedded (ingest): cpu, cuda, or auto (a CUDA GPU when onnxruntime sees one). "
                    "Queries always run on the CPU.")
    model_dir: Path | None = Field(None, validation_alias=AliasChoices("ARTICLEBOT_MODEL_DIR", "model_dir"),
                                   description="Where the converted (ONNX) model is cached; default <data dir>/models.")
    # 16 measured fastest on 2 CPU cores (34 chunks/s vs 30 at 64): less padding per batch.
    embed_batch_size: int = Field(16, validation_alias=AliasChoices("EMBED_BATCH_SIZE", "embed_batch_size"),
                                  description="Texts per embedding batch.")
    chunk_size: int = Field(512, validation_alias=AliasChoices("CHUNK_SIZE", "chunk_size"),
                            description="Chunk size in tokens (cl100k); chosen by benchmarks/chunk_size.py and benchmarks/retrieval.py.")
    chunk_overlap: int = Field(85, validation_alias=AliasChoices("CHUNK_OVERLAP", "chunk_overlap"))
    sentence_vectors: bool = Field(True, validation_alias=AliasChoices("SENTENCE_VECTORS", "sentence_vectors"),
                                   description="A vector per sentence (better recall; ingest embeds ~2x longer and the "
                                               "vector index is ~17x larger). Off: one vector per chunk.")
    max_file_mb: float = Field(20.0, validation_alias=AliasChoices("MAX_FILE_MB", "max_file_mb"),
                               description="Files and downloads larger than this are skipped.")
    fetch_timeout: float = Field(20.0, validation_alias=AliasChoices("FETCH_TIMEOUT", "fetch_timeout"))
    allow_private_urls: bool = Field(False, validation_alias=AliasChoices("ALLOW_PRIVATE_URLS", "allow_private_urls"),
                                     description="Fetch URLs on loopback/private/link-local addresses (intranet feeds).")

    # --- following (ingest/follow.py) --------------------------------------------------------
    follow: Sources = Field((), validation_alias=AliasChoices("FOLLOW", "follow"),
                            description="Feeds, pages and folders to follow (comma or space separated); seeds the list.")
    follow_every: str = Field("30m", validation_alias=AliasChoices("FOLLOW_EVERY", "follow_every"),
                              pattern=r"^\s*\d+(\.\d+)?\s*[smhdSMHD]\s*$",
                              description="How often a followed source is checked unless it says otherwise (30m, 2h, 1d).")
    follow_max_new: int = Field(100, validation_alias=AliasChoices("FOLLOW_MAX_NEW", "follow_max_new"),
                                description="New or changed feed entries taken per source per poll; the rest wait.")

    # --- answering ---------------------------------------------------------------------------
    top_k: int = Field(5, validation_alias=AliasChoices("TOP_K", "top_k"))
    openai_api_key: str | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
                                        description="OpenAI-compatible server (Ollama, vLLM, llama.cpp).")
    openai_model: str = Field("gpt-4o-mini", validation_alias=AliasChoices("OPENAI_MODEL", "openai_model"))
    openai_timeout: float = Field(30.0, validation_alias=AliasChoices("OPENAI_TIMEOUT", "openai_timeout"),
                                  description="Seconds per LLM call (the openai client's own default is 600).")
    openai_max_retries: int = Field(2, validation_alias=AliasChoices("OPENAI_MAX_RETRIES", "openai_max_retries"))
    llm_max_tokens: int = Field(200, ge=16, validation_alias=AliasChoices("LLM_MAX_TOKENS", "llm_max_tokens"),
                                description="Most tokens the LLM may write per call (one to three sentences with [n] "
                                            "markers fit in ~120); a reply that starts repeating itself is cut sooner.")
    llm_first_token_timeout: float = Field(
        20.0, gt=0, validation_alias=AliasChoices("LLM_FIRST_TOKEN_TIMEOUT", "llm_first_token_timeout"),
        description="Streaming: seconds to wait for the model's first token (a local model reads the prompt first); "
                    "OPENAI_TIMEOUT bounds the whole reply.")
    llm_evidence: Literal["focused", "passages"] = Field(
        "focused", validation_alias=AliasChoices("LLM_EVIDENCE", "llm_evidence"),
        description="What the LLM reads: focused (the best sentences with their neighbours, titles and dates; ~4x "
                    "fewer prompt tokens) or passages (the TOP_K whole chunks).")
    llm_evidence_sentences: int = Field(6, ge=1, validation_alias=AliasChoices("LLM_EVIDENCE_SENTENCES",
                                                                                "llm_evidence_sentences"),
                                        description="Focused evidence: best sentences sent, each with its neighbours.")
    memory_turns: int = Field(6, validation_alias=AliasChoices("MEMORY_TURNS", "memory_turns"),
                              description="Question/answer pairs remembered per conversation.")

    # --- telegram ----------------------------------------------------------------------------
    telegram_bot_token: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token"))
    telegram_base_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_BASE_URL", "telegram_base_url"),
                                          description="Bot API server, e.g. a self-hosted telegram-bot-api.")
    telegram_allowed_users: Ids = Field(frozenset(), validation_alias=AliasChoices("TELEGRAM_ALLOWED_USERS", "telegram_allowed_users"))
    telegram_allowed_chats: Ids = Field(frozenset(), validation_alias=AliasChoices("TELEGRAM_ALLOWED_CHATS", "telegram_allowed_chats"))
    telegram_admins: Ids = Field(frozenset(), validation_alias=AliasChoices("TELEGRAM_ADMINS", "telegram_admins"))
    telegram_webhook_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_URL", "telegram_webhook_url"))
    telegram_webhook_listen: str = Field("0.0.0.0", validation_alias=AliasChoices("TELEGRAM_WEBHOOK_LISTEN", "telegram_webhook_listen"))
    telegram_webhook_port: int = Field(8443, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_PORT", "telegram_webhook_port"))
    telegram_webhook_secret: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret"))
    telegram_user_rate: int = Field(10, validation_alias=AliasChoices("TELEGRAM_USER_RATE", "telegram_user_rate"),
                                    description="Questions one user may ask per minute.")
    telegram_start_timeout: float = Field(300.0, validation_alias=AliasChoices("TELEGRAM_START_TIMEOUT", "telegram_start_timeout"),
                                          description="Seconds `articlebot telegram` keeps retrying to reach the Bot API "
                                                      "at start before it exits 1; an invalid token exits at once.")

    @field_validator("telegram_allowed_users", "telegram_allowed_chats", "telegram_admins", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> frozenset[int]:
        return _ids(value)

    @model_validator(mode="after")
    def _default_model_dir(self) -> "Settings":
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        return self

    @field_validator("follow", mode="before")
    @classmethod
    def _parse_sources(cls, value: object) -> tuple[str, ...]:
        if value in (None, ""):
            return ()
        return tuple(str(value).replace(",", " ").split()) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)
