"""LLM backends behind llama-index's LLM interface, and readable messages for their failures.

``openai`` talks to OpenAI; ``openai-compatible`` to any server that speaks the same
protocol (Ollama, vLLM, llama.cpp's server, LM Studio). Failures are mapped to one plain
sentence that never contains an API key; the engine then falls back to the extractive answer.

Every call is guarded (:class:`CallGuard`): ``ASSISTANT_LLM_TIMEOUT`` is a deadline for the
whole call, not per read (a server that sends keep-alive comments cannot hold a question);
the output is capped (a server that ignores ``max_tokens`` cannot hold a worker); and a
stream that ends without a ``finish_reason`` is a failure, not a complete answer. Each
raises an :class:`LLMCallError`, which the engine turns into a notice plus the extractive
answer like any other LLM failure.
"""

from __future__ import annotations

import contextvars
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from llama_index.core.llms import LLM, ChatResponse

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings
from assistant.prompts import render

# The output cap: a token is about 4 characters of English; twice that leaves room for any
# honest answer within max_tokens while stopping a server that ignores it.
CHARS_PER_TOKEN = 8
# Raw bytes one call may receive (SSE framing and JSON around each delta included).
RAW_BYTES_PER_TOKEN = 1024
MIN_RAW_BYTES = 1 << 20


class LLMCallError(RuntimeError):
    """An LLM call that broke a guard: past its deadline, too long, or cut off."""


class LLMDeadlineExceeded(LLMCallError, TimeoutError):
    """The call did not finish within ``ASSISTANT_LLM_TIMEOUT`` seconds; ``started``: whether
    the model had begun to answer."""

    def __init__(self, seconds: float, started: bool):
        super().__init__(f"no complete answer within {seconds:g} s")
        self.started = started


class LLMOutputTooLong(LLMCallError):
    """The model wrote far more than ``ASSISTANT_MAX_TOKENS`` allows."""


class LLMStreamTruncated(LLMCallError):
    """The stream ended without a ``finish_reason``: the answer is incomplete."""


def output_cap(max_tokens: int | None) -> int:
    """Characters of generated text one call may return."""
    return max(16, max_tokens or 512) * CHARS_PER_TOKEN


def raw_cap(max_tokens: int | None) -> int:
    return max(MIN_RAW_BYTES, max(16, max_tokens or 512) * RAW_BYTES_PER_TOKEN)


_CALL: contextvars.ContextVar[CallGuard | None] = contextvars.ContextVar(
    "assistant_llm_call", default=None
)


class CallGuard:
    """One LLM call run in a helper thread that the caller waits on until a deadline.

    The caller gets the call's chunks as they come, and :class:`LLMDeadlineExceeded` at the
    deadline whatever the server does (silent, or sending keep-alive comments). When the
    caller stops (deadline, cap, or it simply stops reading), the call is cancelled: the
    transport (:class:`GuardedTransport`) shuts its socket, so the helper thread ends too.
    """

    def __init__(self, seconds: float, max_chars: int):
        self.seconds = seconds
        self.max_chars = max_chars
        self.deadline = time.monotonic() + seconds
        self.cancelled = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        """The socket a response arrives on, shut when the call is cancelled."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            cancelled = self.cancelled.is_set()
        if cancelled:
            _shut(sock)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def run(self, call: Callable[[], Iterable[Any]]) -> Iterator[Any]:
        """The items of ``call()`` (run in a helper thread), within the deadline."""
        items: queue.Queue[tuple[str, Any]] = queue.Queue()

        def produce() -> None:
            _CALL.set(self)
            try:
                for item in call():
                    items.put(("item", item))
                    if self.cancelled.is_set():
                        return
                items.put(("end", None))
            except BaseException as error:  # handed to the caller, raised there
                items.put(("error", error))

        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(produce,), daemon=True).start()
        started = False
        try:
            while True:
                try:
                    kind, value = items.get(timeout=max(0.0, self.deadline - time.monotonic()))
                except queue.Empty:
                    raise LLMDeadlineExceeded(self.seconds, started) from None
                if kind == "end":
                    return
                if kind == "error":
                    raise _guard_error(value) or value
                started = True
                yield value
        finally:
            self.cancel()

    def stream(self, call: Callable[[], Iterable[ChatResponse]]) -> Iterator[ChatResponse]:
        """A chat stream within the deadline and the output cap, that must end properly."""
        written = 0
        finished = False
        for response in self.run(call):
            written += len(response.delta or "")
            if written > self.max_chars:
                raise LLMOutputTooLong(f"more than {self.max_chars} characters")
            finished = finished or _finish_reason(response) is not None
            yield response
        if not finished:
            raise LLMStreamTruncated("the stream ended without a finish_reason")

    def one(self, call: Callable[[], ChatResponse]) -> ChatResponse:
        """A whole (non-streamed) chat response within the deadline and the output cap."""
        (response,) = list(self.run(lambda: [call()]))
        if len(response.message.content or "") > self.max_chars:
            raise LLMOutputTooLong(f"more than {self.max_chars} characters")
        return response


def _finish_reason(response: ChatResponse) -> str | None:
    choices = getattr(response.raw, "choices", None) or []
    return getattr(choices[0], "finish_reason", None) if choices else None


def _guard_error(error: BaseException) -> LLMCallError | None:
    """The guard's own error behind one the client wrapped (openai wraps a failed body read
    of a whole response as a connection error)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, LLMCallError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it
    except OSError:
        pass


class GuardedTransport(httpx.BaseTransport):
    """httpx's transport with every response body bounded: past the call's deadline or its
    byte cap it raises, and a cancelled call's socket is shut (see :class:`CallGuard`)."""

    def __init__(self, seconds: float, max_bytes: int):
        self.inner = httpx.HTTPTransport()
        self.seconds = seconds
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        guard = _CALL.get()
        seconds = guard.seconds if guard else self.seconds
        deadline = guard.deadline if guard else time.monotonic() + seconds
        response = self.inner.handle_request(request)
        stream = response.extensions.get("network_stream")
        if guard is not None and stream is not None:
            guard.watch(stream.get_extra_info("socket"))
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, deadline, self.max_bytes, seconds),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, deadline: float, max_bytes: int, seconds: float):
        self.inner, self.deadline, self.seconds = inner, deadline, seconds
        self.max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self.inner:
            received += len(chunk)
            if time.monotonic() > self.deadline:
                raise LLMDeadlineExceeded(self.seconds, started=received > len(chunk))
            if received > self.max_bytes:
                raise LLMOutputTooLong(f"more than {self.max_bytes} bytes")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _Guarded:
    """Mixed into llama-index's OpenAI classes: every chat call goes through a CallGuard."""

    timeout: float
    max_tokens: int | None

    def _guard(self) -> CallGuard:
        return CallGuard(self.timeout, output_cap(self.max_tokens))

    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        call = super().chat  # type: ignore[misc]
        return self._guard().one(lambda: call(messages, **kwargs))

    def stream_chat(self, messages: Any, **kwargs: Any) -> Iterator[ChatResponse]:
        guard = self._guard()
        stream = super().stream_chat(messages, **kwargs)  # type: ignore[misc]
        return guard.stream(lambda: stream)

    def chat_within(self, messages: Any, seconds: float, **kwargs: Any) -> ChatResponse:
        """A whole chat response within ``seconds`` instead of the backend's timeout."""
        call = super().chat  # type: ignore[misc]
        guard = CallGuard(seconds, output_cap(self.max_tokens))
        return guard.one(lambda: call(messages, **kwargs))


def chat_within(llm: LLM, messages: Any, seconds: float, **kwargs: Any) -> ChatResponse:
    """One whole chat call with its own whole-call deadline (the claim verification's time
    box): past it, :class:`LLMDeadlineExceeded`, whatever the server does."""
    if isinstance(llm, _Guarded):
        return llm.chat_within(messages, seconds, **kwargs)
    guard = CallGuard(seconds, output_cap(getattr(llm, "max_tokens", None)))
    return guard.one(lambda: llm.chat(messages, **kwargs))


def guarded_http_client(settings: Settings) -> httpx.Client:
    transport = GuardedTransport(settings.llm_timeout, raw_cap(settings.max_tokens))
    return httpx.Client(transport=transport, follow_redirects=True)


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
    common["http_client"] = guarded_http_client(settings)
    if backend == "openai":
        from llama_index.llms.openai import OpenAI

        class GuardedOpenAI(_Guarded, OpenAI):
            pass

        if missing := settings.missing_llm_key():
            raise LLMConfigError(missing)
        return GuardedOpenAI(
            model=settings.llm_model,
            api_key=api_key,
            api_base=settings.llm_base_url or None,
            **common,
        )
    from llama_index.llms.openai_like import OpenAILike

    class GuardedOpenAILike(_Guarded, OpenAILike):
        pass

    if not settings.llm_base_url or not settings.llm_model:
        raise LLMConfigError(
            "ASSISTANT_LLM=openai-compatible needs ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL"
        )
    return GuardedOpenAILike(
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
    if isinstance(error, LLMDeadlineExceeded) and error.started:
        return render("llm_deadline", where=where, seconds=f"{settings.llm_timeout:g}")
    if isinstance(error, LLMOutputTooLong):
        return render("llm_too_long", where=where, max_tokens=settings.max_tokens)
    if isinstance(error, LLMStreamTruncated):
        return render("llm_truncated", where=where)
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
