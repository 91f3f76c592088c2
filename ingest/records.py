"""What a parsed record must be, and the rules that give a paper its identity.

Identity matters twice: listings of one paper must merge into one, and chunk ids in the
vector store are derived from it so that re-ingesting is idempotent. A paper is its
title: ``paper_id`` hashes the title key, whatever the format (listing page, JSON, CSV),
so the bundled listing pages keep the ids they always had. An ``id`` a record brings is
only unique within its own file (two labs both number their papers 1, 2, 3), so it never
decides identity; it is kept as the paper's ``external_id``, and inside one file an id
used for two titles, or a title given two ids, is a conflict that is reported, not merged.

Every field of a structured record is checked before any text work is done on it: its
type (title and abstract are text; other fields text, numbers or lists of text), its
text (no lone surrogates) and its size (the limits below). A record that fails is one
``file:line: …`` problem; the rest of the file is still ingested.

Fields the search filters read are stored as the inputs carry them: ``update_date`` and
``categories`` (arXiv's space-separated form; a list, or commas or semicolons, become the
same), ``year`` (a ``year`` column, else the year a ``published`` or ``date`` field starts
with; a value that does not start with four digits is not stored).

The record itself (:class:`Paper`) is the shared schema in ``assistant.core.schema``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from assistant.core.schema import (
    EXTERNAL_ID,
    OPTIONAL_FIELDS,
    Paper,
    invalid_text,
    normalize_text,
    title_key,
)

# Size limits, with a wide margin over real data. arXiv titles run to ~300 characters (the
# bundled corpus: 176); arXiv's submission form caps abstracts at 1,920 characters and
# older records in its metadata snapshot run to a few thousand (the bundled corpus: 1,920);
# author lists of large collaborations reach tens of thousands of characters; ids, URLs,
# categories and dates are short. A JSON Lines line, JSON array element or CSV field over
# MAX_RECORD_CHARS is refused before it is parsed, and a field or listing line far over
# its own limit before it is normalised, so a giant input costs a bounded read, not a
# regex run over it (nor the sentence splitter and tokenizer after it).
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 20_000
MAX_AUTHORS_CHARS = 100_000
MAX_FIELD_CHARS = 2_000  # id, url, categories, dates
MAX_RECORD_CHARS = 2_000_000  # characters; bytes for a JSON Lines line (measured undecoded)
FIELD_LIMITS = {
    "title": MAX_TITLE_CHARS,
    "abstract": MAX_ABSTRACT_CHARS,
    "authors": MAX_AUTHORS_CHARS,
}

# Record keys → Paper attributes for the optional fields (``id`` is kept as external_id).
RECORD_FIELDS = {("id" if name == EXTERNAL_ID else name): name for name in OPTIONAL_FIELDS}
# Where a record has no ``year``, the year of one of these dates ("2023-03-12T…") is used.
YEAR_FALLBACKS = ("published", "date")

_CATEGORY_SEPARATORS = re.compile(r"[\s,;]+")
_LEADING_YEAR = re.compile(r"(\d{4})(?!\d)")


def paper_id_for(title: str) -> str:
    """A paper's stable identity: a hash of its title key (case, accents, punctuation aside)."""
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


# --- one structured record -------------------------------------------------------------


class _Refused(Exception):
    """A field that cannot be stored; the message says which and why."""


def _kind(value: object) -> str:
    """A value's type in JSON's words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _check_size(text: str, name: str, limit: int) -> None:
    if len(text) > limit:
        raise _Refused(f"{name} is {len(text)} characters; the limit is {limit}")


def field_text(value: object, name: str) -> str | None:
    """A record field as normalised text (None when absent); raises :class:`_Refused`.

    Title and abstract must be text; other fields may also be numbers or lists of text
    (joined with ", "). A raw value far over its limit is refused before any regex work.
    """
    if value is None:
        return None
    if name in ("title", "abstract"):
        if not isinstance(value, str):
            raise _Refused(f'field "{name}" must be text; got {_kind(value)}')
    elif isinstance(value, (list, tuple)):
        odd = [item for item in value if not _is_scalar(item)]
        if odd:
            raise _Refused(
                f'field "{name}" must be text, a number or a list of texts; '
                f"got a list holding {_kind(odd[0])}"
            )
        value = ", ".join(str(item) for item in value)
    elif not _is_scalar(value):
        raise _Refused(
            f'field "{name}" must be text, a number or a list of texts; got {_kind(value)}'
        )
    text = str(value)
    limit = FIELD_LIMITS.get(name, MAX_FIELD_CHARS)
    if len(text) > 2 * limit:  # normalising could not bring it under the limit
        _check_size(text, name, limit)
    problem = invalid_text(text)
    if problem:
        raise _Refused(f'field "{name}" holds invalid text: {problem}')
    text = normalize_text(text)
    _check_size(text, name, limit)
    return text or None


def categories_text(text: str | None) -> str | None:
    """Categories as one space-separated string, as arXiv writes them: "cs.LG stat.ML".

    A list (already joined with ", "), or text separated by commas or semicolons, becomes
    the same; repeats are dropped.
    """
    if not text:
        return None
    names = dict.fromkeys(name for name in _CATEGORY_SEPARATORS.split(text) if name)
    return " ".join(names) or None


def year_text(text: str | None) -> str | None:
    """The four-digit year a ``year`` field or a date field ("2023-03-12") starts with."""
    match = _LEADING_YEAR.match(text or "")
    return match.group(1) if match else None


def record_to_paper(record: object, source: str, line: int) -> Paper | Problem:
    """Validate one structured record; a Problem says exactly which field is wrong."""
    if not isinstance(record, dict):
        return Problem(
            source, line, f"expected an object with title and abstract, got {_kind(record)}"
        )
    fields = {str(key).strip().lower(): value for key, value in record.items()}
    try:
        title = field_text(fields.get("title"), "title")
        if not title or not title_key(title):
            return Problem(source, line, "record has no title; skipped")
        abstract = field_text(fields.get("abstract"), "abstract")
        if not abstract:
            return Problem(source, line, f"record {title!r} has no abstract; skipped")
        optional = {name: field_text(fields.get(key), key) for key, name in RECORD_FIELDS.items()}
        optional["categories"] = categories_text(optional["categories"])
        year = year_text(optional["year"])  # a year that is not one is not stored
        for key in YEAR_FALLBACKS:
            if year is None:
                year = year_text(field_text(fields.get(key), key))
        optional["year"] = year
    except _Refused as refused:
        return Problem(source, line, f"{refused}; skipped")
    return Paper(
        title=title,
        abstract=abstract,
        paper_id=paper_id_for(title),
        sources=[source],
        **optional,
    )


class SourceIds:
    """Inside one file an id names one paper, and a paper has one id.

    Ids are only compared within a file: two files may both use id "1" for different
    papers, and those stay two papers.
    """

    def __init__(self, source: str):
        self.source = source
        self._titles_by_id: dict[str, tuple[int, str]] = {}  # id → (line, paper_id)
        self._ids_by_paper: dict[str, tuple[int, str]] = {}  # paper_id → (line, id)

    def conflict(self, paper: Paper, line: int) -> Problem | None:
        """A problem when ``paper`` contradicts an earlier record of this file, else None."""
        external = paper.external_id
        if external is None:
            return None
        earlier = self._titles_by_id.get(external)
        if earlier is not None and earlier[1] != paper.paper_id:
            return Problem(
                self.source,
                line,
                f'id "{external}" is also used by line {earlier[0]} for another title; skipped',
            )
        other = self._ids_by_paper.get(paper.paper_id)
        if other is not None and other[1] != external:
            return Problem(
                self.source,
                line,
                f'title {paper.title!r} is also used by line {other[0]} with id "{other[1]}"; '
                "skipped",
            )
        self._titles_by_id.setdefault(external, (line, paper.paper_id))
        self._ids_by_paper.setdefault(paper.paper_id, (line, external))
        return None
