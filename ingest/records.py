"""The paper record every parser produces, and the rules that give a paper its identity.

Identity matters twice: duplicate listings of one paper must merge into one, and chunk ids
in the vector store are derived from it so that re-ingesting is idempotent.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

_WHITESPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_text(text: str) -> str:
    """Collapse line breaks and runs of spaces (arXiv metadata is full of both)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def title_key(title: str) -> str:
    """Case- and punctuation-insensitive key under which duplicate listings merge."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    return _NON_ALNUM.sub(" ", folded).strip()


def paper_id_for(title: str, external_id: str | None = None) -> str:
    """A stable id: the record's own id (e.g. an arXiv id) when it has one, else a title hash."""
    if external_id:
        return normalize_text(external_id)
    return "t" + hashlib.sha1(title_key(title).encode("utf-8")).hexdigest()[:16]


@dataclass
class Paper:
    """One paper: the unit of citation. ``sources`` remembers every file that listed it."""

    title: str
    abstract: str
    paper_id: str
    sources: list[str] = field(default_factory=list)
    listing_date: str | None = None
    authors: str | None = None
    categories: str | None = None
    update_date: str | None = None
    url: str | None = None

    def merge(self, other: Paper) -> None:
        """Fold a second listing of the same paper into this one.

        Listing pages sometimes cut an abstract short, so the longer abstract wins; every
        source file is remembered, and missing optional fields are filled in.
        """
        if len(other.abstract) > len(self.abstract):
            self.abstract = other.abstract
        for source in other.sources:
            if source not in self.sources:
                self.sources.append(source)
        for name in ("listing_date", "authors", "categories", "update_date", "url"):
            if getattr(self, name) is None and getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))


@dataclass(frozen=True)
class Problem:
    """A bad input, reported as ``file:line: message`` (line 0 means the whole file)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"
