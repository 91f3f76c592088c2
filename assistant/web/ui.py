"""The Gradio page: a chat tab and a search tab, thin front ends on the ``Assistant``.

The page is also the app's API (see the README's "API" section).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.filters import FilterError, SearchFilters
from assistant.questions import QuestionError
from assistant.web.holder import EngineHolder
from assistant.web.render import format_answer, format_hits, plain_history

log = logging.getLogger(__name__)

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


DATE_PLACEHOLDER = "YYYY or YYYY-MM-DD"


def filter_inputs() -> list[gr.components.Component]:
    """One compact row: since, until, categories, sources (choices filled from the corpus)."""
    with gr.Row():
        since = gr.Textbox(
            "", label="Since", placeholder=DATE_PLACEHOLDER, max_lines=1, min_width=120
        )
        until = gr.Textbox(
            "", label="Until", placeholder=DATE_PLACEHOLDER, max_lines=1, min_width=120
        )
        categories = gr.Dropdown(
            [], value=[], multiselect=True, allow_custom_value=True, label="Category", scale=2
        )
        sources = gr.Dropdown(
            [], value=[], multiselect=True, allow_custom_value=True, label="Source", scale=2
        )
    return [since, until, categories, sources]


def chosen_filters(
    since: str | None, until: str | None, categories: list[str] | None, sources: list[str] | None
) -> SearchFilters | None:
    """The filter inputs as filters (None when all are empty); raises :class:`FilterError`."""
    return SearchFilters.coerce(
        {"since": since, "until": until, "categories": categories, "sources": sources}
    )


def build_ui(holder: EngineHolder) -> gr.Blocks:
    settings = holder.settings
    key_state = "set" if settings.llm_key else "not set"

    def respond(
        message: str,
        history: list[dict[str, Any]],
        top_k: int,
        temperature: float,
        since: str | None = None,
        until: str | None = None,
        categories: list[str] | None = None,
        sources: list[str] | None = None,
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
                filters=chosen_filters(since, until, categories, sources),
            ):
                if isinstance(part, Answer):
                    yield format_answer(part)
                else:
                    shown += part
                    if engine.streams:  # extractive answers appear at once, whole
                        yield shown
        except QuestionError as error:  # too long, control characters only, …
            yield f"Sorry, {error}. Please rephrase."
        except FilterError as error:  # "filter since: '2023-13' is not a real date; …"
            yield f"Sorry, {error}."
        except Exception:  # never a stack trace in the page
            log.exception("answer failed")
            yield "Sorry, something went wrong while answering. Please try again."

    def unavailable() -> str:
        if holder.error:  # permanent until the configuration is fixed; the app stays up
            return f"The assistant cannot answer: ⚠️ {holder.error}"
        return f"The assistant is not ready yet: {holder.status}"

    def search(
        query: str,
        k: int,
        since: str | None = None,
        until: str | None = None,
        categories: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> str:
        engine = holder.engine
        if engine is None:
            return unavailable()
        try:
            filters = chosen_filters(since, until, categories, sources)
            return format_hits(engine.search(query, k=int(k), filters=filters))
        except (QuestionError, FilterError) as error:  # empty, too long, not text; bad filter
            return f"Sorry, {error}."
        except Exception:  # never a stack trace in the page
            log.exception("search failed")
            return "Sorry, something went wrong while searching. Please try again."

    def filter_choices() -> tuple[Any, Any]:
        """The corpus's categories and source files, for the filter dropdowns."""
        engine = holder.engine
        if engine is None:
            return gr.update(), gr.update()
        catalog = engine.catalog
        return gr.update(choices=catalog.categories()), gr.update(choices=catalog.sources())

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
                chat_filters = filter_inputs()
                gr.Markdown(
                    f"Backend: **{settings.llm}** · model: **{settings.llm_model or '—'}** · "
                    f"API key: **{key_state}**"
                )
            chat = gr.ChatInterface(
                fn=respond,
                additional_inputs=[top_k, temperature, *chat_filters],
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
            search_filters = filter_inputs()
            go = gr.Button("Search", variant="primary")
            results = gr.Markdown()
            go.click(search, [query, k, *search_filters], results, api_name="search")
            query.submit(search, [query, k, *search_filters], results)
        # The dropdowns' choices: filled when the page loads and refreshed on focus (the
        # engine may still be starting, or reload a changed store). Not API endpoints.
        for _, _, categories, sources in (chat_filters, search_filters):
            for event in (demo.load, categories.focus, sources.focus):
                event(
                    filter_choices,
                    None,
                    [categories, sources],
                    api_visibility="private",
                    queue=False,
                    show_progress="hidden",
                )
    return demo
