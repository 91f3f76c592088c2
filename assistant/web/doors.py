"""What reaches the app at all, decided before Gradio sees a request: which ``Host`` names it
answers to (DNS rebinding), how large a request may be, the routes it refuses, whose
``X-Forwarded-For`` it believes, and the one concurrency limit every answering call shares.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from assistant.core.settings import Settings
from assistant.web.exposure import send_json

_CLOSE = [(b"connection", b"close")]  # the rest of a refused body is never handed on
# A refused request's connection is closed only after the client has stopped sending (a
# "lingering close", as nginx does): closing with unread bytes in the socket makes the kernel
# reset it, which can destroy the refusal before the client reads it. Bounded both ways.
LINGER_IDLE_SECONDS = 1.0
LINGER_MAX_SECONDS = 5.0
LINGER_MAX_BYTES = 16 << 20

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
UNSPECIFIED = ("", "0.0.0.0", "::", "[::]")
# Requests larger than this are refused (413) before their body is read: a question is at
# most ASSISTANT_MAX_QUESTION_CHARS, a long conversation's history a few hundred kB.
MAX_REQUEST_BYTES = 4 << 20
# The app takes no files: Gradio's upload route would write anyone's files into its cache.
REFUSED_PREFIXES = ("/gradio_api/upload",)
BODY_METHODS = ("POST", "PUT", "PATCH")


def names(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def allowed_hosts(settings: Settings) -> list[str]:
    """The Host names the app answers to: loopback names, the bound address (unless it is
    the unspecified 0.0.0.0/::), ``ASSISTANT_ALLOWED_HOSTS``, and Gradio's share domain
    when a share link is on."""
    hosts = list(LOOPBACK_NAMES)
    bound = settings.host.strip().lower()
    if bound not in UNSPECIFIED:
        hosts.append(f"[{bound.strip('[]')}]" if ":" in bound else bound)
    hosts += names(settings.allowed_hosts)
    if settings.share:
        hosts.append("*.gradio.live")
    return list(dict.fromkeys(hosts))


def trust_forwarded_headers(settings: Settings) -> None:
    """Believe ``X-Forwarded-For`` only from ``ASSISTANT_TRUSTED_PROXIES``. uvicorn (the server
    ``assistant.web.server`` runs) trusts loopback by default, so a local client could pose
    as any address and slip past the login throttle; it reads ``FORWARDED_ALLOW_IPS``."""
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(names(settings.trusted_proxies))


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the Host allow-list, then the request limits."""
    return [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings)),
        Middleware(RequestLimits, max_bytes=MAX_REQUEST_BYTES),
    ]


class RequestLimits:
    """ASGI middleware: refuses the upload route, and any request body over ``max_bytes``
    (by its Content-Length, or counted as it arrives when it has none) before the app
    reads it."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").startswith(REFUSED_PREFIXES):
            await refuse(send, receive, 403, {"detail": "This app accepts no file uploads."})
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_large = {"detail": f"Request body too large: the limit is {self.max_bytes} bytes."}
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await refuse(send, receive, 400, {"detail": "Invalid Content-Length."})
                return
            if declared > self.max_bytes:
                await refuse(send, receive, 413, too_large)
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read it here, up to the cap, then hand it on whole.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await refuse(send, receive, 413, too_large)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def refuse(send: Any, receive: Any, status: int, payload: dict[str, Any]) -> None:
    """Send a refusal whole, then read and drop what the client still sends (until it pauses
    for ``LINGER_IDLE_SECONDS``, stops, or passes the time and byte bounds) before the
    server closes the connection, so the refusal reaches the client instead of a reset."""
    await send_json(send, status, payload, _CLOSE, more_body=True)
    loop = asyncio.get_running_loop()
    deadline, drained = loop.time() + LINGER_MAX_SECONDS, 0
    while drained <= LINGER_MAX_BYTES:
        wait = min(LINGER_IDLE_SECONDS, deadline - loop.time())
        if wait <= 0:
            break
        try:
            message = await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            break
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
        drained += len(message.get("body", b""))
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class WorkSlots:
    """The one limit on concurrent answering calls (``ASSISTANT_CONCURRENCY_LIMIT``), shared
    by the page's queue (/chat, /ask, /search) and the OpenAI-compatible ``/v1``: each call
    holds a slot while the engine works for it, so neither front door can take every core."""

    def __init__(self, limit: int):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()
