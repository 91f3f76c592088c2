"""Stops an answer that repeats the system prompt (a classic prompt-injection goal).

The prompt is cut into overlapping 40-character shingles (case and spacing folded); as the
answer streams, each new window is looked up. A match ends generation and the engine falls
back to the extractive answer, so at most a fragment shorter than one shingle is ever shown.
"""

from __future__ import annotations

import re

SHINGLE = 40
_SPACE = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text.casefold())


class PromptLeak(RuntimeError):
    """The model's answer started reciting its instructions."""


class LeakGuard:
    def __init__(self, secret_text: str):
        folded = _fold(secret_text)
        self._shingles = {folded[i : i + SHINGLE] for i in range(max(0, len(folded) - SHINGLE + 1))}
        self._seen = ""

    def check(self, piece: str) -> None:
        """Feed the next streamed piece; raise PromptLeak when a shingle appears."""
        start = max(0, len(self._seen) - SHINGLE + 1)
        self._seen = _fold(self._seen + piece)
        for i in range(start, len(self._seen) - SHINGLE + 1):
            if self._seen[i : i + SHINGLE] in self._shingles:
                raise PromptLeak("the answer repeated the system prompt")
