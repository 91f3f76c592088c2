"""Citation hygiene: whatever a model writes, only retrieved papers can be cited.

Markers ``[n]`` (also ``[1, 2]`` and ``[1][3]``) are checked against the numbered sources
the model was given. Small models also write ``[1:1]``, ``[^1]``, ``[Source 1]``, ``【1】``
or a trailing ``(1)``: these are repaired into ``[n]``; a placeholder like ``[n:1]`` is
removed. Markers that point at no source are dropped; the sources actually cited are
renumbered 1, 2, 3… in order of first use. The rewriter works on a stream, so the text a
user watches arrive is already the final, clean text. Being the one pass every draft goes
through, it also disarms raw HTML and images a model may have copied from a planted
abstract (``markup.disarm``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.markup import disarm, from_literal, literal

_NUMBERS = r"\d{1,3}(?:\s*[,;]\s*(?:source\s*)?\d{1,3})*"
_MARKER = re.compile(
    # [1], [1, 2], [^1], [Source 1], [1:1], [1†source], and the same in 【】
    rf"[\[【]\s*(?:(?:source|ref|doc)\s*|\^)?({_NUMBERS})\s*(?::\d+|†[^\]】\n]*)?\s*[\]】]"
    # "… text (1)." : a bare number in parentheses closing a sentence or clause
    r"|(?:(?<=\w)|(?<=\S ))\((\d{1,2})\)(?=\s*[.,;:!?]|\s*$)",
    re.IGNORECASE,
)
# "[n]", "[n:1]", "[source]": a template marker the model never filled in.
_PLACEHOLDER = re.compile(r"\s?(?<!!)\[(?:[nN](?::\d+)?|source|number|citation)\]")
# The longest text that could still turn into a marker (or, with a "!" before it, into an
# image, which must arrive whole to be disarmed).
_PARTIAL = re.compile(r"(?:!?[\[【][^\]】\n]{0,24}|\(\d{0,2}\)?|!)$")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_DOUBLE_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")


class CitationRewriter:
    """Streams text through, renumbering valid markers and removing invalid ones.

    ``source_count`` is how many numbered sources the model saw; ``order`` collects the
    original source numbers in order of first citation (index + 1 is the new number).
    """

    def __init__(self, source_count: int):
        self.source_count = source_count
        self.order: list[int] = []
        self.dropped = False  # whether a marker pointing at no source was removed
        self._pending = ""
        self._context = ""  # the last characters shown: "(1)" needs to see what precedes it

    def _renumber(self, match: re.Match[str]) -> str:
        numbers: list[int] = []
        for piece in marker_numbers(match):
            original = piece
            if not 1 <= original <= self.source_count:
                self.dropped = True  # a source the model was never given: drop it
                continue
            if original not in self.order:
                self.order.append(original)
            new = self.order.index(original) + 1
            if new not in numbers:
                numbers.append(new)
        return "".join(f"[{n}]" for n in numbers)

    def _rewrite(self, text: str) -> str:
        text, placeholders = _PLACEHOLDER.subn("", text)
        self.dropped = self.dropped or bool(placeholders)
        # The context cannot start a marker (an open "[" or "(" is always held back).
        context = self._context
        clean = _MARKER.sub(self._renumber, context + text)[len(context) :]
        self._context = (context + clean)[-2:]
        return disarm(clean)

    def feed(self, piece: str) -> str:
        """Accept a streamed piece; return what can safely be shown now."""
        text = self._pending + piece
        partial = _PARTIAL.search(text)
        if partial:
            self._pending = text[partial.start() :]
            text = text[: partial.start()]
        else:
            self._pending = ""
        return self._rewrite(text)

    def finish(self) -> str:
        """Flush the tail (an unfinished "[12" is shown as written, it cites nothing)."""
        text, self._pending = self._pending, ""
        return self._rewrite(text)


def rewrite_citations(text: str, source_count: int) -> tuple[str, list[int]]:
    """Whole-text form: (clean text, original source numbers in order of first use)."""
    rewriter = CitationRewriter(source_count)
    clean = rewriter.feed(text) + rewriter.finish()
    return tidy(clean), rewriter.order


def tidy(text: str) -> str:
    """Remove the stray spaces dropped markers leave behind ("word ." → "word.")."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _DOUBLE_SPACE.sub(" ", text).strip()


def marker_numbers(match: re.Match[str]) -> list[int]:
    """The source numbers a marker names."""
    return [int(n) for n in re.findall(r"\d+", match.group(1) or match.group(2))]


def cited_numbers(text: str) -> list[int]:
    """Marker numbers in a text, in order of first appearance."""
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        for number in marker_numbers(match):
            if number not in seen:
                seen.append(number)
    return seen


def markers_in(text: str) -> list[re.Match[str]]:
    """Every citation marker in a text, with its position."""
    return list(_MARKER.finditer(text))


def format_sources(titles: Sequence[str]) -> str:
    """The markdown sources list that follows every answer (titles shown literally)."""
    if not titles:
        return ""
    lines = ["**Sources**"]
    lines += [f"[{number}] {literal(title)}" for number, title in enumerate(titles, start=1)]
    return "\n".join(lines)


_SOURCE_LINE = re.compile(r"^\s*(?:[-*]\s*)?\[(\d+)\]\s+(.+?)\s*$")


def parse_sources(markdown: str) -> list[str]:
    """Titles from a previous answer's sources list (lets stateless clients follow up),
    exactly as :func:`format_sources` was given them."""
    titles: list[str] = []
    in_sources = False
    for line in markdown.splitlines():
        stripped = line.strip().strip("*").strip()
        if stripped.lower() in ("sources", "sources:"):
            in_sources = True
            continue
        if in_sources:
            match = _SOURCE_LINE.match(line)
            if match:
                titles.append(from_literal(match.group(2).strip("* ")))
            elif stripped and not stripped.lower().startswith("possibly related"):
                continue
            elif stripped.lower().startswith("possibly related"):
                break
    return titles
