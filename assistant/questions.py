"""Checking a question, and the numbers asked with it, before any work is done on it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.core.errors import AssistantError
from assistant.core.schema import invalid_text, normalize_text, strip_invisible
from assistant.core.settings import MAX_PAPERS

if TYPE_CHECKING:  # the conversation module pulls in llama-index; a CLI checks questions first
    from assistant.conversation import History, Turn

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class QuestionError(AssistantError, ValueError):
    """The question cannot be processed as given (empty, too long, not text, bad count)."""


def clean_question(text: str, limit: int) -> str:
    """Normalise it like corpus text, drop control characters, refuse what cannot be asked.

    Refused with a :class:`QuestionError`: anything but text, text that cannot be encoded
    (a lone surrogate, e.g. a command-line byte that is not UTF-8), empty or oversized
    questions. The messages never quote the question, so they can be shown anywhere.
    """
    if not isinstance(text, str):
        raise QuestionError(f"the question must be text, not {type(text).__name__}")
    if len(text) > 4 * limit:  # far too long: refuse before any regex work
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {limit}")
    problem = invalid_text(text)
    if problem:
        raise QuestionError(f"the question holds invalid text: {problem}")
    text = normalize_text(_CONTROL.sub(" ", strip_invisible(text)))
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > limit:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {limit}")
    return text


def paper_count(value: object, name: str = "k") -> int:
    """How many papers to retrieve: a whole number from 1 to :data:`MAX_PAPERS`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAPERS:
        raise QuestionError(f"{name} must be a whole number from 1 to {MAX_PAPERS}, not {value!r}")
    return value


def clean_history(history: History | None) -> list[Turn]:
    """The conversation as turns, with text that cannot be encoded replaced by U+FFFD.

    Earlier turns are context, not the question: a refused message that a front end kept
    in its history must not break the next, valid question.
    """
    from assistant.conversation import as_turns

    def valid(text: str) -> str:
        return text if invalid_text(text) is None else _SURROGATE.sub("\ufffd", text)

    return [(valid(user), valid(answer)) for user, answer in as_turns(history)]
