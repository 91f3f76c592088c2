"""Who can reach the app, and how hard a password can be guessed: refusing unintended
exposure before anything starts, and throttling failed logins."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
from collections import deque
from typing import Any

from assistant.core.settings import Settings

log = logging.getLogger(__name__)


class LaunchRefused(RuntimeError):
    """The settings would expose the app in a way nobody asked for (a one-line reason)."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves only this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name or an empty string: it may be reachable from anywhere
        return False


def check_exposure(settings: Settings) -> str | None:
    """Refuse a half-configured login, or serving without one beyond this machine unless
    ``ASSISTANT_ALLOW_PUBLIC`` says so; returns the warning to log in that case."""
    user = (settings.auth_user or "").strip()
    password = settings.auth_password.get_secret_value() if settings.auth_password else ""
    if user and not password:
        raise LaunchRefused(
            "ASSISTANT_AUTH_USER is set but ASSISTANT_AUTH_PASSWORD is not: "
            "set both for a login, or neither"
        )
    if password and not user:
        raise LaunchRefused(
            "ASSISTANT_AUTH_PASSWORD is set but ASSISTANT_AUTH_USER is not: "
            "set both for a login, or neither"
        )
    if user or (is_loopback(settings.host) and not settings.share):
        return None
    where = "a public share link" if settings.share else f"{settings.host}:{settings.port}"
    if not settings.allow_public:
        raise LaunchRefused(
            f"refusing to serve on {where} without a login: set ASSISTANT_AUTH_USER and "
            "ASSISTANT_AUTH_PASSWORD, bind ASSISTANT_HOST=127.0.0.1, or set "
            "ASSISTANT_ALLOW_PUBLIC=true if anyone who can reach it may use it"
        )
    return (
        f"serving on {where} without a login (ASSISTANT_ALLOW_PUBLIC=true): "
        "anyone who can reach it can use the assistant"
    )


LOGIN_PATHS = ("/login", "/login/")
MAX_TRACKED_CLIENTS = 10_000


class LoginThrottle:
    """ASGI middleware in front of Gradio's ``POST /login``: a client address with
    ``max_failures`` failed attempts within ``window`` seconds gets 429 (even for the
    right password) until the oldest of them is ``window`` seconds old.

    Gradio's ``auth`` callable sees only the user name and password, not the client, so
    the throttle wraps the route instead (``launch(app_kwargs={"middleware": …})``, passed
    on to the FastAPI app). Every attempt counts as a failure from the moment it starts
    and is forgiven only when it succeeds, so parallel guesses cannot slip past the count.
    """

    def __init__(self, app: Any, max_failures: int, window: float, clock=time.monotonic):
        self.app = app
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not scope.get("path", "").endswith(LOGIN_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        now = self.clock()
        recent = self._recent(client, now)
        if len(recent) >= self.max_failures:
            wait = max(1, math.ceil(recent[-self.max_failures] + self.window - now))
            await _refuse(send, wait)
            return
        recent.append(now)  # provisional: forgiven below if the login succeeds

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.failures.pop(client, None)
                elif len(recent) == self.max_failures:
                    log.warning(
                        "%d failed logins from %s: refusing its logins for up to %g s",
                        len(recent),
                        client,
                        self.window,
                    )
            await send(message)

        await self.app(scope, receive, watch)

    def _recent(self, client: str, now: float) -> deque[float]:
        if client not in self.failures and len(self.failures) >= MAX_TRACKED_CLIENTS:
            for key in [k for k, v in self.failures.items() if not v or v[-1] <= now - self.window]:
                del self.failures[key]
            while len(self.failures) >= MAX_TRACKED_CLIENTS:  # bounded memory, oldest first
                del self.failures[next(iter(self.failures))]
        recent = self.failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent


async def _refuse(send: Any, wait: int) -> None:
    body = json.dumps(
        {"detail": f"Too many failed logins from this address; try again in {wait} s."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(wait).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
