"""Who can reach the app, and how hard a password can be guessed: refusing unintended
exposure before anything starts, and throttling failed logins."""

from __future__ import annotations

import base64
import binascii
import hmac
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
# Plain HTTP routes beside Gradio's (assistant/web/http_api.py); Gradio's login does not
# cover them, so this middleware checks their credentials itself.
API_PREFIXES = ("/v1/", "/health")
MAX_TRACKED_CLIENTS = 10_000


class LoginThrottle:
    """ASGI middleware for the login: it throttles Gradio's ``POST /login`` and checks the
    credentials of the plain HTTP API (``/v1/…``, ``/health``), counting failures of both
    per client address. An address with ``max_failures`` failures within ``window``
    seconds gets 429 (even for the right password) until the oldest is ``window`` old.

    Gradio's ``auth`` callable sees only the user name and password, not the client, so
    the throttle wraps the route instead (middleware of the app the server runs, in front
    of ``/v1`` and of the mounted Gradio app alike: ``assistant.web.server.Site``). Every login attempt counts as a failure from the moment it
    starts and is forgiven only when it succeeds, so parallel guesses cannot slip past the
    count. An API request is decided here, before it runs: ``Authorization: Bearer
    <user>:<password>`` (what OpenAI clients send as their API key) or HTTP Basic.
    """

    def __init__(
        self,
        app: Any,
        max_failures: int,
        window: float,
        credentials: tuple[str, str] | None = None,
        clock=time.monotonic,
    ):
        self.app = app
        self.max_failures = max_failures
        self.window = window
        self.secret = f"{credentials[0]}:{credentials[1]}".encode() if credentials else None
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if self.secret is not None and path.startswith(API_PREFIXES):
            await self._api(scope, receive, send)
            return
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not path.endswith(LOGIN_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        if (admitted := await self._admitted(scope, send, api=False)) is None:
            return
        client, now, recent = admitted
        recent.append(now)  # provisional: forgiven below if the login succeeds

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.failures.pop(client, None)
                elif len(recent) == self.max_failures:
                    self._warn(client, len(recent))
            await send(message)

        await self.app(scope, receive, watch)

    async def _api(self, scope: dict, receive: Any, send: Any) -> None:
        """Decided before the request runs, with no await in between: no race to slip by."""
        if (admitted := await self._admitted(scope, send, api=True)) is None:
            return
        client, now, recent = admitted
        if self._authorized(scope):
            self.failures.pop(client, None)
            await self.app(scope, receive, send)
            return
        recent.append(now)
        if len(recent) == self.max_failures:
            self._warn(client, len(recent))
        await send_json(
            send,
            401,
            api_error(
                "Missing or wrong credentials: send the app's login as the API key "
                "(Authorization: Bearer <user>:<password>) or as HTTP Basic.",
                "invalid_api_key",
            ),
            [(b"www-authenticate", b'Basic realm="paper-assistant"')],
        )

    async def _admitted(
        self, scope: dict, send: Any, *, api: bool
    ) -> tuple[str, float, deque[float]] | None:
        """(client address, now, its failures within the window) for a client that may try;
        None once a locked-out client has been refused (429, even with the right password).
        Nothing here suspends before the refusal, so the count cannot change under it."""
        client = (scope.get("client") or ("unknown", 0))[0]
        now = self.clock()
        recent = self._recent(client, now)
        if len(recent) >= self.max_failures:
            await _refuse(send, self._wait(recent, now), api=api)
            return None
        return client, now, recent

    def _authorized(self, scope: dict) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        value = value.strip()
        if scheme.lower() == b"basic":
            try:
                value = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
        elif scheme.lower() != b"bearer":
            return False
        return hmac.compare_digest(value, self.secret or b"")

    def _wait(self, recent: deque[float], now: float) -> int:
        return max(1, math.ceil(recent[-self.max_failures] + self.window - now))

    def _warn(self, client: str, count: int) -> None:
        log.warning(
            "%d failed logins from %s: refusing its logins for up to %g s",
            count,
            client,
            self.window,
        )

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


def api_error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An error body shaped as the OpenAI API shapes them, so its clients report it."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _refuse(send: Any, wait: int, *, api: bool) -> None:
    message = f"Too many failed logins from this address; try again in {wait} s."
    body = api_error(message, "too_many_failed_logins") if api else {"detail": message}
    await send_json(send, 429, body, [(b"retry-after", str(wait).encode())])


async def send_json(
    send: Any,
    status: int,
    payload: dict[str, Any],
    headers: list[tuple[bytes, bytes]] = (),
    *,
    more_body: bool = False,
) -> None:
    """A JSON response straight on the ASGI channel (before any app reads the request).
    ``more_body`` leaves the response open (its whole body is sent, Content-Length says so)
    for a caller that still has to drain the request before the server may close."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": more_body})
