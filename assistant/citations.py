"""Citation hygiene: whatever a model writes, only retrieved papers can be cited.

Markers ``[n]`` (also ``[1, 2]`` and ``[1][3]``) are checked against the numbered sources
the model was given. Markers that point at no source are dropped; the sources actually
cited are renumbered 1, 2, 3… in order of first use. The rewriter works on a stream, so
the text a user watches arrive is already the final, clean text. Being the one pass every
draft goes through, it also disarms raw HTML and images a model may have copied from a
planted abstract (``markup.disarm``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.markup import disarm, from_literal, literal

_MARKER = re.compile(r"\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*)\]")
# The longest text that could still turn into a marker: "[" plus digits, commas, spaces
# (or, with a "!" before it, into an image, which must arrive whole to be disarmed).
_PARTIAL = re.compile(r"!?\[[\d\s,;]{0,40}$|!$")
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

    def _renumber(self, match: re.Match[str]) -> str:
        numbers: list[int] = []
        for piece in re.split(r"[,;]", match.group(1)):
            original = int(piece)
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
        return disarm(_MARKER.sub(self._renumber, text))

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


def cited_numbers(text: str) -> list[int]:
    """Marker numbers in a clean text, in order of first appearance (for tests and eval)."""
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        for piece in re.split(r"[,;]", match.group(1)):
            number = int(piece)
            if number not in seen:
                seen.append(number)
    return seen


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
