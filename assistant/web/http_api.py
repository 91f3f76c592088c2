"""Plain HTTP routes served beside the Gradio page, on the same port.

- ``/v1/chat/completions`` and ``/v1/models``: the assistant as an OpenAI-compatible "model",
  so any OpenAI client or chat front end can use it. The conversation comes in as
  ``messages`` (follow-ups work); the answer goes out as the message content (the text with
  its ``[n]`` markers and the sources list), and as data in two extra fields: ``citations``
  (number, title, paper_id, passage, score) and ``paper_assistant`` (the whole ``Answer``:
  claims with verdicts, premise issues, related papers, notice …). ``stream: true`` sends
  server-sent events as the OpenAI API does; the extras ride on the last chunk.
- ``/health``: whether the engine is ready, with the corpus counts (503 while it starts).

Both follow the web app's login when one is set (``exposure.LoginThrottle`` checks it).
The streamed text is the *checked* answer: citations are verified claim by claim only once
an answer is complete (a dropped citation renumbers the others), so with an LLM backend the
stream starts when the answer has been checked, and never carries a marker it later drops.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.core.errors import first_problem
from assistant.web.exposure import api_error
from assistant.web.holder import EngineHolder, EngineUnavailable

if TYPE_CHECKING:  # the engine's modules: imported by its build, not before the server starts
    from assistant.answer import Answer
    from assistant.engine import Assistant

log = logging.getLogger(__name__)

MODEL_ID = "paper-assistant"
STREAM_PIECE_CHARS = 48  # about a line of text per server-sent event
RETRY_AFTER_SECONDS = 5


class TextPart(BaseModel):
    """One part of a message's content list; only text parts carry a question."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """The fields of OpenAI's chat-completions request this endpoint reads, plus its own
    extras (``top_k``, ``filters``). Other OpenAI fields (``max_tokens``, ``n`` …) are
    accepted and ignored: the answer is as long as the evidence."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_k: int | None = None
    filters: dict[str, Any] | None = None


class RequestRefused(Exception):
    """A request the endpoint cannot serve: its HTTP status and an OpenAI-style body."""

    def __init__(self, status: int, message: str, code: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}

    def response(self) -> JSONResponse:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return JSONResponse(
            api_error(str(self), self.code, kind), status_code=self.status, headers=self.headers
        )


def build_router(holder: EngineHolder) -> APIRouter:
    router = APIRouter()
    # At most as many /v1 answers at once as the page's queue runs; each holds one of the
    # shared WorkSlots, so the two front doors split the engine fairly under load.
    waiting_room = anyio.CapacityLimiter(holder.slots.limit)

    def answer_in_slot(engine: Assistant, body: CompletionRequest) -> Answer:
        with holder.slots.held():
            return answer_for(engine, body)

    @router.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @router.get(f"/v1/models/{MODEL_ID}")
    def model() -> dict[str, Any]:
        return model_card()

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = parse_request(await request.body())
            engine = await run_in_threadpool(ready_engine, holder)
            answer = await anyio.to_thread.run_sync(
                answer_in_slot, engine, body, limiter=waiting_room
            )
        except RequestRefused as refused:
            return refused.response()
        completion = Completion(answer)
        if body.stream:
            return StreamingResponse(
                completion.events(),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return JSONResponse(completion.whole())

    @router.get("/health")
    def health() -> JSONResponse:
        engine = holder.engine  # read once: a reload may swap it meanwhile
        problem = holder.store_problem()  # not ready while the store cannot answer
        ready = engine is not None and problem is None
        state: dict[str, Any] = {"ready": ready, "status": problem or holder.status}
        if engine is not None:  # the line and the counts from one engine's stats
            stats = engine.stats()
            state.update(
                status=problem or holder.describe(stats),
                papers=stats["papers"],
                chunks=stats["chunks"],
                backend=stats["backend"],
            )
        return JSONResponse(state, status_code=200 if ready else 503)

    return router


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "paper-assistant"}


def parse_request(raw: bytes) -> CompletionRequest:
    try:
        body = CompletionRequest.model_validate_json(raw)
    except ValidationError as error:
        where, problem = first_problem(error, "body")
        raise RequestRefused(400, f"{where}: {problem}", "invalid_request") from None
    if body.model != MODEL_ID:
        raise RequestRefused(
            404, f"model {body.model!r} is not served here; use {MODEL_ID!r}", "model_not_found"
        )
    if body.messages[-1].role != "user" or not body.messages[-1].text().strip():
        raise RequestRefused(
            400, "messages: the last message must be the user's question", "invalid_request"
        )
    return body


def ready_engine(holder: EngineHolder) -> Assistant:
    """The engine, waiting for it while it starts (bounded); a retryable 503 after that."""
    try:
        return holder.ready()
    except EngineUnavailable as error:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if error.retryable else {}
        raise RequestRefused(503, str(error), "not_ready", headers) from None


def answer_for(engine: Assistant, body: CompletionRequest) -> Answer:
    """The checked answer to the last message, earlier user/assistant turns as history."""
    from assistant.answer import final_answer
    from assistant.filters import FilterError
    from assistant.questions import QuestionError

    history = [
        {"role": message.role, "content": message.text()}
        for message in body.messages[:-1]
        if message.role in ("user", "assistant")
    ]
    options: dict[str, Any] = {"history": history, "top_k": body.top_k}
    if body.temperature is not None:
        options["temperature"] = body.temperature
    if body.filters:
        options["filters"] = body.filters
    try:
        return final_answer(engine.events(body.messages[-1].text(), **options))
    except (QuestionError, FilterError) as error:  # too long, not text, a bad top_k or filter
        raise RequestRefused(400, str(error), "invalid_request") from None
    except Exception:  # never a stack trace to a client
        log.exception("answering an API request failed")
        raise RequestRefused(
            500, "something went wrong while answering; please try again", "internal_error"
        ) from None


class Completion:
    """One answer as a chat completion, whole or as server-sent events."""

    def __init__(self, answer: Answer):
        self.answer = answer
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def extras(self) -> dict[str, Any]:
        data = self.answer.to_dict()
        return {"citations": data["citations"], "paper_assistant": data}

    def whole(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.answer.markdown},
                    "finish_reason": "stop",
                }
            ],
            **self.extras(),
        }

    def events(self) -> Iterator[str]:
        yield self._event({"role": "assistant", "content": ""})
        for piece in pieces(self.answer.markdown, STREAM_PIECE_CHARS):
            yield self._event({"content": piece})
        yield self._event({}, finish="stop", **self.extras())
        yield "data: [DONE]\n\n"

    def _event(
        self, delta: dict[str, Any], finish: Literal["stop"] | None = None, **extra: Any
    ) -> str:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


def pieces(text: str, size: int) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, cut after a space when one is near;
    joined they give ``text`` back exactly."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space + 1 if space != -1 else end
        yield text[start:end]
        start = end
