"""The Gradio page: a chat tab and a search tab, thin front ends on the ``Assistant``.

The page is also the app's API (see the README's "API" section).
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer, FinalAnswer
from assistant.engine import Assistant
from assistant.export import Exchange, cited_bibtex, conversation_markdown
from assistant.filters import FilterError, SearchFilters
from assistant.questions import QuestionError
from assistant.web.holder import EngineHolder, EngineUnavailable
from assistant.web.page import (  # noqa: F401 (CSS, JS: served by server.launch)
    CHAT_ID,
    CSS,
    JS,
    SAVED_LIST_ID,
)
from assistant.web.render import format_answer, format_hits, plain_history

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which work reaches 77.4% mIoU at 102 FPS?",
    "How can the KV cache of a language model be compressed to 1 bit per channel?",
    "Which papers study binary neural networks?",
    "How can knowledge from a graph neural network be distilled into an MLP?",
]


def client_error(message: str) -> gr.Error:
    """An error the client sees as it is (the page shows it as a toast; ``gradio_client``
    raises it as ``AppError``). Gradio renders the message as HTML: it is escaped."""
    text = message[:1].upper() + message[1:]
    return gr.Error(html.escape(text, quote=False), print_exception=False)


@contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """A question or filter the engine refuses becomes its one-line message; anything else
    is logged and reported without details (never a stack trace to a client)."""
    try:
        yield
    except gr.Error:
        raise
    except (QuestionError, FilterError) as error:  # too long, empty, a bad count or filter
        raise client_error(str(error)) from None
    except Exception:
        log.exception("%s failed", doing)
        raise client_error(f"something went wrong while {doing}; please try again") from None


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


EXPORT_KEEP_SECONDS = 3600  # an export's files are kept this long (Gradio's copies too)


class ExportFolders:
    """Where the chat writes export files: one folder per running app, removed when the
    app exits, holding one subfolder per export (two sessions never share a file name).
    Subfolders older than ``keep_seconds`` are removed at the next export, so a long-running
    app does not fill the disk; by then Gradio serves its own cached copy, which
    ``gr.Blocks(delete_cache=…)`` prunes on the same schedule."""

    def __init__(self, keep_seconds: float = EXPORT_KEEP_SECONDS):
        self._root = tempfile.TemporaryDirectory(prefix="paper-assistant-exports-")
        self.keep_seconds = keep_seconds

    @property
    def root(self) -> Path:
        return Path(self._root.name)

    def new_folder(self) -> Path:
        cutoff = time.time() - self.keep_seconds
        for old in self.root.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
            except FileNotFoundError:  # another session's export removed it first
                continue
        return Path(tempfile.mkdtemp(dir=self.root))

    def cleanup(self) -> None:
        self._root.cleanup()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner can read (0600; Gradio's cached copy keeps
    the mode). The folders above are 0700 (``tempfile``)."""
    with open(
        os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8"
    ) as out:
        out.write(text)


# A turn of the chat as the session keeps it: the question, its Answer, and the key of the
# answer's message (``message_key``), under which the browser keeps the answer.
Turn = tuple[str, Answer, str]
# Where the browser keeps the answers of its saved conversations (``gr.BrowserState``).
SAVED_ANSWERS_KEY = "paper_assistant_answers"


def message_key(text: str) -> str:
    """Names a chat message by its content: a conversation loaded from the browser's list
    finds its answers by the messages it shows. Answers that cite carry a random anchor
    key (``render.format_answer``), so two of them never share a name; two declines worded
    alike may, and then they are the same answer (its question is read from the chat)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def saved_turns(conversation: Any, saved_answers: Any) -> list[Turn]:
    """The turns of a saved conversation (its chat messages) whose answers the browser
    kept: each answer message with the question asked before it. Answers it did not keep,
    or cannot read back, are left out."""
    if not isinstance(saved_answers, dict):
        return []
    turns: list[Turn] = []
    question = ""
    for message in plain_history(conversation if isinstance(conversation, list) else []):
        if message["role"] == "user":
            question = message["content"]
            continue
        key = message_key(message["content"])
        data = saved_answers.get(key) if message["role"] == "assistant" else None
        if not isinstance(data, dict):
            continue  # not an answer (a notice, an error) or one the browser did not keep
        try:
            turns.append((question, Answer.from_dict(data), key))
        except (KeyError, TypeError, ValueError):
            log.warning("a saved answer could not be read back; left out of the export")
    return turns


def kept_answers(turns: list[Turn], conversations: Any, saved_answers: Any) -> dict[str, Any]:
    """What the browser keeps: the answers of this session's turns and of the saved
    conversations (``ChatInterface(save_history=True)``'s list); the answers of deleted
    conversations go."""
    listed = {
        message_key(message["content"])
        for conversation in (conversations if isinstance(conversations, list) else [])
        if isinstance(conversation, list)
        for message in plain_history(conversation)
        if message["role"] == "assistant"
    }
    old = saved_answers if isinstance(saved_answers, dict) else {}
    kept = {key: data for key, data in old.items() if key in listed}
    for _, answer, key in turns:
        kept[key] = answer.to_dict()
    return kept


def build_ui(holder: EngineHolder, exports: ExportFolders | None = None) -> gr.Blocks:
    settings = holder.settings
    exports = exports or ExportFolders()
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
    ) -> Iterator[str | Answer]:
        engine = ready_engine()
        if not (message or "").strip():
            yield "Please type a question."
            return
        shown = ""
        try:
            for event in engine.events(
                message,
                history=plain_history(history),
                top_k=int(top_k),
                temperature=float(temperature),
                filters=chosen_filters(since, until, categories, sources),
            ):
                if isinstance(event, FinalAnswer):
                    yield event.answer
                else:
                    shown += event.text
                    if engine.streams:  # extractive answers appear at once, whole
                        yield shown
        except QuestionError as error:  # too long, control characters only, …
            yield f"Sorry, {error}. Please rephrase."
        except FilterError as error:  # "filter since: '2023-13' is not a real date; …"
            yield f"Sorry, {error}."
        except Exception:  # never a stack trace in the page
            log.exception("answer failed")
            yield "Sorry, something went wrong while answering. Please try again."

    def ready_engine() -> Assistant:
        """The engine once it is ready; while it starts, calls wait (bounded), then get an
        error the client sees (a toast in the page), never a status line as an answer."""
        try:
            return holder.ready()
        except EngineUnavailable as error:
            raise client_error(str(error)) from None

    def chat_turn(
        message: str,
        history: list[dict[str, Any]],
        top_k: int,
        temperature: float,
        since: str | None,
        until: str | None,
        categories: list[str] | None,
        sources: list[str] | None,
        turns: list[Turn] | None,
    ) -> Iterator[tuple[str, list[Turn]]]:
        """The chat's function: each turn's Answer is kept in the session for the export,
        with the key of the message that shows it. Turns whose answer the history no
        longer shows (a retried answer) are dropped."""
        shown_keys = {
            message_key(m["content"]) for m in plain_history(history) if m["role"] == "assistant"
        }
        kept = [turn for turn in turns or [] if turn[2] in shown_keys]
        filters = (since, until, categories, sources)
        with holder.slots.held():
            for part in respond(message, history, top_k, temperature, *filters):
                if isinstance(part, Answer):
                    shown = format_answer(part)
                    # a new list: the State's change event fires
                    kept = [*kept, (message, part, message_key(shown))]
                    yield shown, kept
                else:
                    yield part, kept

    def export_files(turns: list[Turn] | None) -> tuple[Any, Any]:
        """Both export files for the session's conversation (nothing to download when empty)."""
        if not turns:
            return no_files()
        exchanges: list[Exchange] = [(question, answer) for question, answer, _ in turns]
        engine = holder.engine
        catalog = engine.catalog if engine is not None else None
        folder = exports.new_folder()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        markdown = folder / f"paper-assistant-conversation-{stamp}.md"
        write_private(markdown, conversation_markdown(exchanges, catalog))
        bibtex = folder / f"paper-assistant-cited-papers-{stamp}.bib"
        write_private(bibtex, cited_bibtex([a for _, a in exchanges], catalog))
        return (
            gr.DownloadButton(value=str(markdown), interactive=True),
            gr.DownloadButton(value=str(bibtex), interactive=bool(bibtex.stat().st_size)),
        )

    def no_files() -> tuple[Any, Any]:
        off = {"value": None, "interactive": False}
        return gr.DownloadButton(**off), gr.DownloadButton(**off)

    def remember(turns: list[Turn] | None, conversations: Any, saved_answers: Any) -> Any:
        """After each answer: keep the session's answers in the browser beside its saved
        conversations, so one loaded from the list after a reload can be exported."""
        if not turns:
            # A new or cleared chat adds nothing. Pruning only here, when an answer is added,
            # also means a New chat clicked before Gradio has saved the conversation cannot
            # drop its answers.
            return gr.skip()
        kept = kept_answers(turns, conversations, saved_answers)
        return gr.skip() if kept == saved_answers else kept

    def restore(index: Any, conversations: Any, saved_answers: Any) -> tuple[Any, Any, Any]:
        """A conversation chosen in the list: its turns, from the answers the browser kept,
        and its export files (the chat shows its messages; the engine reads its history
        from them)."""
        turns: list[Turn] = []
        if isinstance(index, int) and isinstance(conversations, list):
            if 0 <= index < len(conversations):
                turns = saved_turns(conversations[index], saved_answers)
        return (turns, *export_files(turns))

    def ask(question: str, top_k: int | None = None, filters: dict | None = None) -> dict:
        """Answer one stand-alone question (no conversation state) as JSON: text with [n]
        markers, answered, citations (number, title, paper_id, passage, score), claims with
        their support verdicts, premise issues, related papers, notice, backend and model.
        ``filters``: {"since", "until", "categories", "sources"}."""
        engine = ready_engine()
        with api_errors("answering"), holder.slots.held():
            return engine.ask(question, top_k=top_k, filters=filters).to_dict()

    def search(query: str, k: int = 10, filters: dict | None = None) -> list[dict]:
        """The k best-matching papers as JSON, best first: title, score, paper_id, abstract,
        sources, passages, listing_date, url. ``filters`` as for /ask."""
        engine = ready_engine()
        with api_errors("searching"), holder.slots.held():
            hits = engine.search(query, k=k, filters=filters)
            return [hit.to_dict() for hit in hits]

    def search_page(
        query: str,
        k: int,
        since: str | None = None,
        until: str | None = None,
        categories: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> str:
        engine = ready_engine()
        try:
            filters = chosen_filters(since, until, categories, sources)
            with holder.slots.held():
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

    keep = int(exports.keep_seconds)
    work = {"concurrency_limit": settings.concurrency_limit}
    with gr.Blocks(title="Paper Assistant", delete_cache=(keep, keep)) as demo:
        gr.Markdown(
            "# Paper Assistant\nAsk about the indexed machine-learning papers. "
            "Every answer cites the papers it rests on."
        )
        status = gr.Markdown(holder.status, elem_id="corpus-line")
        timer = gr.Timer(1.0)
        timer.tick(lambda: holder.status, outputs=status, api_visibility="private")
        # The API: /chat (the ChatInterface below), /ask and /search; nothing else is public.
        # Every answering call also holds one of the holder's WorkSlots (shared with /v1).
        gr.api(ask, api_name="ask", **work)
        gr.api(search, api_name="search", **work)
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
            turns = gr.State([])  # this session's turns (see Turn), for the export
            # The answers of the saved conversations, kept in the browser beside them.
            saved_answers = gr.BrowserState({}, storage_key=SAVED_ANSWERS_KEY)
            chat = gr.ChatInterface(
                fn=chat_turn,
                additional_inputs=[top_k, temperature, *chat_filters, turns],
                additional_outputs=[turns],
                examples=[[q] for q in EXAMPLES],  # shown as cards in the empty chat
                cache_examples=False,
                # A card puts its question in the box, to send as typed: only that path
                # saves the conversation in the list (Gradio saves none begun by a card).
                run_examples_on_click=False,
                chatbot=gr.Chatbot(  # the page's script scrolls it (see web/page.py)
                    label="Assistant",
                    show_label=False,
                    elem_id=CHAT_ID,
                    autoscroll=False,
                    height="100%",
                    buttons=["copy"],
                ),
                textbox=gr.Textbox(
                    placeholder="Ask about the papers…",
                    max_lines=6,
                    submit_btn=True,
                    label="Question",
                ),
                api_name="chat",
                # Conversations stay in the browser (localStorage), listed beside the chat
                # with a "New chat" button; one chosen from the list comes back whole.
                save_history=True,
                **work,
            )
            chat.chat_history_dataset.elem_id = SAVED_LIST_ID  # styled in web/page.py
            with gr.Row():
                markdown_file = gr.DownloadButton(
                    "Conversation (Markdown)", size="sm", interactive=False
                )
                bibtex_file = gr.DownloadButton(
                    "Cited papers (BibTeX)", size="sm", interactive=False
                )
            # A cleared chat (New chat, or the chatbot's own clear, which also deletes it
            # from the list) has nothing to export.
            for cleared in (chat.new_chat_button.click, chat.chatbot.clear):
                cleared(
                    lambda: ([], *no_files()),
                    None,
                    [turns, markdown_file, bibtex_file],
                    api_visibility="private",
                    queue=False,
                )
            turns.change(
                export_files, turns, [markdown_file, bibtex_file], api_visibility="private"
            )
            # Each answer is kept in the browser as it arrives (the session's turns know its
            # message's key: no need to read the chat, whose value may lag behind), and a
            # conversation chosen from the list gets its turns back from there. A State's
            # change event fires only after queued events (the chat's), so whatever sets
            # the turns without the queue also sets the export buttons itself.
            turns.change(
                remember,
                [turns, chat.saved_conversations, saved_answers],
                saved_answers,
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
            chat.chat_history_dataset.click(
                restore,
                [chat.chat_history_dataset, chat.saved_conversations, saved_answers],
                [turns, markdown_file, bibtex_file],
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
        with gr.Tab("Search papers"):
            with gr.Row():
                query = gr.Textbox(
                    label="Query", placeholder="e.g. binary neural networks", scale=4
                )
                k = gr.Slider(1, 30, value=10, step=1, label="Papers", scale=1)
            search_filters = filter_inputs()
            go = gr.Button("Search", variant="primary")
            results = gr.Markdown(elem_id="pa-hits")
            inputs = [query, k, *search_filters]
            go.click(search_page, inputs, results, api_visibility="private", **work)
            query.submit(search_page, inputs, results, api_visibility="private", **work)
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
