"""Prompt texts live as files in ``prompts/`` so they can be read and tuned without code.

In a source checkout they are read from the top-level ``prompts/`` folder; the built wheel
carries the same files as package data under ``assistant/prompt_texts/`` (see
``pyproject.toml``), so an installed package needs no checkout.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "prompt_texts"
_CHECKOUT = Path(__file__).resolve().parent.parent / "prompts"
PROMPTS_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


@functools.cache
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt`` (trailing newline removed)."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def render(name: str, /, **values: object) -> str:
    """Fill a prompt's ``{placeholders}``; values are inserted verbatim, never re-parsed."""
    return load_prompt(name).format_map({key: str(value) for key, value in values.items()})
