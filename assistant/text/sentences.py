"""The one sentence splitter: abstracts (sentences to quote), answers (claims to check).

A sentence ends at ``.``, ``!`` or ``?`` — with the citation markers that follow it
("… 77.4% mIoU [1]. It …") — before whitespace and a capital, a digit, an opening bracket
or quote, or Markdown emphasis. ``split_sentences`` keeps sentences long enough to quote;
``claim_units`` cuts an answer losslessly into its claims (list items whole) and the text
between them.
"""

from __future__ import annotations

import re

from assistant.markup import from_literal

MIN_SENTENCE_CHARS = 25  # shorter fragments ("Code: see below.") are not worth quoting

_SENTENCE_END = re.compile(r"[.!?](?:\s*\[\d+\])*(?=\s+[A-Z0-9(\"'*])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_MARKUP = re.compile(r"\*\*|__|\\(?=[\[\]])|^\s*[-*]\s+|\[\d+(?:\s*[,;]\s*\d+)*\]", re.MULTILINE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the whitespace between them belongs to neither."""
    spans = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        spans.append((start, end.end()))
        rest = text[end.end() :]
        start = end.end() + len(rest) - len(rest.lstrip())
    spans.append((start, len(text)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of an abstract worth quoting (``MIN_SENTENCE_CHARS`` or longer)."""
    sentences = (text[start:end].strip() for start, end in sentence_spans(text))
    return [s for s in sentences if len(s) >= MIN_SENTENCE_CHARS]


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
        if ending:
            units.append((ending, False))
    return units


def plain(claim: str) -> str:
    """The claim's words without markdown, character references or citation markers."""
    return " ".join(_MARKUP.sub(" ", from_literal(claim)).split())
