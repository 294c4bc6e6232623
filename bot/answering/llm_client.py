"""Reaching the LLM: the client (an OpenAI-compatible server through llama-index) with our timeouts and retries, and
a short reason for a failed call that is safe to show a user."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings, reveal


def build_llm(settings: Settings):
    """llama-index's OpenAI for api.openai.com models it knows, OpenAILike for any other server or model name.

    The openai client is built here so its timeout and retries are ours (its own default timeout is 600 s);
    llama-index's retry wrapper is switched off (max_retries=0) because it would retry each of the client's
    retries again, with waits of up to 20 s. max_tokens is not set here but sent with every call (the answer's
    and the condense step's bounds differ, and llama-index would let a constructor value override a call's).
    """
    import openai
    from llama_index.llms.openai import OpenAI
    from llama_index.llms.openai_like import OpenAILike

    key = reveal(settings.openai_api_key) or "not-needed"  # local servers (Ollama, llama.cpp) accept any key
    common: dict[str, Any] = dict(
        model=settings.openai_model,
        api_key=key,
        max_retries=0,
        timeout=settings.openai_timeout,
        temperature=0.0,
        reuse_client=True,
    )
    client = openai.OpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
    )
    if not settings.openai_base_url:
        llm = OpenAI(**common, openai_client=client)
        try:
            _ = llm.metadata  # raises for model names llama-index's OpenAI class does not know
            return llm
        except ValueError:
            pass
    return OpenAILike(
        **common, api_base=settings.openai_base_url, is_chat_model=True, context_window=8192, openai_client=client
    )


def why(exc: BaseException) -> str:
    """A short, user-safe reason for a failed call (no URLs, keys or tracebacks)."""
    import openai

    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.APIStatusError):
        return f"server error {exc.status_code}"
    return "unexpected reply"
