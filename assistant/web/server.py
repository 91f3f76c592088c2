"""Serving the web app: exposure checks, the login and its throttle, then Gradio."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.core.settings import Settings
from assistant.web.exposure import LoginThrottle, check_exposure
from assistant.web.holder import EngineHolder, EngineStarter
from assistant.web.http_api import build_router
from assistant.web.ui import CSS, JS, build_ui

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
    holder = EngineHolder(settings, starter)
    holder.start(background=background_start)
    demo = build_ui(holder)
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    auth = None
    # The OpenAI-compatible /v1 and /health go in first, so Gradio's routes never shadow them.
    app_kwargs: dict[str, Any] = {"routes": build_router(holder).routes}
    if settings.auth_user and settings.auth_password is not None:
        auth = (settings.auth_user.strip(), settings.auth_password.get_secret_value())
        throttle = Middleware(
            LoginThrottle,
            max_failures=settings.login_max_failures,
            window=settings.login_lockout_seconds,
            credentials=auth,
        )
        app_kwargs["middleware"] = [throttle]
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
    return demo, holder
