"""The Gradio chat UI: a thin front end on the ``Assistant`` Python API.

The chat is also an API: ``gradio_client.Client(url).predict("question", api_name="/chat")``
returns the answer markdown with its ``[n]`` markers and the sources list.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.core.settings import Settings
from assistant.engine import Assistant
from assistant.follower import StoreFollower
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
    """Answer markdown plus folded source cards (passage used, full abstract)."""
    parts = [answer.markdown]
    cards = []
    for citation in answer.citations:
        cards.append(
            f"<details><summary>[{citation.number}] {html.escape(citation.title)}</summary>\n\n"
            f"**Passage used:** {html.escape(citation.passage)}\n\n"
            f"**Abstract:** {html.escape(citation.abstract)}\n\n</details>"
        )
    if cards:
        parts.append("\n".join(cards))
    if answer.answered and answer.related:
        uncited = "\n".join(f"- {html.escape(hit.title)}" for hit in answer.related)
        parts.append(
            f"<details><summary>Retrieved, not cited ({len(answer.related)})</summary>\n\n"
            f"{uncited}\n\n</details>"
        )
    return "\n\n".join(parts)


def format_hits(hits: list[Any]) -> str:
    if not hits:
        return "No papers found."
    rows = []
    for rank, hit in enumerate(hits, start=1):
        rows.append(
            f"**{rank}. {html.escape(hit.title)}** · score {hit.score:.3f}\n\n"
            f"<details><summary>Abstract</summary>\n\n{html.escape(hit.abstract)}\n\n"
            f"<small>Listed in: {html.escape(', '.join(hit.sources))}</small>\n\n</details>"
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
        except QuestionError as error:
            return f"Sorry, {error}."

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


def launch(
    settings: Settings,
    starter: EngineStarter,
    *,
    block: bool = True,
    background_start: bool = True,
):
    """Serve the chat; the engine is built by ``starter`` (in the background by default)."""
    holder = EngineHolder(settings, starter)
    holder.start(background=background_start)
    demo = build_ui(holder)
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    auth = None
    if settings.auth_user and settings.auth_password is not None:
        auth = (settings.auth_user, settings.auth_password.get_secret_value())
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=auth,
        prevent_thread_lock=not block,
        show_error=False,
        css=CSS,
        theme=gr.themes.Soft(),
    )
    return demo, holder
