"""The papers the engine can cite: id → paper, lookup by title, and by the words of titles.

The papers stay where ingest wrote them, in the catalogue file of the store's revision
(:mod:`assistant.core.paper_file`, SQLite), and are queried there: an engine on a million
papers holds none of them in memory and reads nothing at start beyond the file's checks. A
store without a usable file gets one built from the store (in memory when the cache cannot
be written). ``PaperCatalog(papers, chunk_count)`` builds a catalogue in memory (tests,
tools).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from assistant.core.batches import batches
from assistant.core.paper_file import (
    SELECT,
    SELECT_WITHOUT_ABSTRACTS,
    PaperFile,
    chunk_count,
    filter_names,
    in_memory,
    open_read_only,
    paper_count,
    paper_of,
    papers_of,
)
from assistant.core.schema import Paper, title_key
from assistant.core.store import PaperStore
from assistant.filters import SearchFilters, matching_ids

MATCHING_CACHE = 64  # filter sets whose allowed ids are remembered
IN_BATCH = 500  # ids one ``IN (...)`` query asks for
READERS = 8  # connections to a catalogue file for lookups at once (the app answers 4)


class ReadConnections:
    """Connections to one catalogue database, lent one per lookup to threads reading at
    once.

    Threads sharing one SQLite connection queue on its mutex, and a thread waiting there
    holds the GIL (the module binds parameters with it held), so every other thread stalls
    too: under 16 clients at a million papers, lookups were ~40% of the web app's GIL time.
    The spare connections are opened with the first, when the catalogue is loaded: the
    file is checked by then, and an open connection keeps reading it after a later ingest
    removes its folder. When all are lent, the first is shared; it also serves the rare
    scans (iteration, counts, filter choices); an in-memory catalogue has only the first."""

    def __init__(self, first: sqlite3.Connection, count: int = READERS):
        self.first = first
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        database = first.execute("PRAGMA database_list").fetchone()[2]
        for _ in range(count - 1 if database else 0):
            try:
                spare = open_read_only(Path(database))
                spare.execute("SELECT 1 FROM facts LIMIT 1")  # opens the file now
            except sqlite3.Error:  # its folder removed meanwhile: fewer spares
                break
            self._idle.put(spare)

    @contextmanager
    def borrowed(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            yield self.first
            return
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def rows(self, sql: str, parameters: Iterable = ()) -> list[tuple]:
        """Every row of one query, read on a borrowed connection."""
        with self.borrowed() as connection:
            return connection.execute(sql, tuple(parameters)).fetchall()


class PaperTable(Mapping[str, Paper]):
    """paper_id → :class:`Paper`, read from the catalogue database on each lookup
    (iteration and :meth:`values` go in the store's order)."""

    def __init__(self, readers: ReadConnections):
        self._readers = readers

    def __getitem__(self, paper_id: str) -> Paper:
        rows = self._readers.rows(f"{SELECT} WHERE paper_id = ?", (paper_id,))
        if not rows:
            raise KeyError(paper_id)
        return paper_of(rows[0])

    def __contains__(self, paper_id: object) -> bool:
        return isinstance(paper_id, str) and bool(
            self._readers.rows("SELECT 1 FROM papers WHERE paper_id = ?", (paper_id,))
        )

    def __iter__(self) -> Iterator[str]:
        cursor = self._readers.first.execute("SELECT paper_id FROM papers ORDER BY position")
        while rows := cursor.fetchmany(IN_BATCH):
            yield from (paper_id for (paper_id,) in rows)

    @cached_property
    def _length(self) -> int:
        return paper_count(self._readers.first)

    def __len__(self) -> int:
        return self._length

    def values(self) -> Iterator[Paper]:  # type: ignore[override]  # one query, not one a key
        return papers_of(self._readers.first)

    def without_abstracts(self) -> Iterator[Paper]:
        """Every paper, its abstract left empty (scans over dates, categories, sources)."""
        return papers_of(self._readers.first, SELECT_WITHOUT_ABSTRACTS)

    def many(self, paper_ids: Iterable[str]) -> dict[str, Paper]:
        """The papers of those ids that are catalogued (one query per 500 ids)."""
        wanted = list(dict.fromkeys(paper_ids))
        found: dict[str, Paper] = {}
        for batch in batches(wanted, IN_BATCH):
            marks = ", ".join("?" * len(batch))
            for row in self._readers.rows(f"{SELECT} WHERE paper_id IN ({marks})", batch):
                found[row[0]] = paper_of(row)
        return found

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return len(self) == len(other) and dict(zip(self, self.values())) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping


class PaperCatalog:
    """The catalogue of one store revision (see the module docstring)."""

    def __init__(
        self,
        papers: Iterable[Paper] = (),
        chunk_count: int = 0,
        *,
        database: sqlite3.Connection | None = None,
    ):
        if database is None:
            database = in_memory(((f"{p.paper_id}:0", p) for p in papers), chunk_count)
        self._readers = ReadConnections(database)
        self.papers = PaperTable(self._readers)
        self._matching: dict[SearchFilters, frozenset[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> PaperCatalog:
        """The catalogue of the store's revision (see the module docstring)."""
        return cls(database=PaperFile.load(store, cache_dir))

    def __len__(self) -> int:
        return len(self.papers)

    @cached_property
    def chunk_count(self) -> int:
        return chunk_count(self._readers.first)

    def by_title(self, title: str) -> Paper | None:
        """The paper of that title, however it is typed (the last one listed, when two
        papers share a title key)."""
        rows = self._readers.rows(
            f"{SELECT} WHERE title_key = ? ORDER BY position DESC LIMIT 1", (title_key(title),)
        )
        return paper_of(rows[0]) if rows else None

    def has_title_like(self, title: str, share: float) -> bool:
        """Whether a catalogued title shares at least ``share`` of the words of the longer
        of it and ``title`` (title keys' words: a quoted title typed slightly otherwise)."""
        words = sorted(set(title_key(title).split()))
        if not words:
            return False
        marks = ", ".join("?" * len(words))
        found = self._readers.rows(
            f"SELECT 1 FROM title_words AS w JOIN papers AS p ON p.position = w.position "
            f"WHERE w.word IN ({marks}) GROUP BY w.position "
            f"HAVING count(*) >= ? * max(?, min(p.title_words)) LIMIT 1",
            (*words, share, len(words)),
        )
        return bool(found)

    def titled(self, term: str, limit: int | None = None) -> list[str]:
        """The ids of the papers whose title uses the stemmed ``term`` (at most ``limit``),
        in the store's order."""
        rows = self._readers.rows(
            "SELECT p.paper_id FROM title_terms AS t JOIN papers AS p ON p.position = t.position "
            "WHERE t.term = ? ORDER BY t.position LIMIT ?",
            (term, -1 if limit is None else limit),
        )
        return [paper_id for (paper_id,) in rows]

    def matching(self, filters: SearchFilters | None) -> frozenset[str] | None:
        """The ids of the papers ``filters`` allow; None when nothing is filtered out (no
        filters, or filters every paper passes), so a search takes its unfiltered path."""
        if filters is None or filters.is_empty:
            return None
        with self._lock:
            allowed = self._matching.get(filters)
        if allowed is None:
            allowed = matching_ids(self.papers.without_abstracts(), filters)
            with self._lock:
                if len(self._matching) >= MATCHING_CACHE:
                    self._matching.pop(next(iter(self._matching)))
                self._matching[filters] = allowed
        return None if len(allowed) == len(self.papers) else allowed

    @cached_property
    def _names(self) -> tuple[list[str], list[str]]:
        categories, sources = filter_names(self._readers.first)
        return sorted(categories, key=str.casefold), sorted(sources, key=str.casefold)

    def categories(self) -> list[str]:
        """Every category a paper carries, sorted (for a filter's choices)."""
        return list(self._names[0])

    def sources(self) -> list[str]:
        """Every source file label, sorted (for a filter's choices)."""
        return list(self._names[1])
