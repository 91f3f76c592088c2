"""Readers for every input format the assistant ingests.

Each reader turns one file into :class:`Paper` records plus a list of :class:`Problem`s.
Nothing here touches the store: ingest parses and validates everything first, so a bad
file can never damage what is already stored.

Formats:
- paper listing pages (``.txt``/``.md``): the "trending papers" text dumps in ``data/papers``;
- JSON Lines (``.jsonl``/``.ndjson``) and JSON arrays (``.json``) of records with ``title``
  and ``abstract`` (the arXiv metadata snapshot format works as is);
- CSV (``.csv``) and TSV (``.tsv``) with ``title`` and ``abstract`` columns.

Optional fields (``id``, ``authors``, ``categories``, ``update_date``, ``year``, ``url``) are
kept when a record has them (see ``ingest.records``); a listing page's date line is kept
as the ``listing_date`` of the papers under it.

Sizes are bounded before any text work (see ``ingest.records`` for the limits): JSON Lines
files are read line by line with a bounded read, so a giant line is measured and skipped
without ever being held whole; a JSON element, CSV field or listing line over its limit is
refused before it is normalised.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import BinaryIO

from tqdm import tqdm

from assistant.core.schema import Paper, normalize_text, title_key
from ingest.records import (
    MAX_ABSTRACT_CHARS,
    MAX_RECORD_CHARS,
    Problem,
    SourceIds,
    merge_listing,
    paper_id_for,
    record_to_paper,
)

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
# On a listing page a title is one line and short; an abstract is prose. The longest title
# in the corpus is 176 characters and the shortest abstract 555, so these bounds, which
# only tell the two kinds of line apart, have plenty of margin.
LISTING_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 80


# The progress bar of the :func:`parse_paths` call under way, ticked once per record read,
# so a large file shows progress from its first record instead of silence until its end.
_RECORD_READ: ContextVar[Callable[[int], object] | None] = ContextVar("record_read", default=None)


def _record_read() -> None:
    tick = _RECORD_READ.get()
    if tick is not None:
        tick(1)


class UnreadableFile(Exception):
    """The file as a whole cannot be parsed (unreadable, not UTF-8, empty, wrong columns)."""


@dataclass
class ParseResult:
    """What one or more files yielded: papers in input order, and what had to be skipped."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    records: int = 0
    sources: set[str] = field(default_factory=set)  # labels of the files read in full

    @property
    def duplicates_merged(self) -> int:
        """Listings folded into an earlier listing of the same paper."""
        return self.records - len(self.papers)


def source_label(path: Path) -> str:
    """The file name papers remember; undecodable bytes in it become U+FFFD."""
    return _printable(path.name)


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def source_labels(files: list[Path], named: Iterable[Path]) -> list[str]:
    """The source label of each file: its path relative to the directory it was found in
    (just its name for a file named directly, or at the top of a directory).

    Two files with one name in different folders are two sources (``a/papers.jsonl``,
    ``b/papers.jsonl``): a paper that one of them drops is not kept alive by the other.
    Files that still share a label (the same name given twice directly) are labelled by
    their path below their common folder.
    """
    roots = [Path(path) for path in named if Path(path).is_dir()]
    relative: list[PurePath] = []
    for file in files:
        root = next((r for r in roots if file.is_relative_to(r)), None)
        relative.append(file.relative_to(root) if root is not None else PurePath(file.name))
    labels = [_printable(path.as_posix()) for path in relative]
    for label in {label for label in labels if labels.count(label) > 1}:
        clashing = [i for i, other in enumerate(labels) if other == label]
        paths = [files[i].resolve() for i in clashing]
        if len(set(paths)) < 2:
            continue
        common = Path(os.path.commonpath(paths))
        for i, path in zip(clashing, paths):
            labels[i] = _printable(path.relative_to(common).as_posix())
    return labels


def _line_too_long(size: int, limit: int, unit: str = "characters") -> str:
    return f"line is {size} {unit}; the limit for one record is {limit}; skipped"


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
        if len(raw_line) > 2 * MAX_ABSTRACT_CHARS:  # measured before any regex work
            line = raw_line
        else:
            line = normalize_text(raw_line)
        if len(line) > MAX_ABSTRACT_CHARS:
            if pending_title is None:
                message = f"line is {len(line)} characters; the limit for an abstract is "
            else:
                message = (
                    f"abstract of {pending_title[1]!r} is {len(line)} characters; the limit is "
                )
                pending_title = None
            problems.append(Problem(source, number, f"{message}{MAX_ABSTRACT_CHARS}; skipped"))
            continue
        if not line or line.casefold() in _LISTING_NOISE or not title_key(line):
            continue
        if line.startswith(_SUBSCRIBE_PREFIX) and len(line) > len(_SUBSCRIBE_PREFIX):
            line = line[len(_SUBSCRIBE_PREFIX) :].strip()
        if _DATE_LINE.fullmatch(line):
            listing_date = line
            continue
        if pending_title is None:
            if len(line) > LISTING_TITLE_CHARS:
                problems.append(Problem(source, number, "abstract without a title; skipped"))
                continue
            pending_title = (number, line)
            continue
        title_line, title = pending_title
        if len(line) < MIN_ABSTRACT_CHARS and len(line) <= LISTING_TITLE_CHARS:
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
        _record_read()
        pending_title = None

    if pending_title is not None:
        title_line, title = pending_title
        problems.append(Problem(source, title_line, f"title {title!r} has no abstract; skipped"))
    return papers, problems


# --- structured records (JSON, JSON Lines, CSV) ------------------------------------------


def _collect(items: Iterable[tuple[int, object]], source: str) -> tuple[list[Paper], list[Problem]]:
    """Records (or problems already found) in file order → papers and problems.

    Problems keep their place in file order; an id used for two titles in this file, or a
    title given two ids, is a conflict (see :class:`SourceIds`).
    """
    papers: list[Paper] = []
    problems: list[Problem] = []
    ids = SourceIds(source)
    for line, record in items:
        _record_read()
        outcome = record if isinstance(record, Problem) else record_to_paper(record, source, line)
        if isinstance(outcome, Paper):
            outcome = ids.conflict(outcome, line) or outcome
        (papers if isinstance(outcome, Paper) else problems).append(outcome)
    return papers, problems


def _json_line(number: int, line: str, source: str) -> tuple[int, object]:
    """One JSON Lines line → (line, record), or (line, Problem) when it is not JSON."""
    try:
        return number, json.loads(line)
    except json.JSONDecodeError as error:
        return number, Problem(source, number, f"malformed JSON ({error.msg}); skipped")
    except RecursionError:
        return number, Problem(source, number, "malformed JSON (nested too deeply); skipped")


def parse_jsonl(text: str, source: str) -> tuple[list[Paper], list[Problem]]:
    """JSON Lines already in memory: one object per line; bad lines are reported and skipped."""

    def items() -> Iterator[tuple[int, object]]:
        for number, line in enumerate(text.split("\n"), start=1):
            if len(line) > MAX_RECORD_CHARS:
                yield number, Problem(source, number, _line_too_long(len(line), MAX_RECORD_CHARS))
            elif line.strip():
                yield _json_line(number, line, source)

    return _collect(items(), source)


def _bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | int]]:
    """(number, raw line) per line; a line over ``limit`` bytes gives its size instead.

    An over-long line is read on in 1 MiB pieces and dropped, never held whole, so the
    memory a file costs is bounded by the limit, not by its longest line.
    """
    number = 0
    while raw := handle.readline(limit + 1):
        number += 1
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield number, raw
            continue
        size = len(raw)
        while not raw.endswith(b"\n") and (raw := handle.readline(1 << 20)):
            size += len(raw)
        yield number, size - raw.endswith(b"\n")


def read_jsonl(path: Path, source: str) -> tuple[list[Paper], list[Problem]]:
    """A JSON Lines file, streamed: a line that is too long or not UTF-8 is one problem."""

    def items(handle: BinaryIO) -> Iterator[tuple[int, object]]:
        for number, raw in _bounded_lines(handle, MAX_RECORD_CHARS):
            if isinstance(raw, int):
                yield (
                    number,
                    Problem(source, number, _line_too_long(raw, MAX_RECORD_CHARS, "bytes")),
                )
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                yield (
                    number,
                    Problem(
                        source,
                        number,
                        f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
                        f"{error.start + 1}); skipped",
                    ),
                )
                continue
            if line.strip():
                yield _json_line(number, line, source)

    try:
        with path.open("rb") as handle:
            papers, problems = _collect(items(handle), source)
    except OSError as error:
        raise UnreadableFile(f"cannot read file ({error.strerror or error})") from error
    if not papers and not problems:
        raise UnreadableFile("file is empty")
    return papers, problems


def _iter_json_array(text: str, source: str) -> Iterator[tuple[int, object]]:
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
        line = text.count("\n", 0, position) + 1
        if end - position > MAX_RECORD_CHARS:
            element = Problem(
                source,
                line,
                f"record is {end - position} characters; the limit is {MAX_RECORD_CHARS}; skipped",
            )
        yield line, element
        position = end


def parse_json(text: str, source: str) -> tuple[list[Paper], list[Problem]]:
    """A JSON array of records, or a single object, or (mislabelled) JSON Lines."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        first_line = stripped.splitlines()[0].strip()
        if first_line.endswith("}") and "\n" in stripped.strip():
            return parse_jsonl(text, source)
        if len(text) > MAX_RECORD_CHARS:
            return [], [
                Problem(
                    source,
                    1,
                    f"record is {len(text)} characters; the limit is {MAX_RECORD_CHARS}; skipped",
                )
            ]
        try:
            return _collect([(1, json.loads(text))], source)
        except json.JSONDecodeError as error:
            raise UnreadableFile(f"line {error.lineno}: malformed JSON ({error.msg})") from error
        except RecursionError as error:
            raise UnreadableFile("malformed JSON (nested too deeply)") from error
    try:
        items = list(_iter_json_array(text, source))
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"line {error.lineno}: malformed JSON ({error.msg})") from error
    except RecursionError as error:
        raise UnreadableFile("malformed JSON (nested too deeply)") from error
    return _collect(items, source)


def parse_csv(text: str, source: str, delimiter: str = ",") -> tuple[list[Paper], list[Problem]]:
    """CSV/TSV with a header row holding at least ``title`` and ``abstract``."""
    previous_limit = csv.field_size_limit(MAX_RECORD_CHARS)  # the csv default is 131072
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        columns = {(name or "").strip().lower() for name in reader.fieldnames or []}
        missing = sorted({"title", "abstract"} - columns)
        if missing:
            found = ", ".join(sorted(c for c in columns if c)) or "none"
            raise UnreadableFile(
                f"line 1: CSV header lacks column(s) {', '.join(missing)} (found: {found})"
            )
        items = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise UnreadableFile(
                f"line {reader.line_num + 1}: a field is over {MAX_RECORD_CHARS} characters, "
                "the limit for one record"
            ) from error
        raise UnreadableFile(f"line {reader.line_num}: malformed CSV ({error})") from error
    finally:
        csv.field_size_limit(previous_limit)
    return _collect(items, source)


# --- files and directories ---------------------------------------------------------------


def parse_file(path: Path, label: str | None = None) -> tuple[list[Paper], list[Problem]]:
    """Parse one file by its suffix; whole-file failures become a single Problem."""
    source = label or source_label(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return [], [
            Problem(source, 0, f"unsupported file type {suffix or '(none)'}; use {supported}")
        ]
    try:
        if suffix in JSONL_SUFFIXES:
            return read_jsonl(path, source)
        text = read_text(path)
        if suffix in LISTING_SUFFIXES:
            papers, problems = parse_listing(text, source)
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


def parse_paths(paths: Iterable[Path], progress: bool = False) -> ParseResult:
    """Parse everything named, merging papers listed more than once into one record.

    ``progress``: a bar on stderr counting records as they are read.
    """
    with tqdm(desc="reading", unit=" record", disable=not progress, leave=False) as bar:
        token = _RECORD_READ.set(bar.update)
        try:
            return _parse_all(paths)
        finally:
            _RECORD_READ.reset(token)


def _parse_all(paths: Iterable[Path]) -> ParseResult:
    paths = list(paths)
    files, problems = expand_paths(paths)
    result = ParseResult(problems=problems)
    by_id: dict[str, Paper] = {}
    for path, label in zip(files, source_labels(files, paths)):
        result.files.append(str(path))
        papers, file_problems = parse_file(path, label)
        result.problems.extend(file_problems)
        if not any(problem.line == 0 for problem in file_problems):
            result.sources.add(label)
        result.records += len(papers)
        for paper in papers:
            if paper.paper_id in by_id:
                merge_listing(by_id[paper.paper_id], paper)
            else:
                by_id[paper.paper_id] = paper
                result.papers.append(paper)
    return result
