"""Research-paper chat assistant: hybrid retrieval over paper abstracts, cited answers.

>>> from assistant import Assistant
>>> a = Assistant.from_settings()
>>> a.ask("Which work reaches 77.4% mIoU at 102 FPS?").citations

Every name is imported on first use: ``ingest`` stands on ``assistant.core`` alone, and
importing it must not pull in the query side (or torch) through this file.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Assistant": "assistant.engine",
    "Answer": "assistant.answer",
    "Citation": "assistant.answer",
    "PaperHit": "assistant.hits",
    "Settings": "assistant.core.settings",
    "conversation_markdown": "assistant.export",
    "cited_bibtex": "assistant.export",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
