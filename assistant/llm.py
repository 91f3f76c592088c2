"""LLM backends behind llama-index's LLM interface, and readable messages for their failures.

``openai`` talks to OpenAI; ``openai-compatible`` to any server that speaks the same
protocol (Ollama, vLLM, llama.cpp's server, LM Studio). Failures are mapped to one plain
sentence that never contains an API key; the engine then falls back to the extractive answer.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from llama_index.core.llms import LLM

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings


class LLMConfigError(AssistantError, ValueError):
    """The LLM settings are incomplete."""


def safe_url(url: str | None) -> str:
    """A base URL fit to show: any user:password@ part removed."""
    if not url:
        return "the OpenAI API"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def build_llm(settings: Settings) -> LLM | None:
    """The configured chat model, or None for the extractive backend."""
    backend = settings.llm
    if backend == "extractive":
        return None
    api_key = settings.llm_key
    common = dict(
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        timeout=settings.llm_timeout,
        max_retries=0,  # a failing endpoint must fail fast; the extractive answer stands in
    )
    if backend == "openai":
        from llama_index.llms.openai import OpenAI

        if not api_key:
            raise LLMConfigError(
                "ASSISTANT_LLM=openai needs OPENAI_API_KEY or ASSISTANT_LLM_API_KEY"
            )
        return OpenAI(
            model=settings.llm_model,
            api_key=api_key,
            api_base=settings.llm_base_url or None,
            **common,
        )
    from llama_index.llms.openai_like import OpenAILike

    if not settings.llm_base_url or not settings.llm_model:
        raise LLMConfigError(
            "ASSISTANT_LLM=openai-compatible needs ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL"
        )
    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url,
        api_key=api_key or "not-needed",
        is_chat_model=True,
        context_window=settings.llm_context_window,
        **common,
    )


def describe_failure(error: BaseException, settings: Settings) -> str:
    """One readable sentence for an LLM failure. Never includes keys or stack traces."""
    import openai

    where = safe_url(settings.llm_base_url)
    model = settings.llm_model or "the model"
    if isinstance(error, openai.APITimeoutError):
        return f"The language model at {where} did not answer within {settings.llm_timeout:g} s."
    if isinstance(error, openai.APIConnectionError):
        return f"Could not connect to the language model at {where}."
    if isinstance(error, openai.AuthenticationError):
        return f"The language model at {where} rejected the API key (HTTP 401)."
    if isinstance(error, openai.PermissionDeniedError):
        return f"The language model at {where} refused access (HTTP 403)."
    if isinstance(error, openai.NotFoundError):
        return f"Model {model!r} was not found at {where} (HTTP 404)."
    if isinstance(error, openai.RateLimitError):
        return f"The language model at {where} is rate-limiting requests (HTTP 429)."
    if isinstance(error, openai.APIStatusError):
        return f"The language model at {where} failed with HTTP {error.status_code}."
    if isinstance(error, TimeoutError):
        return f"The language model at {where} did not answer within {settings.llm_timeout:g} s."
    if isinstance(error, ConnectionError):
        return f"Could not connect to the language model at {where}."
    return f"The language model at {where} sent a malformed response."
