"""Coordinated lists read distributively: "A and B respectively in X and Y" says A of X and
B of Y. The claim verifier reads which thing each statement is about from it."""

from __future__ import annotations

import re

from assistant.text.words import NOUN_PHRASE_OPENERS

# "A and B respectively in X and Y" (each item up to four words; "respectively" between the
# lists, a preposition before the second).
_RESPECTIVELY_BETWEEN = re.compile(
    r"(?P<a>[\w-]+(?:\s+[\w-]+){0,3}?)\s+and\s+(?P<b>[\w-]+(?:\s+[\w-]+){0,3}?),?\s+"
    r"respectively,?\s+(?:in|on|for|at|of|with|to|by|over|from)\s+(?:the\s+)?"
    r"(?P<x>[\w-]+)\s+and\s+(?:the\s+)?(?P<y>[\w-]+)",
    re.IGNORECASE,
)


def _trimmed(item: str) -> str:
    """The item without the words before its last determiner or preposition ("attributed
    to the information degradation" → "information degradation")."""
    words = item.split()
    openers = [i for i, word in enumerate(words) if word.lower() in NOUN_PHRASE_OPENERS]
    return " ".join(words[openers[-1] + 1 :] if openers else words)


def respective_pairs(sentence: str) -> list[tuple[str, str]]:
    """What the sentence says of what, when it pairs two lists with "respectively" between
    them: [(A, X), (B, Y)]; empty otherwise."""
    match = _RESPECTIVELY_BETWEEN.search(sentence)
    if match is None:
        return []
    a, b = _trimmed(match.group("a")), match.group("b")
    if not a or not b:
        return []
    return [(a, match.group("x")), (b, match.group("y"))]
