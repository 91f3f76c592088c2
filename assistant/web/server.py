"""Serving the web app: exposure checks, what may reach it (``doors``), the login and its
throttle, the OpenAI-compatible routes, then the Gradio page.

The app owns its server (uvicorn) so that the first answer does not wait for the page:

1. the exposure check, before anything starts;
2. the server answers ``/v1`` and ``/health`` at once (503 "starting" until the engine is
   built), and a "starting" page at every other path, every door in front of it all (the
   Host allow-list, the request limits, the login and its throttle);
3. the engine is built in the background, importing its modules as it goes;
4. once it is built (or reports a first-start ingest, which takes minutes), Gradio is
   imported, the page built and mounted behind the same doors (``gr.mount_gradio_app``),
   and its startup events (the queue, the state clean-up) run in the server's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.routing import Mount

from assistant.core.settings import Settings
from assistant.web import doors
from assistant.web.exposure import LaunchRefused, LoginThrottle, check_exposure, send_json
from assistant.web.holder import EngineHolder, EngineStarter
from assistant.web.http_api import build_router

if TYPE_CHECKING:
    import gradio as gr

    from assistant.web.ui import ExportFolders

log = logging.getLogger(__name__)

# How long the page waits for the engine before Gradio's import competes with its build
# (an engine that reports progress, a first-start ingest, gets the page at once).
PAGE_WAITS_FOR_ENGINE_SECONDS = 60.0
SERVER_START_SECONDS = 10.0
STARTING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="1"><title>Paper Assistant</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>Paper Assistant</h1>
<p>Starting… this page reloads by itself.</p><p>{status}</p></body></html>"""


def launch(
    settings: Settings,
    starter: EngineStarter,
    *,
    block: bool = True,
    background_start: bool = True,
):
    """Serve the chat, its API and the OpenAI-compatible routes on one port; the engine is
    built by ``starter`` (in the background by default). Returns ``(demo, holder)`` once
    the page is served (with ``block``: when the app stops); ``demo.close()`` stops it.

    Raises :class:`LaunchRefused` before anything starts when the settings would expose
    the app unintentionally (see :func:`check_exposure`), or when its address cannot be had.
    """
    warning = check_exposure(settings)
    if warning:
        log.warning(warning)
    doors.trust_forwarded_headers(settings)  # before uvicorn reads FORWARDED_ALLOW_IPS
    holder = EngineHolder(settings, starter)
    auth = None
    if settings.auth_user and settings.auth_password is not None:
        auth = (settings.auth_user.strip(), settings.auth_password.get_secret_value())
    site = Site(holder, settings, auth)
    if block and threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker, kill) stops the app as Ctrl-C does, cleanup included.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
    server = AppServer(site.app, settings)
    try:
        server.start()
        print(f"* Running on local URL:  {server.url.rstrip('/')}", flush=True)
        holder.start(background=background_start)
        holder.settled_or_busy(PAGE_WAITS_FOR_ENGINE_SECONDS)
        demo = site.attach_page(server)
        if settings.share:
            _share(demo, settings)
        if not block:
            return demo, holder
        while server.thread.is_alive():
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Keyboard interruption in main thread... closing server.", flush=True)
    except BaseException:
        site.close(server)
        raise
    finally:
        if block:
            _hold_signals()  # a second SIGTERM or Ctrl-C must not cut the clean-up short
            site.close(server)
            if site.exports is not None:
                site.exports.cleanup()
    return site.demo, holder


class Site:
    """The ASGI app the server runs: every door, then ``/v1`` and ``/health``, then the
    page (a "starting" page until :meth:`attach_page` mounts Gradio's)."""

    def __init__(self, holder: EngineHolder, settings: Settings, auth: tuple[str, str] | None):
        self.holder = holder
        self.settings = settings
        self.auth = auth
        self.demo: gr.Blocks | None = None
        self.exports: ExportFolders | None = None
        self.page: Any = None  # the mounted Gradio app, once built
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._page_task: asyncio.Future | None = None
        middleware = doors.middleware(settings)
        if auth is not None:
            middleware.append(
                Middleware(
                    LoginThrottle,
                    max_failures=settings.login_max_failures,
                    window=settings.login_lockout_seconds,
                    credentials=auth,
                )
            )
        # No FastAPI schema at /openapi.json: it would describe every route to anyone, login
        # or not (Gradio's own /gradio_api/openapi.json asks for the login).
        self.app = FastAPI(
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
            middleware=middleware,
            lifespan=self._lifespan,
            # The OpenAI-compatible /v1 and /health go first: the page never shadows them.
            routes=[*build_router(holder).routes, Mount("/", app=self._page)],
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            yield
        finally:
            self._stop.set()
            if self._page_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(self._page_task)

    async def _page(self, scope: dict, receive: Any, send: Any) -> None:
        if self.page is not None:
            await self.page(scope, receive, send)
        elif scope["type"] == "http":
            await self._starting(scope, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later

    async def _starting(self, scope: dict, send: Any) -> None:
        """503 with a Retry-After while the page is built: a small page that reloads itself
        at ``/``, a JSON error elsewhere (Gradio's client routes)."""
        retry = [(b"retry-after", b"1"), (b"cache-control", b"no-store")]
        if scope.get("path") != "/":
            await send_json(send, 503, {"detail": "The app is starting; try again shortly."}, retry)
            return
        body = STARTING_PAGE.format(status=html.escape(self.holder.status)).encode()
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *retry,
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def attach_page(self, server: AppServer) -> gr.Blocks:
        """Import Gradio, build the page and mount it behind the doors (run in the launching
        thread); the Blocks, whose ``close()`` stops the server."""
        from assistant.web.gradio_import import import_gradio

        gr = import_gradio()  # before assistant.web.ui imports it

        from assistant.web.ui import CSS, JS, ExportFolders, build_ui

        # Exports, and Gradio's cached copies of them, live in one private (0700) folder that
        # goes when the app stops (SIGINT or SIGTERM). A GRADIO_TEMP_DIR the user set is kept.
        self.exports = exports = ExportFolders()
        if not os.environ.get("GRADIO_TEMP_DIR"):
            cache = exports.root / "gradio-cache"
            cache.mkdir(mode=0o700)
            os.environ["GRADIO_TEMP_DIR"] = str(cache)
        demo = build_ui(self.holder, exports)
        demo.queue(default_concurrency_limit=self.settings.concurrency_limit)
        ui_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        gr.mount_gradio_app(
            ui_app,
            demo,
            "/",
            server_name=self.settings.host,
            server_port=self.settings.port,
            auth=self.auth,
            show_error=False,
            app_kwargs={"openapi_url": None},
            css=CSS,
            js=JS,
            theme=gr.themes.Soft(),
        )
        gradio_app = next(r.app for r in ui_app.routes if isinstance(r, Mount))
        if self.loop is None:
            raise RuntimeError("the server has no event loop")
        attached = threading.Event()
        self._page_task = asyncio.run_coroutine_threadsafe(
            self._serve_page(ui_app, attached), self.loop
        )
        while not attached.wait(timeout=0.1):
            if self._page_task.done():
                self._page_task.result()  # raises what stopped it
                raise RuntimeError("the page stopped before it was served")
        # What Blocks.launch would set: demo.close() stops this server and the queue.
        demo.app = demo.server_app = gradio_app
        demo.server = server
        demo.local_url = server.url
        self.demo = demo
        return demo

    def close(self, server: AppServer) -> None:
        """Stop serving: Gradio's queue and its streams first (as ``demo.close()`` does),
        then the server."""
        if self.demo is not None:
            self.demo.close(verbose=False)
        server.close()

    async def _serve_page(self, ui_app: FastAPI, attached: threading.Event) -> None:
        """Gradio's startup (its queue, the expired-state and file clean-ups, as its
        lifespan runs them when it is mounted before the server starts), then the page is
        served until the server stops."""
        assert self._stop is not None
        async with ui_app.router.lifespan_context(ui_app):
            self.page = ui_app
            attached.set()
            await self._stop.wait()


class AppServer(uvicorn.Server):
    """uvicorn in a thread, as Gradio runs it (a thread installs no signal handlers: the
    launching thread keeps them)."""

    def __init__(self, app: Any, settings: Settings):
        host = settings.host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        super().__init__(uvicorn.Config(app, host=host, port=settings.port, log_level="warning"))
        self.url = f"http://{_url_host(settings.host)}:{settings.port}/"
        self.thread = threading.Thread(target=self.run, daemon=True, name="server")

    def start(self) -> None:
        """Listening when this returns; :class:`LaunchRefused` when the address cannot be
        had (a port in use, an address not of this machine)."""
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not self.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.should_exit = True
                raise LaunchRefused(
                    f"cannot serve on {self.config.host}:{self.config.port}: "
                    "the port is in use or the address is not this machine's"
                )
            time.sleep(0.005)

    def close(self) -> None:
        self.should_exit = True
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=10)


def _share(demo: gr.Blocks, settings: Settings) -> None:
    """A public share link, as ``Blocks.launch(share=True)`` makes it."""
    from gradio import networking

    try:
        url = networking.setup_tunnel(
            local_host=settings.host,
            local_port=settings.port,
            share_token=demo.share_token,
            share_server_address=None,
            share_server_tls_certificate=None,
        )
    except Exception as error:  # no network, a blocked binary: the app still serves locally
        print(f"Could not create share link: {error}", flush=True)
        return
    demo.share_url = url
    print(f"* Running on public URL: {url}", flush=True)


def _url_host(host: str) -> str:
    host = host.strip()
    if host in doors.UNSPECIFIED:
        return "localhost"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _interrupt(signum: int, frame: Any) -> None:
    _hold_signals()  # the first signal stops the app; more must not break into the stop
    raise KeyboardInterrupt


def _hold_signals() -> None:
    """Ignore SIGINT and SIGTERM from here on (main thread only): the app is already
    stopping, and the clean-up that follows is bounded (the server's join waits at most
    10 s). A second signal (a service manager repeating it, Ctrl-C pressed twice) would
    otherwise break into it with a traceback and leave the private export folder behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
