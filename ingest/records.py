"""What a parser reports besides papers, and the rules that give a parsed paper its identity.

Identity matters twice: duplicate listings of one paper must merge into one, and chunk ids
in the vector store are derived from it so that re-ingesting is idempotent. The record
itself (:class:`Paper`) is the shared schema in ``assistant.core.schema``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from assistant.core.schema import OPTIONAL_FIELDS, Paper, normalize_text, title_key


def paper_id_for(title: str, external_id: str | None = None) -> str:
    """A stable id: the record's own id (e.g. an arXiv id) when it has one, else a title hash."""
    if external_id:
        return normalize_text(external_id)
    return "t" + hashlib.sha1(title_key(title).encode("utf-8")).hexdigest()[:16]


def merge_listing(kept: Paper, other: Paper) -> None:
    """Fold a second listing of the same paper into the first.

    Listing pages sometimes cut an abstract short, so the longer abstract wins; every
    source file is remembered, and missing optional fields are filled in.
    """
    if len(other.abstract) > len(kept.abstract):
        kept.abstract = other.abstract
    for source in other.sources:
        if source not in kept.sources:
            kept.sources.append(source)
    for name in OPTIONAL_FIELDS:
        if getattr(kept, name) is None and getattr(other, name) is not None:
            setattr(kept, name, getattr(other, name))


@dataclass(frozen=True)
class Problem:
    """A bad input, reported as ``file:line: message`` (line 0 means the whole file)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"
