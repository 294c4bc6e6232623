"""The one configuration object: read from the environment and `.env`, built once by the entry point."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, cast

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vectorstore.config import DEFAULT_EMBED_MODEL, reveal

__all__ = ["DEFAULT_EMBED_MODEL", "Settings", "reveal"]

# The default data dir of earlier versions, relative to the working directory: a store there is still used.
OLD_DATA_DIR = Path("data")
# Comma/space separated in the environment, not JSON.
Ids = Annotated[frozenset[int], NoDecode]
Sources = Annotated[tuple[str, ...], NoDecode]
Bindings = Annotated[dict[int, str], NoDecode]


def _ids(value: object) -> frozenset[int]:
    """Accept "1, 2 3" or a list; Telegram ids are integers (group ids negative)."""
    if value in (None, ""):
        return frozenset()
    if isinstance(value, (int, str)):
        parts: Iterable[int | str] = str(value).replace(",", " ").split()
    else:
        parts = list(cast("Iterable[int | str]", value))  # a list from a settings file or the caller
    return frozenset(int(p) for p in parts)


def _bindings(value: object) -> dict[int, str]:
    """ "-100123=markets, -100456=city" (or a mapping) -> {chat id: collection}."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    out = {}
    for part in str(value).replace(",", " ").split():
        chat, sep, name = part.partition("=")
        if not sep or not name:
            raise ValueError(f"not CHAT_ID=COLLECTION: {part!r}")
        out[int(chat)] = name
    return out


def _is_data_dir(path: Path) -> bool:
    """Whether articlebot has used this folder: every command that opens a store leaves its lock file there."""
    return (path / "articlebot.lock").is_file() or (path / "chroma" / "chroma.sqlite3").is_file()


def user_data_dir() -> Path:
    """One data home per user, by the platform's convention (~/.local/share/articlebot on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("articlebot", appauthor=False))


def default_data_dir() -> Path:
    """The user's data dir, wherever a command runs, unless the working directory holds a store made when the
    default was ./data: that one is still used, so no one loses a store by upgrading."""
    home = user_data_dir()
    if _is_data_dir(OLD_DATA_DIR) and OLD_DATA_DIR.resolve() != home.resolve():
        return OLD_DATA_DIR.resolve()
    return home


class Settings(BaseSettings):
    """Every knob articlebot has. Field docs are the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias=AliasChoices("ARTICLEBOT_DATA_DIR", "data_dir"),
        description="Where the embedded store, chat memory and locks live; default: the user's "
        "data dir (~/.local/share/articlebot on Linux), or ./data where a store is.",
    )
    collection: str = Field(
        "default",
        validation_alias=AliasChoices("ARTICLEBOT_COLLECTION", "collection"),
        description="The collection commands use unless given --collection NAME (`articlebot collections` lists "
        "them); `default` is the one a store made before collections existed holds.",
    )
    chroma_host: str | None = Field(
        None,
        validation_alias=AliasChoices("CHROMA_HOST", "chroma_host"),
        description="Chroma server host; unset = embedded store under the data dir.",
    )
    chroma_port: int = Field(8000, validation_alias=AliasChoices("CHROMA_PORT", "chroma_port"))
    chroma_ssl: bool = Field(False, validation_alias=AliasChoices("CHROMA_SSL", "chroma_ssl"))
    chroma_auth_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("CHROMA_AUTH_TOKEN", "chroma_auth_token"),
        description="Bearer token for a Chroma server with token auth.",
    )
    chroma_start_timeout: float = Field(
        60.0,
        validation_alias=AliasChoices("CHROMA_START_TIMEOUT", "chroma_start_timeout"),
        description="Seconds to wait for the Chroma server at start, retrying with "
        "backoff (compose may start the bot first); 0 = try once.",
    )

    # --- embeddings and chunking -------------------------------------------------------------
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        validation_alias=AliasChoices("EMBED_MODEL", "embed_model"),
        description="all-MiniLM-L6-v2 (bundled, offline), another sentence-transformers "
        "model path/name, or openai:<model>.",
    )
    embed_variant: Literal["auto", "fp32", "int8", "int8-docs"] = Field(
        "auto",
        validation_alias=AliasChoices("EMBED_VARIANT", "embed_variant"),
        description="How the bundled model runs (ONNX Runtime): auto (what the store was built with; int8 for a new "
        "store, fp32 for a new store embedded on a GPU), fp32 (same vectors as sentence-transformers), int8 "
        "(per-channel dynamic quantization, faster, its own vectors), int8-docs (int8 documents, fp32 query).",
    )
    embed_device: Literal["auto", "cpu", "cuda"] = Field(
        "cpu",
        validation_alias=AliasChoices("EMBED_DEVICE", "embed_device"),
        description="Where documents are embedded (ingest): cpu, cuda, or auto (a CUDA GPU when onnxruntime sees one). "
        "Queries always run on the CPU.",
    )
    model_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("ARTICLEBOT_MODEL_DIR", "model_dir"),
        description="Where the converted (ONNX) model is cached; default <data dir>/models.",
    )
    # 16 measured fastest on 2 CPU cores (34 chunks/s vs 30 at 64): less padding per batch.
    embed_batch_size: int = Field(
        16,
        validation_alias=AliasChoices("EMBED_BATCH_SIZE", "embed_batch_size"),
        description="Texts per embedding batch.",
    )
    chunk_size: int = Field(
        512,
        validation_alias=AliasChoices("CHUNK_SIZE", "chunk_size"),
        description="Chunk size in tokens (cl100k); chosen by benchmarks/chunk_size.py and benchmarks/retrieval.py.",
    )
    chunk_overlap: int = Field(85, validation_alias=AliasChoices("CHUNK_OVERLAP", "chunk_overlap"))
    sentence_vectors: bool = Field(
        True,
        validation_alias=AliasChoices("SENTENCE_VECTORS", "sentence_vectors"),
        description="A vector per sentence (better recall; ingest embeds ~2x longer and the "
        "vector index is ~17x larger). Off: one vector per chunk.",
    )
    max_file_mb: float = Field(
        20.0,
        validation_alias=AliasChoices("MAX_FILE_MB", "max_file_mb"),
        description="Files and downloads larger than this are skipped; in a .jsonl or .jsonl.gz collection, each "
        "article (line) larger than this.",
    )
    fetch_timeout: float = Field(20.0, validation_alias=AliasChoices("FETCH_TIMEOUT", "fetch_timeout"))
    allow_private_urls: bool = Field(
        False,
        validation_alias=AliasChoices("ALLOW_PRIVATE_URLS", "allow_private_urls"),
        description="Fetch URLs on loopback and private addresses (intranet feeds).",
    )
    allow_link_local_urls: bool = Field(
        False,
        validation_alias=AliasChoices("ALLOW_LINK_LOCAL_URLS", "allow_link_local_urls"),
        description="Fetch URLs on link-local addresses (169.254.0.0/16, fe80::/10), "
        "where cloud metadata services answer; ALLOW_PRIVATE_URLS does not open them.",
    )

    # --- following (ingest/follow.py) --------------------------------------------------------
    follow: Sources = Field(
        (),
        validation_alias=AliasChoices("FOLLOW", "follow"),
        description="Feeds, pages and folders to follow (comma or space separated); seeds the list.",
    )
    follow_every: str = Field(
        "30m",
        validation_alias=AliasChoices("FOLLOW_EVERY", "follow_every"),
        pattern=r"^\s*\d+(\.\d+)?\s*[smhdSMHD]\s*$",
        description="How often a followed source is checked unless it says otherwise (30m, 2h, 1d).",
    )
    follow_max_new: int = Field(
        100,
        validation_alias=AliasChoices("FOLLOW_MAX_NEW", "follow_max_new"),
        description="New or changed feed entries taken per source per poll; the rest wait.",
    )

    # --- watches and digests (bot/news/) -----------------------------------------------------
    watch_alerts_per_hour: int = Field(
        5,
        ge=0,
        validation_alias=AliasChoices("WATCH_ALERTS_PER_HOUR", "watch_alerts_per_hour"),
        description="Alerts one watched topic sends an hour, one article each; more matches are summed up in one line.",
    )
    digest_period: float = Field(
        0.0,
        ge=0,
        validation_alias=AliasChoices("DIGEST_PERIOD", "digest_period"),
        description="Seconds between digests instead of a day at the chat's /digest time (tests, demos); 0 = daily.",
    )

    # --- answering ---------------------------------------------------------------------------
    top_k: int = Field(5, validation_alias=AliasChoices("TOP_K", "top_k"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"))
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="OpenAI-compatible server (Ollama, vLLM, llama.cpp).",
    )
    openai_model: str = Field("gpt-4o-mini", validation_alias=AliasChoices("OPENAI_MODEL", "openai_model"))
    openai_timeout: float = Field(
        30.0,
        validation_alias=AliasChoices("OPENAI_TIMEOUT", "openai_timeout"),
        description="Seconds per LLM call (the openai client's own default is 600).",
    )
    openai_max_retries: int = Field(2, validation_alias=AliasChoices("OPENAI_MAX_RETRIES", "openai_max_retries"))
    llm_max_tokens: int = Field(
        200,
        ge=16,
        validation_alias=AliasChoices("LLM_MAX_TOKENS", "llm_max_tokens"),
        description="Most tokens the LLM may write per call (one to three sentences with [n] "
        "markers fit in ~120); a reply that starts repeating itself is cut sooner.",
    )
    llm_first_token_timeout: float = Field(
        20.0,
        gt=0,
        validation_alias=AliasChoices("LLM_FIRST_TOKEN_TIMEOUT", "llm_first_token_timeout"),
        description="Streaming: seconds to wait for the model's first token (a local model reads the prompt first); "
        "OPENAI_TIMEOUT bounds the whole reply.",
    )
    llm_evidence: Literal["focused", "passages"] = Field(
        "focused",
        validation_alias=AliasChoices("LLM_EVIDENCE", "llm_evidence"),
        description="What the LLM reads: focused (the best sentences with their neighbours, titles and dates; ~4x "
        "fewer prompt tokens) or passages (the TOP_K whole chunks).",
    )
    llm_evidence_sentences: int = Field(
        6,
        ge=1,
        validation_alias=AliasChoices("LLM_EVIDENCE_SENTENCES", "llm_evidence_sentences"),
        description="Focused evidence: best sentences sent, each with its neighbours.",
    )
    llm_quotes: bool = Field(
        True,
        validation_alias=AliasChoices("LLM_QUOTES", "llm_quotes"),
        description="Under the language model's answer, the offline reader's best sentences from the articles, so "
        "every reply shows the words it rests on (a small local model's answer can miss; docs/llm.md). Off: the "
        "model's answer alone.",
    )
    reader_model: Literal["logistic", "cross"] = Field(
        "logistic",
        validation_alias=AliasChoices("READER_MODEL", "reader_model"),
        description="The offline reader: logistic (lexical features and embedding similarity; the default) or "
        "cross (a fine-tuned MiniLM cross-encoder stacked with it: better on held-out quiz weeks, worse on some "
        "short articles; docs/reader.md).",
    )
    memory_turns: int = Field(
        6,
        validation_alias=AliasChoices("MEMORY_TURNS", "memory_turns"),
        description="Question/answer pairs remembered per conversation.",
    )

    # --- telegram ----------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    )
    telegram_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("TELEGRAM_BASE_URL", "telegram_base_url"),
        description="Bot API server, e.g. a self-hosted telegram-bot-api.",
    )
    telegram_allowed_users: Ids = Field(
        frozenset(), validation_alias=AliasChoices("TELEGRAM_ALLOWED_USERS", "telegram_allowed_users")
    )
    telegram_allowed_chats: Ids = Field(
        frozenset(), validation_alias=AliasChoices("TELEGRAM_ALLOWED_CHATS", "telegram_allowed_chats")
    )
    telegram_admins: Ids = Field(frozenset(), validation_alias=AliasChoices("TELEGRAM_ADMINS", "telegram_admins"))
    telegram_chat_collections: Bindings = Field(
        default_factory=dict,
        validation_alias=AliasChoices("TELEGRAM_CHAT_COLLECTIONS", "telegram_chat_collections"),
        description="Which collection a chat answers from, e.g. -100123=markets,-100456=city; an admin's "
        "/collection NAME in a chat overrides it; other chats use ARTICLEBOT_COLLECTION.",
    )
    telegram_webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_URL", "telegram_webhook_url")
    )
    telegram_webhook_listen: str = Field(
        "0.0.0.0", validation_alias=AliasChoices("TELEGRAM_WEBHOOK_LISTEN", "telegram_webhook_listen")
    )
    telegram_webhook_port: int = Field(
        8443, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_PORT", "telegram_webhook_port")
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret")
    )
    telegram_user_rate: int = Field(
        10,
        validation_alias=AliasChoices("TELEGRAM_USER_RATE", "telegram_user_rate"),
        description="Questions one user may ask per minute.",
    )
    telegram_timezone: str = Field(
        "UTC",
        validation_alias=AliasChoices("TELEGRAM_TIMEZONE", "telegram_timezone"),
        description="Time zone of a /digest time when the chat names none (e.g. Europe/Oslo).",
    )
    telegram_link_preview: bool = Field(
        True,
        validation_alias=AliasChoices("TELEGRAM_LINK_PREVIEW", "telegram_link_preview"),
        description="Preview the first cited article under an answer or alert; false: no link previews.",
    )
    telegram_inline_cache: int = Field(
        300,
        ge=0,
        validation_alias=AliasChoices("TELEGRAM_INLINE_CACHE", "telegram_inline_cache"),
        description="Seconds an inline answer (@bot question) is reused for the same question (cache_time).",
    )
    telegram_feedback: bool = Field(
        True,
        validation_alias=AliasChoices("TELEGRAM_FEEDBACK", "telegram_feedback"),
        description="👍 / 👎 buttons under each answer; votes are kept for `articlebot feedback`.",
    )
    telegram_start_timeout: float = Field(
        300.0,
        validation_alias=AliasChoices("TELEGRAM_START_TIMEOUT", "telegram_start_timeout"),
        description="Seconds `articlebot telegram` keeps retrying to reach the Bot API "
        "at start before it exits 1; an invalid token exits at once.",
    )

    @field_validator("telegram_allowed_users", "telegram_allowed_chats", "telegram_admins", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> frozenset[int]:
        return _ids(value)

    @field_validator("telegram_chat_collections", mode="before")
    @classmethod
    def _parse_bindings(cls, value: object) -> dict[int, str]:
        return _bindings(value)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()  # "~/articles-data" in .env means the home folder, not a folder named "~"

    @model_validator(mode="after")
    def _default_model_dir(self) -> Settings:
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
    def data_dir_note(self) -> str:
        """One line for the operator when the data dir is an old ./data store found in the working directory."""
        if "data_dir" in self.model_fields_set or self.data_dir != OLD_DATA_DIR.resolve():
            return ""
        return (
            f"using the store in ./data (found in the working directory); the default is now {user_data_dir()}: "
            "move it there, or set ARTICLEBOT_DATA_DIR, to use it from any folder"
        )

    @property
    def store_location(self) -> str:
        """Where the articles are, for messages: the Chroma server, or the data dir."""
        if self.chroma_host:
            return f"the Chroma server at {self.chroma_host}:{self.chroma_port}"
        return str(self.data_dir.resolve())

    @property
    def llm_configured(self) -> bool:
        return bool(reveal(self.openai_api_key) or self.openai_base_url)

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)
