"""The paper catalogue on disk: every stored paper, written once per store revision.

An engine used to read every paper's first chunk back from Chroma when it started (most of
its start on a large store: ~15 s at 100,000 chunks). Ingest now writes the papers of the
revision it is about to publish to one SQLite file, and engines read that instead.

Layout, beside the BM25 index and the sentence vectors and published the same way (one
folder per store revision, ``<cache>/papers/<collection>/<revision>/``):

- ``papers.sqlite``: table ``papers``, one row per paper in the store's order (its first
  chunk's id, and every field of :class:`~assistant.core.schema.Paper`), table ``facts``
  (the chunk count);
- ``index.json``: the sha256 of ``papers.sqlite`` and its counts; written last, so a
  folder without it is no catalogue.

The folder is written under a staging name and renamed into place before ingest publishes
the revision; the live revision's folder is kept until the next one, so engines starting
meanwhile find theirs. A missing or damaged catalogue (a store written by another process
or an earlier version, a bit flip) is built from the store once, and ``ingest --check``
compares the catalogue with the stored papers.

An ingest given the :class:`~assistant.core.changes.StoreChanges` it made copies the
previous revision's file and applies them (rows of removed first chunks deleted, written
first chunks read back from the store and written), instead of reading every paper.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from assistant.core.changes import StoreChanges
from assistant.core.revision_folders import file_digest, publish
from assistant.core.schema import OPTIONAL_FIELDS, Paper
from assistant.core.store import PaperStore, StoreError

log = logging.getLogger(__name__)

DATABASE = "papers.sqlite"
INDEX = "index.json"  # written last: its presence marks a complete folder
LAYOUT = 1
FIELDS = ("paper_id", "first_chunk", "title", "abstract", "sources", *OPTIONAL_FIELDS)
# Columns without a declared type keep what is stored as it is (a year as int or str).
SCHEMA = f"""
CREATE TABLE papers (
    position INTEGER PRIMARY KEY,
    paper_id TEXT NOT NULL UNIQUE,
    first_chunk TEXT NOT NULL UNIQUE,
    {", ".join(name for name in FIELDS[2:])}
);
CREATE TABLE facts (name TEXT PRIMARY KEY, value);
"""


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
        rows = cls._read_rows(folder)
        if rows is None:
            return None
        papers, chunks = rows
        return [paper for _, paper in papers], chunks

    @classmethod
    def _read_rows(cls, folder: Path) -> tuple[list[tuple[str, Paper]], int] | None:
        index = _index(folder)
        if index is None:
            return None
        database = folder / DATABASE
        _verify(folder, index)
        try:
            with _connect(database, read_only=True) as connection:
                rows = connection.execute(
                    f"SELECT {', '.join(FIELDS)} FROM papers ORDER BY position"
                ).fetchall()
                facts = dict(connection.execute("SELECT name, value FROM facts"))
            papers = [(row[1], _paper(row)) for row in rows]
            chunks = int(facts["chunks"])
        except (sqlite3.Error, KeyError, TypeError, ValueError) as error:
            raise DamagedPapers(f"paper catalogue at {folder}: unreadable ({error})") from error
        if len(papers) != index.get("papers") or chunks != index.get("chunks"):
            raise DamagedPapers(f"paper catalogue at {folder}: its counts disagree")
        return papers, chunks

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> tuple[list[Paper], int]:
        """(papers, chunk count) for the store's revision: the persisted catalogue, or,
        when it is missing, damaged or counts other chunks than the store, the papers
        read from the store (and persisted, when the cache can be written)."""
        folder = cls.folder(cache_dir, store)
        try:
            found = cls.read(folder)
        except DamagedPapers as error:
            log.warning("%s; reading the papers from the store", error)
            found = None
        chunks = store.count()
        if found is not None and found[1] == chunks:
            return found
        if found is not None:
            log.warning("paper catalogue at %s does not match the store; rebuilding it", folder)
        else:
            log.info(
                "no paper catalogue for revision %s of %s: building it",
                store.revision,
                store.name,
            )
        first = store.first_chunks()
        cls._persist_quietly(cache_dir, store, first, chunks, store.revision)
        return [paper for _, paper in first], chunks

    # --- writing --------------------------------------------------------------------
    @classmethod
    def refresh(
        cls,
        store: PaperStore,
        cache_dir: Path,
        revision: str | None = None,
        changes: StoreChanges | None = None,
    ) -> list[Paper]:
        """Write the catalogue of the store as it is now for ``revision`` (the one ingest
        is about to publish) and return its papers. With ``changes``, the previous
        revision's catalogue is updated when it is intact, instead of reading every paper."""
        chunks = store.count()
        first = cls._updated(store, cache_dir, changes) if changes is not None else None
        if first is None:
            first = store.first_chunks()
        cls._persist_quietly(cache_dir, store, first, chunks, revision or store.revision)
        return [paper for _, paper in first]

    @classmethod
    def ensure(cls, store: PaperStore, cache_dir: Path) -> int:
        """Write the catalogue for the store's revision when missing or damaged; returns
        how many papers it lists."""
        try:
            found = cls.read(cls.folder(cache_dir, store))
        except DamagedPapers as error:
            log.warning("%s; writing it again", error)
            found = None
        if found is None or found[1] != store.count():
            return len(cls.refresh(store, cache_dir))
        return len(found[0])

    @classmethod
    def _updated(
        cls, store: PaperStore, cache_dir: Path, changes: StoreChanges
    ) -> list[tuple[str, Paper]] | None:
        """The papers of the ``changes.base`` catalogue with ``changes`` applied; None when
        that catalogue is missing or damaged (the caller reads every paper instead)."""
        try:
            rows = cls._read_rows(cls.folder(cache_dir, store, changes.base))
        except DamagedPapers as error:
            log.warning("%s; reading every paper instead", error)
            return None
        if rows is None:
            return None
        papers = {chunk: paper for chunk, paper in rows[0] if chunk not in changes.removed}
        chunk_of = {paper.paper_id: chunk for chunk, paper in papers.items()}
        for chunk, paper in store.first_chunks(list(changes.written)):
            old = chunk_of.get(paper.paper_id)
            if old is not None and old != chunk:  # a new first chunk: the paper moves last
                del papers[old]
            papers[chunk] = paper  # a relabelled one keeps its place
            chunk_of[paper.paper_id] = chunk
        return list(papers.items())

    @classmethod
    def _persist_quietly(
        cls,
        cache_dir: Path,
        store: PaperStore,
        first: list[tuple[str, Paper]],
        chunks: int,
        revision: str,
    ) -> None:
        root = cls.root(cache_dir, store)
        try:
            live = [root / store.live_revision().split(":")[-1]]
        except StoreError:  # no live collection yet (a first --rebuild)
            live = []
        try:
            cls.write(root / revision, first, chunks, live)
        except (OSError, sqlite3.Error) as error:  # read-only cache: memory only
            log.warning("cannot persist the paper catalogue under %s (%s)", cache_dir, error)

    @staticmethod
    def write(
        target: Path, first: Iterable[tuple[str, Paper]], chunks: int, keep: Iterable[Path] = ()
    ) -> None:
        """Write atomically (staging folder, then rename) and drop the other revisions,
        except ``keep`` (the revision engines serve until the new one is published)."""
        with publish(target, keep) as staging:
            # One row per paper, where it first appears, as the last first chunk of it says
            # (an interrupted ingest can leave a paper two first chunks until the next one):
            # what a dict of the papers holds.
            papers = {paper.paper_id: (chunk, paper) for chunk, paper in first}
            with _connect(staging / DATABASE) as connection:
                connection.executescript(SCHEMA)
                marks = ", ".join("?" * len(FIELDS))
                rows = (_row(chunk, paper) for chunk, paper in papers.values())
                connection.executemany(
                    f"INSERT INTO papers ({', '.join(FIELDS)}) VALUES ({marks})", rows
                )
                count = connection.execute("SELECT count(*) FROM papers").fetchone()[0]
                connection.execute("INSERT INTO facts VALUES ('chunks', ?)", (chunks,))
                connection.commit()
            index = {
                "layout": LAYOUT,
                "papers": count,
                "chunks": chunks,
                "sha256": file_digest(staging / DATABASE),
            }
            (staging / INDEX).write_text(json.dumps(index))


def _connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = OFF")  # a staging file: all or nothing anyway
    connection.execute("PRAGMA synchronous = OFF")
    return connection


def _row(chunk: str, paper: Paper) -> tuple:
    return (
        paper.paper_id,
        chunk,
        paper.title,
        paper.abstract,
        json.dumps(paper.sources, ensure_ascii=False),
        *(getattr(paper, name) for name in OPTIONAL_FIELDS),
    )


def _paper(row: tuple) -> Paper:
    paper_id, _, title, abstract, sources, *optional = row
    return Paper(
        title=title,
        abstract=abstract,
        paper_id=paper_id,
        sources=list(json.loads(sources)),
        **dict(zip(OPTIONAL_FIELDS, optional, strict=True)),
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
        if file_digest(folder / DATABASE) != index.get("sha256"):
            raise DamagedPapers(f"paper catalogue at {folder}: {DATABASE} fails its checksum")
    except OSError as error:
        raise DamagedPapers(f"paper catalogue at {folder}: {DATABASE} unreadable") from error
