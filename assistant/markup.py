"""Corpus text is data, never markup.

Titles, abstracts, passages and file names come from whoever wrote the corpus. Wherever
they reach the page or an API client they pass through :func:`literal`, so that
``<img src=…>``, ``<a href=…>``, ``*stars*``, ``[brackets]``, backticks or a bare URL show
exactly as written and never load, link, run or format anything.

:func:`literal` writes the characters that could start markup as character references
(``&lt;``, ``&#42;``). CommonMark and HTML both decode a reference to the plain character
and never read it as markup, so one escaped text is safe in every place the answer puts
corpus text: a markdown paragraph, a list item, emphasis, or the raw HTML of a fold's
``<summary>``. Line breaks are references too, so corpus text never starts a line of its
own (no forged headings or ``[n] title`` source lines). :func:`from_literal` is its exact
inverse: a follow-up reads the cited titles back from an earlier answer's markdown.

:func:`disarm` is the weaker treatment for text a model wrote: its markdown stays
(emphasis, lists, ``[n]`` markers), but raw HTML and images, which a model may copy from a
planted abstract, are shown as text.
"""

from __future__ import annotations

import re

# Characters that start inline markup anywhere: HTML, emphasis, code, links and citation
# markers, strikethrough, tables, LaTeX, backslash escapes; and line breaks.
_ALWAYS = {
    "<": "&lt;",
    ">": "&gt;",
    "\\": "&#92;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "|": "&#124;",
    "$": "&#36;",
    "\n": "&#10;",
    "\r": "&#13;",
}
_SPECIAL = re.compile(
    "|".join(
        [
            "[" + re.escape("".join(_ALWAYS)) + "]",
            r"&(?=[#A-Za-z0-9])",  # only an "&" that could read as a reference ("A & B" stays)
            "://",  # bare URLs ("https://…") would become links
            r"(?i:www)\.",  # as would "www.example.org"
            r"@(?=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*[A-Za-z0-9])",  # and e-mail addresses
        ]
    )
)
# A block marker at the very start (the text may follow "- " or begin a paragraph).
_LEADING = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")
_REFERENCE = re.compile(r"&(?:(amp|lt|gt)|#(\d+));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">"}


def _reference(char: str) -> str:
    return _ALWAYS.get(char) or ("&amp;" if char == "&" else f"&#{ord(char)};")


def _escape_match(match: re.Match[str]) -> str:
    found = match.group(0)
    if found == "://":
        return "&#58;//"
    if found.lower() == "www.":
        return found[:3] + "&#46;"
    return _reference(found)


def _escape_leading(match: re.Match[str]) -> str:
    space, marker, digits, punctuation = match.groups()
    if marker:
        return space + _reference(marker)
    return space + digits + _reference(punctuation)


def literal(text: str) -> str:
    """``text`` as markdown (or HTML) that shows it exactly as written, and nothing more."""
    escaped = _SPECIAL.sub(_escape_match, text)
    return _LEADING.sub(_escape_leading, escaped, count=1)


def from_literal(escaped: str) -> str:
    """The text :func:`literal` was given: its exact inverse."""

    def decode(match: re.Match[str]) -> str:
        name, code = match.groups()
        if name:
            return _NAMED[name]
        return chr(int(code)) if int(code) <= 0x10FFFF else match.group(0)

    return _REFERENCE.sub(decode, escaped)


_IMAGE = re.compile(r"!\[")


def disarm(markdown: str) -> str:
    """Model-written markdown with raw HTML and images shown as text (formatting stays).

    Works piece by piece on a stream as long as a piece never ends between "!" and "[".
    """
    return _IMAGE.sub(r"!\\[", markdown.replace("<", "&lt;"))
