"""The one sentence splitter: abstracts (sentences to quote), answers (claims to check).

The splitting itself (NLTK's Punkt with the abbreviations of papers, citation markers kept
with their sentence) is :mod:`assistant.core.sentence_split`, shared with ingest; it is
re-exported here, the text toolkit's door to it.

``split_sentences`` keeps sentences long enough to quote; ``claim_units`` cuts an answer
losslessly into its claims (list items whole) and the text between them.
"""

from __future__ import annotations

import re

from assistant.core.sentence_split import (
    MARKER,
    MIN_SENTENCE_CHARS,
    load_punkt,
    quotable_sentences,
    sentence_spans,
    split_sentences,
)
from assistant.markup import from_literal

__all__ = [
    "MIN_SENTENCE_CHARS",
    "claim_units",
    "load_punkt",
    "plain",
    "quotable_sentences",
    "sentence_spans",
    "split_sentences",
]

_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_MARKUP = re.compile(rf"\*\*|__|\\(?=[\[\]])|^\s*[-*]\s+|{MARKER}", re.MULTILINE)


def claim_units(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_claim): list items whole, other lines by sentence.

    Joining the pieces gives the text back unchanged.
    """
    units: list[tuple[str, bool]] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        ending = line[len(body) :]
        if _LIST_ITEM.match(body) or not body.strip():
            units.append((body, bool(body.strip())))
        else:
            previous_end = 0
            for start, end in sentence_spans(body):
                if start > previous_end:
                    units.append((body[previous_end:start], False))
                units.append((body[start:end], True))
                previous_end = end
            if previous_end < len(body):
                units.append((body[previous_end:], False))
        if ending:
            units.append((ending, False))
    return units


def plain(claim: str) -> str:
    """The claim's words without markdown, character references or citation markers."""
    return " ".join(_MARKUP.sub(" ", from_literal(claim)).split())
