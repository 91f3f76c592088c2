"""Serving the web app: exposure checks, what may reach it (``doors``), the login and its
throttle, then Gradio."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.core.settings import Settings
from assistant.web import doors
from assistant.web.exposure import LoginThrottle, check_exposure
from assistant.web.holder import EngineHolder, EngineStarter
from assistant.web.http_api import build_router
from assistant.web.ui import CSS, JS, ExportFolders, build_ui

log = logging.getLogger(__name__)


def launch(
    settings: Settings,
    starter: EngineStarter,
    *,
    block: bool = True,
    background_start: bool = True,
):
    """Serve the chat, its API and the OpenAI-compatible routes on one port; the engine is
    built by ``starter`` (in the background by default).

    Raises :class:`LaunchRefused` before anything starts when the settings would expose
    the app unintentionally (see :func:`check_exposure`).
    """
    warning = check_exposure(settings)
    if warning:
        log.warning(warning)
    doors.trust_forwarded_headers(settings)
    # Exports, and Gradio's cached copies of them, live in one private (0700) folder that
    # goes when the app stops (SIGINT or SIGTERM). A GRADIO_TEMP_DIR the user set is kept.
    exports = ExportFolders()
    if not os.environ.get("GRADIO_TEMP_DIR"):
        cache = exports.root / "gradio-cache"
        cache.mkdir(mode=0o700)
        os.environ["GRADIO_TEMP_DIR"] = str(cache)
    holder = EngineHolder(settings, starter)
    holder.start(background=background_start)
    demo = build_ui(holder, exports)
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    auth = None
    # The OpenAI-compatible /v1 and /health go in first, so Gradio's routes never shadow them.
    # No FastAPI schema at /openapi.json: it would describe every route to anyone, login or
    # not (Gradio's own /gradio_api/openapi.json asks for the login).
    app_kwargs: dict[str, Any] = {
        "routes": build_router(holder).routes,
        "openapi_url": None,
        "middleware": doors.middleware(settings),
    }
    if settings.auth_user and settings.auth_password is not None:
        auth = (settings.auth_user.strip(), settings.auth_password.get_secret_value())
        throttle = Middleware(
            LoginThrottle,
            max_failures=settings.login_max_failures,
            window=settings.login_lockout_seconds,
            credentials=auth,
        )
        app_kwargs["middleware"].append(throttle)
    if block and threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker, kill) stops the app as Ctrl-C does, cleanup included.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            share=settings.share,
            auth=auth,
            app_kwargs=app_kwargs,
            prevent_thread_lock=not block,
            show_error=False,
            css=CSS,
            js=JS,
            theme=gr.themes.Soft(),
        )
    finally:
        if block:
            exports.cleanup()
    return demo, holder


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
