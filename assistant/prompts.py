"""Prompt texts live in ``prompts/*.txt`` so they can be read and tuned without code."""

from __future__ import annotations

import functools

from assistant.settings import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@functools.cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt`` (trailing newline removed)."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def render(name: str, **values: object) -> str:
    """Fill a prompt's ``{placeholders}``; values are inserted verbatim, never re-parsed."""
    return load_prompt(name).format_map({key: str(value) for key, value in values.items()})
