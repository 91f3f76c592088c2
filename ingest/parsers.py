"""Readers for every input format the assistant ingests.

Each reader turns one file into :class:`Paper` records plus a list of :class:`Problem`s.
Nothing here touches the store: ingest parses and validates everything first, so a bad
file can never damage what is already stored.

Formats:
- paper listing pages (``.txt``/``.md``): the "trending papers" text dumps in ``data/papers``;
- JSON Lines (``.jsonl``/``.ndjson``) and JSON arrays (``.json``) of records with ``title``
  and ``abstract`` (the arXiv metadata snapshot format works as is);
- CSV (``.csv``) and TSV (``.tsv``) with ``title`` and ``abstract`` columns.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.schema import OPTIONAL_FIELDS, Paper, normalize_text, title_key
from ingest.records import Problem, merge_listing, paper_id_for

LISTING_SUFFIXES = {".txt", ".md"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
SUPPORTED_SUFFIXES = LISTING_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | CSV_SUFFIXES

# Page furniture of the listing pages: never a title, never an abstract.
_LISTING_NOISE = {
    "new",
    "subscribe",
    "byak and the research community",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
}
_SUBSCRIBE_PREFIX = "Subscribe"
_DATE_LINE = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?"
)
# A title is one line and short; an abstract is prose. The longest title in the corpus is
# 176 characters and the shortest abstract 555, so these bounds have plenty of margin.
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 80


class UnreadableFile(Exception):
    """The file as a whole cannot be parsed (unreadable, not UTF-8, empty, wrong columns)."""


@dataclass
class ParseResult:
    """What one or more files yielded: papers in input order, and what had to be skipped."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def duplicates_merged(self) -> int:
        """Listings folded into an earlier listing of the same paper."""
        return self.records - len(self.papers)


def read_text(path: Path) -> str:
    """Read a UTF-8 file, turning OS and decoding errors into one clear message."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UnreadableFile(f"cannot read file ({error.strerror or error})") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UnreadableFile(
            f"not valid UTF-8 (byte 0x{raw[error.start]:02x} on line {line}); "
            "re-save the file as UTF-8"
        ) from error
    if not text.strip():
        raise UnreadableFile("file is empty")
    return text


# --- listing pages -----------------------------------------------------------------------


def parse_listing(text: str, source: str) -> tuple[list[Paper], list[Problem]]:
    """Parse a listing page: optional date lines, then title / abstract pairs.

    The pairs may or may not be separated by blank lines, and the first title may be glued
    to a "Subscribe" button label. A date line ("Mar 12") applies to the papers after it.
    """
    papers: list[Paper] = []
    problems: list[Problem] = []
    listing_date: str | None = None
    pending_title: tuple[int, str] | None = None

    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = normalize_text(raw_line)
        if not line or line.casefold() in _LISTING_NOISE:
            continue
        if line.startswith(_SUBSCRIBE_PREFIX) and len(line) > len(_SUBSCRIBE_PREFIX):
            line = line[len(_SUBSCRIBE_PREFIX) :].strip()
        if _DATE_LINE.fullmatch(line):
            listing_date = line
            continue
        if pending_title is None:
            if len(line) > MAX_TITLE_CHARS:
                problems.append(Problem(source, number, "abstract without a title; skipped"))
                continue
            pending_title = (number, line)
            continue
        title_line, title = pending_title
        if len(line) < MIN_ABSTRACT_CHARS and len(line) <= MAX_TITLE_CHARS:
            # Two title-like lines in a row: the first had no abstract.
            problems.append(
                Problem(source, title_line, f"title {title!r} has no abstract; skipped")
            )
            pending_title = (number, line)
            continue
        papers.append(
            Paper(
                title=title,
                abstract=line,
                paper_id=paper_id_for(title),
                sources=[source],
                listing_date=listing_date,
            )
        )
        pending_title = None

    if pending_title is not None:
        title_line, title = pending_title
        problems.append(Problem(source, title_line, f"title {title!r} has no abstract; skipped"))
    return papers, problems


# --- structured records (JSON, JSON Lines, CSV) ------------------------------------------


def record_to_paper(record: object, source: str, line: int) -> Paper | Problem:
    """Validate one structured record; a Problem says exactly which field is wrong."""
    if not isinstance(record, dict):
        return Problem(
            source, line, f"expected an object with title and abstract, got {type(record).__name__}"
        )
    fields = {str(key).strip().lower(): value for key, value in record.items()}
    title = normalize_text(str(fields.get("title") or ""))
    abstract = normalize_text(str(fields.get("abstract") or ""))
    if not title:
        return Problem(source, line, "record has no title; skipped")
    if not abstract:
        return Problem(source, line, f"record {title!r} has no abstract; skipped")
    external_id = fields.get("id")
    optional = {}
    for name in OPTIONAL_FIELDS:
        value = fields.get(name)
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        optional[name] = normalize_text(str(value)) if value not in (None, "") else None
    return Paper(
        title=title,
        abstract=abstract,
        paper_id=paper_id_for(title, str(external_id) if external_id not in (None, "") else None),
        sources=[source],
        **optional,
    )


def _collect(items: Iterable[tuple[int, object]], source: str) -> tuple[list[Paper], list[Problem]]:
    papers: list[Paper] = []
    problems: list[Problem] = []
    for line, record in items:
        outcome = record_to_paper(record, source, line)
        (papers if isinstance(outcome, Paper) else problems).append(outcome)
    return papers, problems


def parse_jsonl(text: str, source: str) -> tuple[list[Paper], list[Problem]]:
    """JSON Lines: one object per line; a malformed line is reported and skipped."""
    items: list[tuple[int, object]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(Problem(source, number, f"malformed JSON ({error.msg}); skipped"))
    papers, record_problems = _collect(items, source)
    return papers, problems + record_problems


def _iter_json_array(text: str) -> Iterator[tuple[int, object]]:
    """Yield (line, element) for a JSON array, so problems can name the element's line."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if text[position : position + 1] != "[":
        raise json.JSONDecodeError("expected a JSON array", text, position)
    position += 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise json.JSONDecodeError("unterminated array", text, position)
        if text[position] == "]":
            return
        element, end = decoder.raw_decode(text, position)
        yield text.count("\n", 0, position) + 1, element
        position = end


def parse_json(text: str, source: str) -> tuple[list[Paper], list[Problem]]:
    """A JSON array of records, or a single object, or (mislabelled) JSON Lines."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        first_line = stripped.splitlines()[0].strip()
        if first_line.endswith("}") and "\n" in stripped.strip():
            return parse_jsonl(text, source)
        try:
            return _collect([(1, json.loads(text))], source)
        except json.JSONDecodeError as error:
            raise UnreadableFile(f"line {error.lineno}: malformed JSON ({error.msg})") from error
    try:
        items = list(_iter_json_array(text))
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"line {error.lineno}: malformed JSON ({error.msg})") from error
    return _collect(items, source)


def parse_csv(text: str, source: str, delimiter: str = ",") -> tuple[list[Paper], list[Problem]]:
    """CSV/TSV with a header row holding at least ``title`` and ``abstract``."""
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = {(name or "").strip().lower() for name in reader.fieldnames or []}
    missing = sorted({"title", "abstract"} - columns)
    if missing:
        found = ", ".join(sorted(c for c in columns if c)) or "none"
        raise UnreadableFile(
            f"line 1: CSV header lacks column(s) {', '.join(missing)} (found: {found})"
        )
    try:
        items = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise UnreadableFile(f"line {reader.line_num}: malformed CSV ({error})") from error
    return _collect(items, source)


# --- files and directories ---------------------------------------------------------------


def parse_file(path: Path, label: str | None = None) -> tuple[list[Paper], list[Problem]]:
    """Parse one file by its suffix; whole-file failures become a single Problem."""
    source = label or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return [], [
            Problem(source, 0, f"unsupported file type {suffix or '(none)'}; use {supported}")
        ]
    try:
        text = read_text(path)
        if suffix in LISTING_SUFFIXES:
            papers, problems = parse_listing(text, source)
        elif suffix in JSONL_SUFFIXES:
            papers, problems = parse_jsonl(text, source)
        elif suffix in JSON_SUFFIXES:
            papers, problems = parse_json(text, source)
        else:
            papers, problems = parse_csv(text, source, "\t" if suffix == ".tsv" else ",")
    except UnreadableFile as error:
        return [], [Problem(source, 0, str(error))]
    if not papers and not problems:
        problems.append(Problem(source, 0, "no papers found (expected title/abstract pairs)"))
    return papers, problems


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Files named directly, plus every supported file (recursively) in named directories."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(Problem(str(path), 0, "directory holds no supported files"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(Problem(str(path), 0, "no such file or directory"))
    return files, problems


def parse_paths(paths: Iterable[Path]) -> ParseResult:
    """Parse everything named, merging papers listed more than once into one record."""
    files, problems = expand_paths(paths)
    result = ParseResult(problems=problems)
    by_key: dict[str, Paper] = {}
    for path in files:
        result.files.append(str(path))
        papers, file_problems = parse_file(path)
        result.problems.extend(file_problems)
        result.records += len(papers)
        for paper in papers:
            key = title_key(paper.title)
            if key in by_key:
                merge_listing(by_key[key], paper)
            else:
                by_key[key] = paper
                result.papers.append(paper)
    return result
