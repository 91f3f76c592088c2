"""The paper catalogue on disk: every stored paper, written once per store revision.

An engine used to read every paper's first chunk back from Chroma when it started (most of
its start on a large store: ~15 s at 100,000 chunks). Ingest now writes the papers of the
revision it is about to publish to one SQLite file, and engines read that instead.

Layout, beside the BM25 index and the sentence vectors and published the same way (one
folder per store revision, ``<cache>/papers/<collection>/<revision>/``):

- ``papers.sqlite``: table ``papers``, one row per paper in the store's order (its first
  chunk's id, its title key, and every field of :class:`~assistant.core.schema.Paper`),
  indexed by id and by title key; tables ``title_words`` (the words of each title key) and
  ``title_terms`` (the stemmed terms of each title, :mod:`assistant.core.terms`), which the
  premise checks look titles up by; table ``facts`` (the chunk count);
- ``index.json``: the sha256, size and modification time of ``papers.sqlite``, and its
  counts; written last, so a folder without it is no catalogue.

Engines query the file where it lies (read-only, one connection each), so a store of a
million papers costs an engine no per-paper memory and no start-up read; a catalogue that
cannot be persisted (a read-only cache) is built in memory instead.

The folder is written under a staging name and renamed into place before ingest publishes
the revision; the live revision's folder is kept until the next one, so engines starting
meanwhile find theirs. A missing or damaged catalogue (a store written by another process
or an earlier version, a bit flip) is built from the store once, and ``ingest --check``
compares the catalogue with the stored papers.

An ingest given the :class:`~assistant.core.changes.StoreChanges` it made copies the
previous revision's file and applies them in SQL (rows of removed first chunks deleted,
written first chunks read back from the store and written), instead of reading every paper.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path

from assistant.core.batches import batches
from assistant.core.changes import StoreChanges
from assistant.core.revision_folders import file_record, intact, publish
from assistant.core.schema import OPTIONAL_FIELDS, Paper, title_key
from assistant.core.store import PaperStore, StoreError
from assistant.core.terms import Stemmer, new_stemmer, term_tokens

log = logging.getLogger(__name__)

DATABASE = "papers.sqlite"
INDEX = "index.json"  # written last: its presence marks a complete folder
LAYOUT = 2  # 1: papers and facts only (read whole by every engine)
FIELDS = ("paper_id", "first_chunk", "title", "abstract", "sources", *OPTIONAL_FIELDS)
SELECT = f"SELECT {', '.join(FIELDS)} FROM papers"
# The same columns with every abstract left empty: for scans that never read one (filters).
SELECT_WITHOUT_ABSTRACTS = SELECT.replace("abstract,", "'' AS abstract,", 1)
# Columns without a declared type keep what is stored as it is (a year as int or str).
SCHEMA = f"""
CREATE TABLE papers (
    position INTEGER PRIMARY KEY,
    paper_id TEXT NOT NULL UNIQUE,
    first_chunk TEXT NOT NULL UNIQUE,
    title_key TEXT NOT NULL,
    title_words INTEGER NOT NULL,
    {", ".join(name for name in FIELDS[2:])}
);
CREATE INDEX papers_by_title ON papers (title_key);
CREATE TABLE title_words (word TEXT NOT NULL, position INTEGER NOT NULL,
                          PRIMARY KEY (word, position)) WITHOUT ROWID;
CREATE TABLE title_terms (term TEXT NOT NULL, position INTEGER NOT NULL,
                          PRIMARY KEY (term, position)) WITHOUT ROWID;
CREATE TABLE facts (name TEXT PRIMARY KEY, value);
"""
BATCH = 10_000  # rows a write or a read moves at once


class DamagedPapers(Exception):
    """A persisted catalogue that fails its checks; the message says why."""


class PaperFile:
    """Reads and writes the per-revision catalogue file (all class methods)."""

    # --- where ----------------------------------------------------------------------
    @staticmethod
    def root(cache_dir: Path, store: PaperStore) -> Path:
        """The folder holding one subfolder per revision, named by the live collection's
        name (which a rebuild's staging collection takes)."""
        return Path(cache_dir) / "papers" / store.settings.collection

    @classmethod
    def folder(cls, cache_dir: Path, store: PaperStore, revision: str | None = None) -> Path:
        """Where the catalogue for ``revision`` (default: the store's own) lives."""
        return cls.root(cache_dir, store) / (revision or store.revision)

    # --- reading --------------------------------------------------------------------
    @classmethod
    def read(cls, folder: Path) -> tuple[list[Paper], int] | None:
        """(papers in the store's order, chunk count) persisted in ``folder``, checked;
        None when there is none there, :class:`DamagedPapers` when it fails its checks."""
        connection = cls.opened(folder)
        if connection is None:
            return None
        with closing(connection):
            try:
                papers = list(papers_of(connection))
            except sqlite3.Error as error:
                raise DamagedPapers(f"paper catalogue at {folder}: unreadable ({error})") from error
            return papers, chunk_count(connection)

    @classmethod
    def opened(cls, folder: Path) -> sqlite3.Connection | None:
        """A read-only connection to the catalogue in ``folder`` once it passed its checks
        (checksum, layout, counts); None when there is none there, :class:`DamagedPapers`
        when it fails them. The connection may be shared by threads; it keeps the file
        readable even after a later ingest removes the folder."""
        index = _index(folder)
        if index is None:
            return None
        database = folder / DATABASE
        _verify(folder, index)
        try:
            connection = open_read_only(database)
            papers = paper_count(connection)
            chunks = chunk_count(connection)
        except (sqlite3.Error, KeyError, TypeError, ValueError) as error:
            raise DamagedPapers(f"paper catalogue at {folder}: unreadable ({error})") from error
        if papers != index.get("papers") or chunks != index.get("chunks"):
            connection.close()
            raise DamagedPapers(f"paper catalogue at {folder}: its counts disagree")
        return connection

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> sqlite3.Connection:
        """A connection to the catalogue of the store's revision: the persisted one, or,
        when it is missing, damaged or counts other chunks than the store, one built from
        the papers read from the store (persisted when the cache can be written, else in
        memory)."""
        folder = cls.folder(cache_dir, store)
        try:
            found = cls.opened(folder)
        except DamagedPapers as error:
            log.warning("%s; reading the papers from the store", error)
            found = None
        chunks = store.count()
        if found is not None and chunk_count(found) == chunks:
            return found
        if found is not None:
            found.close()
            log.warning("paper catalogue at %s does not match the store; rebuilding it", folder)
        else:
            log.info(
                "no paper catalogue for revision %s of %s: building it",
                store.revision,
                store.name,
            )
        first = store.first_chunks()
        if cls._persist_quietly(cache_dir, store, first, chunks, store.revision):
            try:
                persisted = cls.opened(folder)
            except DamagedPapers as error:
                log.warning("%s; keeping the catalogue in memory", error)
            else:
                if persisted is not None:
                    return persisted
        return in_memory(first, chunks)

    @classmethod
    def papers(
        cls,
        store: PaperStore,
        cache_dir: Path,
        revision: str,
        first_chunks: Sequence[str] | None = None,
    ) -> Iterator[Paper]:
        """The papers of ``revision``'s catalogue, read a batch at a time (what the sentence
        vectors are built from); the store's when there is no catalogue to read.
        ``first_chunks``: only the papers whose first chunk is one of these ids (the papers
        an ingest wrote)."""
        try:
            connection = cls.opened(cls.folder(cache_dir, store, revision))
        except DamagedPapers:
            connection = None
        if connection is None:
            if first_chunks is None:
                yield from store.papers()
            else:
                yield from (paper for _, paper in store.first_chunks(list(first_chunks)))
            return
        with closing(connection):
            if first_chunks is None:
                yield from papers_of(connection)
                return
            for batch in batches(first_chunks, BATCH):
                marks = ", ".join("?" * len(batch))
                rows = connection.execute(f"{SELECT} WHERE first_chunk IN ({marks})", batch)
                yield from map(paper_of, rows)

    # --- writing --------------------------------------------------------------------
    @classmethod
    def refresh(
        cls,
        store: PaperStore,
        cache_dir: Path,
        revision: str | None = None,
        changes: StoreChanges | None = None,
    ) -> int:
        """Write the catalogue of the store as it is now for ``revision`` (the one ingest
        is about to publish) and return how many papers it lists. With ``changes``, the
        previous revision's catalogue is updated when it is intact, instead of reading
        every paper."""
        chunks = store.count()
        target = cls.folder(cache_dir, store, revision)
        if changes is not None:
            try:
                updated = cls._update(store, cache_dir, changes, chunks, target)
            except (OSError, sqlite3.Error) as error:  # read-only cache
                log.warning("cannot persist the paper catalogue under %s (%s)", cache_dir, error)
                updated = None
            if updated is not None:
                return updated
        first = store.first_chunks()
        cls._persist_quietly(cache_dir, store, first, chunks, revision or store.revision)
        return len({paper.paper_id for _, paper in first})

    @classmethod
    def ensure(cls, store: PaperStore, cache_dir: Path) -> int:
        """Write the catalogue for the store's revision when missing or damaged; returns
        how many papers it lists."""
        try:
            found = cls.opened(cls.folder(cache_dir, store))
        except DamagedPapers as error:
            log.warning("%s; writing it again", error)
            found = None
        if found is None:
            return cls.refresh(store, cache_dir)
        with closing(found):
            stale = chunk_count(found) != store.count()
            papers = paper_count(found)
        return cls.refresh(store, cache_dir) if stale else papers

    @classmethod
    def _update(
        cls,
        store: PaperStore,
        cache_dir: Path,
        changes: StoreChanges,
        chunks: int,
        target: Path,
    ) -> int | None:
        """The ``changes.base`` catalogue copied to ``target`` with ``changes`` applied;
        None when that catalogue is missing or damaged (the caller reads every paper)."""
        base = cls.folder(cache_dir, store, changes.base)
        try:
            found = cls.opened(base)
        except DamagedPapers as error:
            log.warning("%s; reading every paper instead", error)
            return None
        if found is None:
            return None
        found.close()
        written = store.first_chunks(list(changes.written))
        with publish(target, _live(cls.root(cache_dir, store), store)) as staging:
            shutil.copyfile(base / DATABASE, staging / DATABASE)
            with closing(_connect(staging / DATABASE)) as connection:
                _apply(connection, changes.removed, written)
                connection.execute("UPDATE facts SET value = ? WHERE name = 'chunks'", (chunks,))
                connection.commit()
                count = paper_count(connection)
            _write_index(staging, count, chunks)
        return count

    @classmethod
    def _persist_quietly(
        cls,
        cache_dir: Path,
        store: PaperStore,
        first: list[tuple[str, Paper]],
        chunks: int,
        revision: str,
    ) -> bool:
        root = cls.root(cache_dir, store)
        try:
            cls.write(root / revision, first, chunks, _live(root, store))
        except (OSError, sqlite3.Error) as error:  # read-only cache: memory only
            log.warning("cannot persist the paper catalogue under %s (%s)", cache_dir, error)
            return False
        return True

    @staticmethod
    def write(
        target: Path, first: Iterable[tuple[str, Paper]], chunks: int, keep: Iterable[Path] = ()
    ) -> None:
        """Write atomically (staging folder, then rename) and drop the other revisions,
        except ``keep`` (the revision engines serve until the new one is published)."""
        with publish(target, keep) as staging:
            with closing(_connect(staging / DATABASE)) as connection:
                count = _fill(connection, first, chunks)
            _write_index(staging, count, chunks)


# --- the database itself ------------------------------------------------------------
def in_memory(first: Iterable[tuple[str, Paper]], chunks: int) -> sqlite3.Connection:
    """A catalogue database in memory, for a cache that cannot be written (and for tests):
    the same tables, so it answers the same queries."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    _fill(connection, first, chunks)
    return connection


def open_read_only(database: Path) -> sqlite3.Connection:
    """A read-only connection to a catalogue file, which no one writes once published
    (``immutable``: no locks), usable from any thread."""
    return sqlite3.connect(
        f"file:{database}?mode=ro&immutable=1", uri=True, check_same_thread=False
    )


def papers_of(connection: sqlite3.Connection, select: str = SELECT) -> Iterator[Paper]:
    """The papers of a catalogue database, in the store's order, a batch at a time
    (``select``: :data:`SELECT_WITHOUT_ABSTRACTS` for papers without their abstracts)."""
    cursor = connection.execute(f"{select} ORDER BY position")
    while rows := cursor.fetchmany(BATCH):
        yield from map(paper_of, rows)


def filter_names(connection: sqlite3.Connection) -> tuple[set[str], set[str]]:
    """Every category and every source label the papers carry, from the columns' distinct
    values (a few per listing) rather than from a row per paper: at a million papers the
    filters' choices take a second, not a scan building every paper."""
    categories = {
        name
        for (value,) in connection.execute("SELECT DISTINCT categories FROM papers")
        for name in (value or "").split()
    }
    sources = {
        name
        for (value,) in connection.execute("SELECT DISTINCT sources FROM papers")
        for name in json.loads(value)
    }
    return categories, sources


def paper_count(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM papers").fetchone()[0])


def chunk_count(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT value FROM facts WHERE name = 'chunks'").fetchone()[0])


def paper_of(row: Sequence) -> Paper:
    """The paper of a row selected as :data:`SELECT` selects it."""
    paper_id, _, title, abstract, sources, *optional = row
    return Paper(
        title=title,
        abstract=abstract,
        paper_id=paper_id,
        sources=list(json.loads(sources)),
        **dict(zip(OPTIONAL_FIELDS, optional, strict=True)),
    )


def _fill(connection: sqlite3.Connection, first: Iterable[tuple[str, Paper]], chunks: int) -> int:
    """Create the tables and write the papers; returns how many rows it wrote.

    One row per paper, where it first appears, as the last first chunk of it says (an
    interrupted ingest can leave a paper two first chunks until the next one): what a dict
    of the papers holds."""
    papers = {paper.paper_id: (chunk, paper) for chunk, paper in first}
    connection.executescript(SCHEMA)
    _insert(connection, list(papers.values()))
    connection.execute("INSERT INTO facts VALUES ('chunks', ?)", (chunks,))
    connection.commit()
    return paper_count(connection)


def _insert(
    connection: sqlite3.Connection,
    first: Sequence[tuple[str, Paper]],
    at: Sequence[int] | None = None,
) -> None:
    """Write the papers with their title words and terms: at the positions ``at``, or
    appended after the last row."""
    stemmer = new_stemmer()
    if at is None:
        (last,) = connection.execute("SELECT coalesce(max(position), 0) FROM papers").fetchone()
        at = range(last + 1, last + 1 + len(first))
    marks = ", ".join("?" * (len(FIELDS) + 3))
    insert = (
        f"INSERT INTO papers (position, {', '.join(FIELDS)}, title_key, title_words) "
        f"VALUES ({marks})"
    )
    for start in range(0, len(first), BATCH):
        rows, words, terms = [], [], []
        for position, (chunk, paper) in zip(
            at[start : start + BATCH], first[start : start + BATCH], strict=True
        ):
            key, key_words, title_terms = _title_entries(paper.title, stemmer)
            rows.append((position, *_row(chunk, paper), key, len(key_words)))
            words += [(word, position) for word in key_words]
            terms += [(term, position) for term in title_terms]
        connection.executemany(insert, rows)
        connection.executemany("INSERT INTO title_words VALUES (?, ?)", words)
        connection.executemany("INSERT INTO title_terms VALUES (?, ?)", terms)


def _title_entries(title: str, stemmer: Stemmer) -> tuple[str, set[str], set[str]]:
    """A title's key, the words of its key and its stemmed terms: what the title tables
    hold for it."""
    key = title_key(title)
    return key, set(key.split()), {term for _, term in term_tokens(title, stemmer)}


def _apply(
    connection: sqlite3.Connection, removed: Iterable[str], written: Sequence[tuple[str, Paper]]
) -> None:
    """``changes`` in SQL: rows of removed first chunks go; a written first chunk replaces
    its paper's row in place when it is the same chunk (a relabelled paper keeps its place)
    and moves the paper last when it is a new one (as a dict of the papers would)."""
    gone = [
        position
        for chunk in removed
        for (position,) in connection.execute(
            "SELECT position FROM papers WHERE first_chunk = ?", (chunk,)
        )
    ]
    appended: list[tuple[str, Paper]] = []
    for chunk, paper in dict((p.paper_id, (c, p)) for c, p in written).values():
        found = connection.execute(
            "SELECT position, first_chunk FROM papers WHERE paper_id = ?", (paper.paper_id,)
        ).fetchone()
        if found is not None and found[1] == chunk and found[0] not in gone:
            _drop_title_index(connection, [found[0]])
            connection.execute("DELETE FROM papers WHERE position = ?", (found[0],))
            _insert(connection, [(chunk, paper)], at=[found[0]])
            continue
        if found is not None and found[0] not in gone:
            gone.append(found[0])
        appended.append((chunk, paper))
    _drop_title_index(connection, gone)
    connection.executemany("DELETE FROM papers WHERE position = ?", [(p,) for p in gone])
    _insert(connection, appended)


def _drop_title_index(connection: sqlite3.Connection, positions: Sequence[int]) -> None:
    """Remove the title words and terms of the rows at ``positions`` (looked up by the
    words and terms of their own titles: the tables' keys)."""
    stemmer = new_stemmer()
    for position in positions:
        found = connection.execute(
            "SELECT title FROM papers WHERE position = ?", (position,)
        ).fetchone()
        if found is None:
            continue
        _, words, terms = _title_entries(found[0], stemmer)
        connection.executemany(
            "DELETE FROM title_words WHERE word = ? AND position = ?",
            [(word, position) for word in words],
        )
        connection.executemany(
            "DELETE FROM title_terms WHERE term = ? AND position = ?",
            [(term, position) for term in terms],
        )


def _live(root: Path, store: PaperStore) -> list[Path]:
    """The live revision's folder (kept while engines may serve it), if any."""
    try:
        return [root / store.live_revision().split(":")[-1]]
    except StoreError:  # no live collection yet (a first --rebuild)
        return []


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = OFF")  # a staging file: all or nothing anyway
    connection.execute("PRAGMA synchronous = OFF")
    return connection


def _write_index(staging: Path, papers: int, chunks: int) -> None:
    index = {
        "layout": LAYOUT,
        "papers": papers,
        "chunks": chunks,
        **file_record(staging / DATABASE),
    }
    (staging / INDEX).write_text(json.dumps(index))


def _row(chunk: str, paper: Paper) -> tuple:
    return (
        paper.paper_id,
        chunk,
        paper.title,
        paper.abstract,
        json.dumps(paper.sources, ensure_ascii=False),
        *(getattr(paper, name) for name in OPTIONAL_FIELDS),
    )


def _index(folder: Path) -> dict | None:
    try:
        index = json.loads((folder / INDEX).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DamagedPapers(f"paper catalogue at {folder}: unreadable {INDEX}") from error
    if not isinstance(index, dict) or index.get("layout") != LAYOUT:
        raise DamagedPapers(f"paper catalogue at {folder}: {INDEX} of another layout")
    return index


def _verify(folder: Path, index: dict) -> None:
    try:
        if not intact(folder / DATABASE, index):
            raise DamagedPapers(f"paper catalogue at {folder}: {DATABASE} fails its checksum")
    except OSError as error:
        raise DamagedPapers(f"paper catalogue at {folder}: {DATABASE} unreadable") from error
