"""Input edges in the Python API, the CLI and the web handlers: text that cannot be
encoded and paper counts outside 1–50.

The Python API raises ``QuestionError``; the CLI prints one line and exits 2; the web
handlers answer "Sorry, …" and log no traceback. Real processes, real HTTP.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import urllib.request

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from assistant.answer import Answer
from assistant.core.errors import first_problem
from assistant.questions import QuestionError
from devtools.chroma_server import free_port
from tests.conftest import ROOT, clean_env

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
SURROGATE = "a lone surrogate U+D800 at character"


def test_the_python_api_raises_question_errors_for_bad_text_and_counts(assistant):
    for call in (
        lambda: assistant.ask("\ud800 binary neural networks"),
        lambda: assistant.chat("binary \ud800", []),
        lambda: next(iter(assistant.stream("\ud800"))),
        lambda: assistant.search("binary neural networks \ud800"),
    ):
        with pytest.raises(QuestionError, match=re.escape(f"holds invalid text: {SURROGATE}")):
            call()
    for k in (-1, 0, 51, True, 2.5, "5", None):
        with pytest.raises(QuestionError, match="k must be a whole number from 1 to 50"):
            assistant.search("binary neural networks", k=k)
    for top_k in (0, -3, 51, False, 2.5):
        with pytest.raises(QuestionError, match="top_k must be a whole number from 1 to 50"):
            assistant.ask("binary neural networks", top_k=top_k)
    assert 10 <= len(assistant.search("binary neural networks", k=50)) <= 50
    # A refused message that a front end kept in the history does not break the next one.
    history = [("\ud800", "Sorry, the question holds invalid text.")]
    answer = assistant.chat("Which work reaches 77.4% mIoU at 102 FPS?", history)
    assert isinstance(answer, Answer) and answer.citations[0].title == DDRNET


def test_the_cli_refuses_bad_text_and_counts_in_one_line(corpus_store):
    settings, _ = corpus_store
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)

    def cli(*args: str | bytes, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    invalid = (
        "error: the question holds invalid text: a lone surrogate U+DCFF at character 1 "
        "(the byte 0xff, which is not UTF-8)"
    )
    for command in (["ask", b"\xff"], ["search", b"\xff", "--json"]):
        result = cli(*command)
        assert (result.returncode, result.stderr.splitlines()) == (2, [invalid])
    for command in (["search", "binary", "-k", "0"], ["ask", "binary", "--top-k", "51"]):
        result = cli(*command)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1].endswith("must be a whole number from 1 to 50")
    result = cli("search", "binary", ASSISTANT_TOP_K="0")
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        ["error: setting top_k: Input should be greater than or equal to 1"],
    )


def test_a_bad_field_is_named_one_way():
    """The CLIs, the HTTP API, filters and tuning name a bad field by its dotted path, and
    the whole object by the caller's word when the problem is not one field's."""

    class Span(BaseModel):
        low: int
        high: int

        @model_validator(mode="after")
        def ordered(self) -> Span:
            if self.low > self.high:
                raise ValueError("low above high")
            return self

    class Holder(BaseModel):
        spans: list[Span]

    with pytest.raises(ValidationError) as bad_field:
        Holder(spans=[{"low": 1, "high": 2}, {"low": "x", "high": 1}])
    assert first_problem(bad_field.value) == (
        "spans.1.low",
        "Input should be a valid integer, unable to parse string as an integer",
    )
    with pytest.raises(ValidationError) as whole:
        Span(low=2, high=1)
    assert first_problem(whole.value, "span") == ("span", "Value error, low above high")
    assert first_problem(ValueError("plain words"), "span") == ("span", "plain words")


def call_app(url: str, api: str, data: list) -> tuple[str, object]:
    """One call through Gradio's HTTP API (every input given, as raw HTTP requires); JSON
    escapes carry text httpx could not send. Returns ("complete", first output) or
    ("error", the error's message)."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/{api}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    event = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    stream = urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event}", timeout=120)
    lines = stream.read().decode().splitlines()
    for kind in ("complete", "error"):
        if f"event: {kind}" in lines:
            payload = json.loads(lines[lines.index(f"event: {kind}") + 1].removeprefix("data: "))
            return kind, payload[0] if kind == "complete" else payload["error"]
    raise AssertionError(lines)


NO_FILTERS = ["", "", [], []]  # the chat's since, until, categories and sources inputs


def test_the_web_handlers_say_sorry_without_a_traceback(assistant, caplog, capfd):
    from assistant.web.server import launch

    settings = assistant.settings.with_overrides(port=free_port())
    caplog.set_level(logging.INFO)
    demo, _ = launch(settings, lambda report: assistant, block=False, background_start=False)
    try:
        url = f"http://127.0.0.1:{settings.port}/"
        kind, reply = call_app(url, "chat", ["\ud800 binary neural networks", 5, 0.1, *NO_FILTERS])
        assert kind == "complete"
        assert reply.startswith(f"Sorry, the question holds invalid text: {SURROGATE} 1.")
        kind, error = call_app(url, "search", ["binary \udcff", 5, None])
        assert kind == "error"  # the JSON API refuses with a message the client sees
        assert error.startswith("The question holds invalid text: a lone surrogate U+DCFF")
        kind, error = call_app(url, "ask", ["\ud800 binary", None, None])
        assert kind == "error" and f"invalid text: {SURROGATE} 1" in error
        kind, reply = call_app(
            url, "chat", ["Which work reaches 77.4% mIoU at 102 FPS?", 5, 0.1, *NO_FILTERS]
        )
        assert kind == "complete" and "[1]" in reply
    finally:
        demo.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in capfd.readouterr().err


def test_zero_width_characters_and_terminal_escapes_do_not_change_the_answer(assistant):
    """A zero-width joiner inside a word (pasted from a web page) and a colour escape left
    by a terminal are dropped like other control characters, so the question is answered
    as if typed plainly."""
    plain = "How can the key-value cache be quantized down to a single bit per channel?"
    pasted = (
        "How can the key-value ca\u200dche be quan\u200btized \x1b[1;31mdown\x1b[0m to a "
        "sin\u00adgle bit per chan\u2060nel?"
    )
    from assistant.questions import clean_question

    assert clean_question(pasted, 500) == plain
    expected = assistant.ask(plain)
    answer = assistant.ask(pasted)
    assert expected.answered and answer.answered
    assert [c.title for c in answer.citations] == [c.title for c in expected.citations]
