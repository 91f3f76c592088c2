"""The Gradio chat UI: a thin front end on the ``Assistant`` Python API.

The chat is also an API: ``gradio_client.Client(url).predict("question", api_name="/chat")``
returns the answer markdown with its ``[n]`` markers and the sources list.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.answer import Answer
from assistant.core.settings import Settings
from assistant.engine import Assistant
from assistant.follower import StoreFollower
from assistant.markup import literal
from assistant.questions import QuestionError

log = logging.getLogger(__name__)

# Builds the engine; may take minutes (a first-start ingest) and reports progress lines.
EngineStarter = Callable[[Callable[[str], None]], Assistant]

EXAMPLES = [
    "Which work reaches 77.4% mIoU at 102 FPS?",
    "How can the KV cache of a language model be compressed to 1 bit per channel?",
    "Which papers study binary neural networks?",
    "How can knowledge from a graph neural network be distilled into an MLP?",
]

CSS = """
.gradio-container {max-width: 1100px !important; margin: auto;}
#corpus-line {color: var(--body-text-color-subdued); font-size: 0.9em;}
.message details {margin: 0.3em 0; border-left: 3px solid var(--color-accent-soft); padding-left: 0.6em;}
.message summary {cursor: pointer; font-weight: 600;}
"""


class EngineHolder:
    """Builds the engine once, in the background, says how far it got, and then keeps it in
    step with the store (:class:`StoreFollower`): new ingests are answered, and the status
    line counts them, without a restart."""

    def __init__(self, settings: Settings, starter: EngineStarter):
        self.settings = settings
        self.starter = starter
        self.follower: StoreFollower | None = None
        self.status = "Starting…"
        self.error: str | None = None

    @property
    def engine(self) -> Assistant | None:
        """The current engine (None until started); read it once per request."""
        return self.follower.engine if self.follower else None

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._build, daemon=True, name="engine-start").start()
        else:
            self._build()

    def _report(self, line: str) -> None:
        self.status = line

    def _build(self) -> None:
        try:
            engine = self.starter(self._report)
            self._show(engine)
            self.follower = StoreFollower(
                engine, self.settings.refresh_seconds, on_reload=self._show
            ).start()
        except Exception as error:  # shown in the page, never as a traceback
            log.exception("engine start failed")
            self.error = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.status = f"⚠️ {self.error}"

    def _show(self, engine: Assistant) -> None:
        stats = engine.stats()
        self.status = (
            f"{stats['papers']} papers · {stats['chunks']} chunks · answers: {stats['backend']}"
            + (f" ({stats['model']})" if stats["model"] else "")
            + f" · embeddings: {stats['embedding']}"
        )


def plain_history(history: list[Any] | None) -> list[dict[str, str]]:
    """Gradio's chat messages as ``{"role", "content"}`` with plain-text content.

    Gradio may hand content over as a string, a ``{"text": …}`` part or a list of parts.
    """
    return [
        {"role": str(message.get("role")), "content": _content_text(message.get("content"))}
        for message in history or []
        if isinstance(message, dict)
    ]


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(_content_text(part) for part in content)
    return str(content)


def format_answer(answer: Answer) -> str:
    """Answer markdown plus folded source cards (passage used, full abstract).

    Every piece of corpus text (titles, passages, abstracts) goes through ``literal``:
    it shows as written, in the markdown and in the folds' HTML alike.
    """
    parts = [answer.markdown]
    cards = []
    for citation in answer.citations:
        cards.append(
            f"<details><summary>[{citation.number}] {literal(citation.title)}</summary>\n\n"
            f"{_support_lines(answer, citation.number)}"
            f"**Passage used:** {literal(citation.passage)}\n\n"
            f"**Abstract:** {literal(citation.abstract)}\n\n</details>"
        )
    if cards:
        parts.append("\n".join(cards))
    if answer.answered and answer.related:
        uncited = "\n".join(f"- {literal(hit.title)}" for hit in answer.related)
        parts.append(
            f"<details><summary>Retrieved, not cited ({len(answer.related)})</summary>\n\n"
            f"{uncited}\n\n</details>"
        )
    return "\n\n".join(parts)


def _support_lines(answer: Answer, number: int) -> str:
    """In a source's fold: each claim it stands behind, with its verdict and the span of
    the passage that supports it."""
    lines = []
    for claim in answer.claims:
        if number in claim.citations:
            span = f" — “{literal(claim.span)}”" if claim.span else ""
            lines.append(f"- **{claim.verdict}**: {literal(claim.text)}{span}")
    return ("**Supports:**\n" + "\n".join(lines) + "\n\n") if lines else ""


def format_hits(hits: list[Any]) -> str:
    """The search tab's list; titles, abstracts and source files shown literally."""
    if not hits:
        return "No papers found."
    rows = []
    for rank, hit in enumerate(hits, start=1):
        rows.append(
            f"**{rank}. {literal(hit.title)}** · score {hit.score:.3f}\n\n"
            f"<details><summary>Abstract</summary>\n\n{literal(hit.abstract)}\n\n"
            f"<small>Listed in: {literal(', '.join(hit.sources))}</small>\n\n</details>"
        )
    return "\n\n---\n\n".join(rows)


def build_ui(holder: EngineHolder) -> gr.Blocks:
    settings = holder.settings
    key_state = "set" if settings.llm_key else "not set"

    def respond(
        message: str, history: list[dict[str, Any]], top_k: int, temperature: float
    ) -> Iterator[str]:
        engine = holder.engine
        if engine is None:
            yield unavailable()
            return
        if not (message or "").strip():
            yield "Please type a question."
            return
        shown = ""
        try:
            for part in engine.stream(
                message,
                history=plain_history(history),
                top_k=int(top_k),
                temperature=float(temperature),
            ):
                if isinstance(part, Answer):
                    yield format_answer(part)
                else:
                    shown += part
                    if engine.streams:  # extractive answers appear at once, whole
                        yield shown
        except QuestionError as error:  # too long, control characters only, …
            yield f"Sorry, {error}. Please rephrase."
        except Exception:  # never a stack trace in the page
            log.exception("answer failed")
            yield "Sorry, something went wrong while answering. Please try again."

    def unavailable() -> str:
        if holder.error:  # permanent until the configuration is fixed; the app stays up
            return f"The assistant cannot answer: ⚠️ {holder.error}"
        return f"The assistant is not ready yet: {holder.status}"

    def search(query: str, k: int) -> str:
        engine = holder.engine
        if engine is None:
            return unavailable()
        try:
            return format_hits(engine.search(query, k=int(k)))
        except QuestionError as error:  # empty, too long, not text
            return f"Sorry, {error}."
        except Exception:  # never a stack trace in the page
            log.exception("search failed")
            return "Sorry, something went wrong while searching. Please try again."

    with gr.Blocks(title="Paper Assistant") as demo:
        gr.Markdown(
            "# Paper Assistant\nAsk about the indexed machine-learning papers. "
            "Every answer cites the papers it rests on."
        )
        status = gr.Markdown(holder.status, elem_id="corpus-line")
        timer = gr.Timer(1.0)
        timer.tick(lambda: holder.status, outputs=status, api_name="status")
        with gr.Tab("Chat"):
            with gr.Accordion("Settings", open=False):
                top_k = gr.Slider(1, 15, value=settings.top_k, step=1, label="Papers to retrieve")
                temperature = gr.Slider(
                    0.0,
                    1.5,
                    value=settings.temperature,
                    step=0.05,
                    label="Temperature (LLM backends)",
                )
                gr.Markdown(
                    f"Backend: **{settings.llm}** · model: **{settings.llm_model or '—'}** · "
                    f"API key: **{key_state}**"
                )
            chat = gr.ChatInterface(
                fn=respond,
                additional_inputs=[top_k, temperature],
                examples=[[q] for q in EXAMPLES],  # shown as cards in the empty chat
                cache_examples=False,
                chatbot=gr.Chatbot(height=560, label="Assistant", buttons=["copy"]),
                textbox=gr.Textbox(
                    placeholder="Ask about the papers…",
                    max_lines=6,
                    submit_btn=True,
                    label="Question",
                ),
                api_name="chat",
                concurrency_limit=settings.concurrency_limit,
            )
            new_chat = gr.Button("New chat", variant="secondary", size="sm")
            new_chat.click(
                lambda: ([], []),
                None,
                [chat.chatbot, chat.chatbot_state],
                api_visibility="undocumented",
                queue=False,
            )
        with gr.Tab("Search papers"):
            with gr.Row():
                query = gr.Textbox(
                    label="Query", placeholder="e.g. binary neural networks", scale=4
                )
                k = gr.Slider(1, 30, value=10, step=1, label="Papers", scale=1)
            go = gr.Button("Search", variant="primary")
            results = gr.Markdown()
            go.click(search, [query, k], results, api_name="search")
            query.submit(search, [query, k], results)
    return demo


# --- exposure: who can reach the app, and how hard a password can be guessed ---------
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


def launch(
    settings: Settings,
    starter: EngineStarter,
    *,
    block: bool = True,
    background_start: bool = True,
):
    """Serve the chat; the engine is built by ``starter`` (in the background by default).

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
    app_kwargs: dict[str, Any] = {}
    if settings.auth_user and settings.auth_password is not None:
        auth = (settings.auth_user.strip(), settings.auth_password.get_secret_value())
        throttle = Middleware(
            LoginThrottle,
            max_failures=settings.login_max_failures,
            window=settings.login_lockout_seconds,
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
        theme=gr.themes.Soft(),
    )
    return demo, holder
