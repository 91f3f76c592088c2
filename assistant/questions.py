"""Checking a question before any work is done on it."""

from __future__ import annotations

import re

from assistant.core.schema import normalize_text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class QuestionError(ValueError):
    """The question cannot be processed as given (empty, too long)."""


def clean_question(text: str, limit: int) -> str:
    """Normalise it like corpus text, drop control characters, refuse empty or oversized."""
    if not isinstance(text, str):
        raise QuestionError("the question must be text")
    text = normalize_text(_CONTROL.sub(" ", text))
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > limit:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {limit}")
    return text
