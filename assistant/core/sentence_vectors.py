"""Vectors of the abstracts' sentences, embedded once at ingest and persisted per revision.

The extractive answerer quotes the abstract sentences nearest a question. Embedding those
sentences on each question made every answer cost a model run over tens of sentences;
ingest now embeds each sentence once (the sentences :func:`quotable_sentences` finds, the
very ones the answerer ranks) and an answer costs one query embedding and a dot product.

Vectors are keyed by sentence text: a vector is right for its text whichever paper holds
it. A sentence's key is the first 8 bytes of its BLAKE2b hash, so the lookup is two arrays
an engine reads memory-mapped (no dictionary of every sentence in memory, no sentence list
parsed at start): a 64-bit key clashes with another sentence's with odds of about one in
a million at five million sentences, and a clash would only quote a sentence by the other
one's vector.

Layout, beside the BM25 index and published the same way (one folder per store revision,
``<cache>/sentences/<collection>/<revision>/``):

- ``segment-NNNN.npy``: float32 vectors, one row per sentence; the segments read in order
  form one matrix (NumPy's own format, read memory-mapped);
- ``keys.npy``: the sorted keys (uint64) and ``rows.npy`` each key's row in that matrix;
- ``index.json``: the embedding model and dimension, each file's sha256, size and
  modification time, and the counts of the last full build; written last, so a folder
  without it is no index.

**Incremental.** An ingest that changed a few papers splits only their abstracts, embeds
the sentences no key names yet into one new segment, and links the previous revision's
segments into the new folder (hard links: no copy; a copy where links fail). Sentences of
removed or rewritten abstracts keep their rows until a full build, which splits every
abstract again and writes one segment of the live sentences only: a ``--rebuild``, a
previous revision that is missing or of another model, more than :data:`MAX_SEGMENTS`
segments, or more rows than :data:`MAX_STALE_SHARE` over the live sentences the paper count
predicts.

The folder is written under a staging name and renamed into place before ingest publishes
the revision, so engines that notice a revision find its vectors ready, and a killed ingest
never leaves vectors out of step: a revision's folder holds a vector for every sentence of
that revision's abstracts or does not exist. An engine finding none (a store ingested by an
earlier version, a Chroma server ingested from another machine, a read-only cache) embeds
sentences on demand as before; ``python -m ingest`` stores them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.core.embeddings import Embedder, EmbeddingInfo
from assistant.core.revision_folders import file_record, intact, publish
from assistant.core.schema import Paper
from assistant.core.sentence_split import quotable_sentences
from assistant.core.store import PaperStore, StoreError

log = logging.getLogger(__name__)

INDEX = "index.json"  # written last: its presence marks a complete folder
KEYS = "keys.npy"
ROWS = "rows.npy"
LAYOUT = 2  # 1: one vectors.npy and the sentence texts in index.json (still read)
LEGACY_VECTORS = "vectors.npy"
# When an incremental update gives way to a full build (see the module's docstring): rows
# beyond the live sentences cost disk and nothing else, so a generous share is fine.
MAX_SEGMENTS = 32
MAX_STALE_SHARE = 0.5


class DamagedVectors(Exception):
    """A persisted sentence-vector folder that fails its checks; the message says why."""


def sentence_key(sentence: str) -> int:
    """The 64-bit key a sentence's vector is stored under."""
    return int.from_bytes(hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest())


def sentence_keys(sentences: Iterable[str]) -> np.ndarray:
    return np.fromiter(map(sentence_key, sentences), dtype=np.uint64)


def abstract_sentences(abstracts: Iterable[str]) -> tuple[list[str], int]:
    """The quotable sentences of ``abstracts``, each once, in order of appearance, and how
    many abstracts there were."""
    sentences: dict[str, None] = {}
    count = 0
    for count, abstract in enumerate(abstracts, 1):  # noqa: B007 (the count is the result)
        sentences.update(dict.fromkeys(quotable_sentences(abstract)))
    return list(sentences), count


class SentenceVectors:
    """Sentence → its vector, for one embedding model: sorted keys, each key's row, and the
    matrix as a list of segments (memory-mapped when read from disk)."""

    def __init__(
        self,
        info: EmbeddingInfo,
        keys: np.ndarray,
        rows: np.ndarray,
        segments: Sequence[np.ndarray],
        full_build: tuple[int, int] = (0, 0),
        records: dict[str, dict] | None = None,
    ):
        total = sum(len(segment) for segment in segments)
        if len(keys) != len(rows) or (len(rows) and int(rows.max()) >= total):
            raise ValueError(f"{len(keys)} keys and {len(rows)} rows for {total} vectors")
        for segment in segments:
            if segment.ndim != 2 or segment.shape[1] != info.dimension:
                raise ValueError(f"a {segment.shape} segment for {info.dimension} dims")
        self.info = info
        self.keys = keys
        self.row_of_key = rows
        self.segments = list(segments)
        self.starts = np.cumsum([0] + [len(segment) for segment in segments])
        # (papers, sentences) of the last full build: how many live sentences to expect
        self.full_build = full_build
        # the file records of segments read from disk, by file name (reused when linked)
        self.records = records or {}

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def total_rows(self) -> int:
        return int(self.starts[-1])

    def __contains__(self, sentence: object) -> bool:
        return isinstance(sentence, str) and self._row(sentence_key(sentence)) is not None

    def rows(self, sentences: Sequence[str]) -> list[np.ndarray | None]:
        """The stored vector of each sentence, None where none is stored."""
        return [self._vector(self._row(sentence_key(sentence))) for sentence in sentences]

    def missing(self, keys: np.ndarray) -> np.ndarray:
        """Which of ``keys`` no vector is stored under (a boolean per key)."""
        if not len(self.keys):
            return np.ones(len(keys), dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[at] != keys

    def _row(self, key: int) -> int | None:
        at = int(np.searchsorted(self.keys, np.uint64(key)))
        if at < len(self.keys) and int(self.keys[at]) == key:
            return int(self.row_of_key[at])
        return None

    def _vector(self, row: int | None) -> np.ndarray | None:
        if row is None:
            return None
        segment = int(np.searchsorted(self.starts, row, side="right")) - 1
        return np.asarray(self.segments[segment][row - self.starts[segment]])

    def _vectors_of(self, keys: np.ndarray) -> np.ndarray:
        """Vectors of keys known to be stored, one row each."""
        rows = np.asarray(self.row_of_key[np.searchsorted(self.keys, keys)])
        found = np.zeros((len(keys), self.info.dimension), dtype=np.float32)
        for segment, start in zip(self.segments, self.starts, strict=False):
            inside = (rows >= start) & (rows < start + len(segment))
            found[inside] = segment[rows[inside] - start]
        return found

    # --- building ---------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        abstracts: Iterable[str],
        embedder: Embedder,
        previous: SentenceVectors | None = None,
    ) -> tuple[SentenceVectors, int]:
        """A full build: the vectors of every quotable sentence of ``abstracts`` (one per
        paper) in one segment, and how many were embedded now (the rest come from
        ``previous``, when it is of the same model)."""
        sentences, papers = abstract_sentences(abstracts)
        keys = sentence_keys(sentences)
        keys, first = np.unique(keys, return_index=True)  # sorted; a clash keeps one
        sentences = [sentences[i] for i in first]
        reuse = previous if previous is not None and previous.info == embedder.info else None
        fresh = reuse.missing(keys) if reuse is not None else np.ones(len(keys), dtype=bool)
        matrix = np.zeros((len(keys), embedder.info.dimension), dtype=np.float32)
        if reuse is not None and (~fresh).any():
            matrix[~fresh] = reuse._vectors_of(keys[~fresh])
        rows = np.flatnonzero(fresh)
        matrix[rows] = embedder.embed_texts([sentences[r] for r in rows])
        full_build = (papers, len(keys))
        return cls(embedder.info, keys, np.arange(len(keys)), [matrix], full_build), len(rows)

    def updated(self, abstracts: Iterable[str], embedder: Embedder) -> tuple[SentenceVectors, int]:
        """These vectors plus those of the sentences of ``abstracts`` not stored yet (one
        new segment), and how many were embedded."""
        sentences, _ = abstract_sentences(abstracts)
        keys, first = np.unique(sentence_keys(sentences), return_index=True)
        fresh = self.missing(keys)
        new_keys = keys[fresh]
        new_sentences = [sentences[i] for i in first[fresh]]
        if not len(new_keys):
            return self, 0
        segment = embedder.embed_texts(new_sentences)
        keys = np.concatenate([self.keys, new_keys])
        rows = np.concatenate([self.row_of_key, self.total_rows + np.arange(len(new_keys))])
        order = np.argsort(keys, kind="stable")
        vectors = SentenceVectors(
            self.info,
            keys[order],
            rows[order],
            [*self.segments, segment],
            self.full_build,
            self.records,
        )
        return vectors, len(new_keys)

    def too_stale(self, papers: int) -> bool:
        """Whether to give way to a full build: too many segments, or more rows than the
        live sentences of ``papers`` papers (at the last full build's sentences per paper)
        by more than :data:`MAX_STALE_SHARE`."""
        built_papers, built_sentences = self.full_build
        if len(self.segments) >= MAX_SEGMENTS or not built_papers:
            return True
        expected = papers * built_sentences / built_papers
        return self.total_rows > (1 + MAX_STALE_SHARE) * expected

    # --- persistence, one folder per store revision -----------------------------------
    @staticmethod
    def root(cache_dir: Path, store: PaperStore) -> Path:
        """The folder holding one subfolder per revision, named by the live collection's
        name (which a rebuild's staging collection takes)."""
        return Path(cache_dir) / "sentences" / store.settings.collection

    @classmethod
    def folder(cls, cache_dir: Path, store: PaperStore, revision: str | None = None) -> Path:
        """Where the vectors for ``revision`` (default: the store's own) live."""
        return cls.root(cache_dir, store) / (revision or store.revision)

    def persist(self, target: Path, keep: Iterable[Path] = ()) -> None:
        """Write atomically (staging folder, then rename) and drop the other revisions,
        except ``keep`` (the revision engines serve until the new one is published).
        Segments read from another folder are linked, not copied, with their records."""
        with publish(target, keep) as staging:
            segments = []
            for number, segment in enumerate(self.segments):
                name = f"segment-{number:04d}.npy"
                source = getattr(segment, "filename", None)
                if source is not None and Path(source).is_file():
                    record = self.records.get(Path(source).name)
                    _link_or_copy(Path(source), staging / name)
                    if record is None or record.get("bytes") != (staging / name).stat().st_size:
                        record = file_record(staging / name)
                else:
                    np.save(staging / name, np.ascontiguousarray(segment, dtype=np.float32))
                    record = file_record(staging / name)
                segments.append({"name": name, "rows": len(segment), **record})
            np.save(staging / KEYS, np.ascontiguousarray(self.keys, dtype=np.uint64))
            np.save(staging / ROWS, np.ascontiguousarray(self.row_of_key, dtype=np.int64))
            index = {
                "layout": LAYOUT,
                "model": self.info.name,
                "dimension": self.info.dimension,
                "sentences": len(self.keys),
                "full_build": {"papers": self.full_build[0], "sentences": self.full_build[1]},
                "keys": file_record(staging / KEYS),
                "rows": file_record(staging / ROWS),
                "segments": segments,
            }
            (staging / INDEX).write_text(json.dumps(index), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> SentenceVectors | None:
        """The vectors persisted in ``folder``, checked; None when there are none there,
        :class:`DamagedVectors` when they fail their checksum or their shape."""
        try:
            index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise DamagedVectors(f"sentence vectors at {folder}: unreadable {INDEX}") from error
        try:
            info = EmbeddingInfo(name=str(index["model"]), dimension=int(index["dimension"]))
            if index.get("layout") != LAYOUT:
                return cls._read_legacy(folder, index, info)
            files = [(KEYS, index["keys"]), (ROWS, index["rows"])]
            files += [(segment["name"], segment) for segment in index["segments"]]
            for name, record in files:
                if not intact(folder / name, record):
                    raise DamagedVectors(f"sentence vectors at {folder}: {name} fails its checksum")
            load = lambda name: np.load(folder / name, mmap_mode="r", allow_pickle=False)  # noqa: E731
            full = index["full_build"]
            return cls(
                info,
                load(KEYS),
                load(ROWS),
                [load(segment["name"]) for segment in index["segments"]],
                (int(full["papers"]), int(full["sentences"])),
                {segment["name"]: segment for segment in index["segments"]},
            )
        except DamagedVectors:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DamagedVectors(f"sentence vectors at {folder}: {error}") from error

    @classmethod
    def _read_legacy(cls, folder: Path, index: dict, info: EmbeddingInfo) -> SentenceVectors:
        """A layout-1 folder (one matrix, the sentences' texts in the index): keyed now,
        so an engine uses it as it is and the next ingest updates it incrementally."""
        if not intact(folder / LEGACY_VECTORS, index):
            raise DamagedVectors(
                f"sentence vectors at {folder}: {LEGACY_VECTORS} fails its checksum"
            )
        matrix = np.load(folder / LEGACY_VECTORS, mmap_mode="r", allow_pickle=False)
        keys, first = np.unique(sentence_keys(index["sentences"]), return_index=True)
        return cls(info, keys, first, [matrix], (0, 0))  # (0, 0): a full build is due

    @classmethod
    def load(
        cls, store: PaperStore, cache_dir: Path, info: EmbeddingInfo
    ) -> SentenceVectors | None:
        """The vectors persisted for the store's revision, for the model ``info``; None
        (and a log line saying what that costs) when there are none usable."""
        folder = cls.folder(cache_dir, store)
        try:
            vectors = cls.read(folder)
        except DamagedVectors as error:
            log.warning("%s; sentences are embedded as questions need them", error)
            return None
        if vectors is None:
            log.info(
                "no sentence vectors stored for revision %s of %s: sentences are embedded as "
                "questions need them (`python -m ingest` stores them)",
                store.revision,
                store.name,
            )
            return None
        if vectors.info != info:
            log.warning(
                "sentence vectors at %s are of %s, not %s: not used", folder, vectors.info, info
            )
            return None
        return vectors

    @classmethod
    def refresh(
        cls,
        store: PaperStore,
        cache_dir: Path,
        embedder: Embedder,
        revision: str | None = None,
        papers: Callable[[], Iterable[Paper]] | None = None,
        *,
        base: str | None = None,
        written: Iterable[Paper] = (),
        paper_count: int = 0,
    ) -> int:
        """Build and persist the vectors of the store's abstracts for ``revision`` (the
        one ingest is about to publish), reusing those persisted before; returns how many
        sentences were embedded. The live revision's folder is kept: engines that start
        before the new revision is published still find theirs. A read-only cache only
        costs a warning: engines then embed on demand.

        ``papers``: gives the store's papers, when the caller has them (else they are read
        from the store). ``base``: the revision an ingest wrote ``written`` (papers) on top
        of, leaving ``paper_count`` papers: that revision's vectors are then updated with
        the written papers' sentences only, unless a full build is due (module docstring).
        """
        root = cls.root(cache_dir, store)
        vectors, embedded = None, 0
        previous = cls._readable(root / base) if base else None
        if (
            previous is not None
            and previous.info == embedder.info
            and not previous.too_stale(paper_count)
        ):
            vectors, embedded = previous.updated((paper.abstract for paper in written), embedder)
        if vectors is None:
            every = store.papers() if papers is None else papers()
            vectors, embedded = cls.build(
                (paper.abstract for paper in every), embedder, cls._previous(root)
            )
        try:
            live = [root / store.live_revision().split(":")[-1]]
        except StoreError:  # no live collection yet (a first --rebuild)
            live = []
        try:
            vectors.persist(cls.folder(cache_dir, store, revision), live)
        except OSError as error:
            log.warning("cannot persist sentence vectors under %s (%s)", cache_dir, error)
        return embedded

    @classmethod
    def ensure(cls, store: PaperStore, cache_dir: Path, embedder: Embedder) -> int:
        """Store the vectors for the store's revision when missing or damaged (a store
        ingested by a version that kept none); returns how many sentences were embedded."""
        try:
            if cls.read(cls.folder(cache_dir, store)) is not None:
                return 0
        except DamagedVectors as error:
            log.warning("%s; storing them again", error)
        log.info("storing the vectors of the abstracts' sentences for %s (once)", store.name)
        return cls.refresh(store, cache_dir, embedder)

    @staticmethod
    def _readable(folder: Path) -> SentenceVectors | None:
        try:
            return SentenceVectors.read(folder)
        except DamagedVectors as error:
            log.warning("%s; building them whole", error)
            return None

    @staticmethod
    def _previous(root: Path) -> SentenceVectors | None:
        """Any intact persisted vectors to reuse (newest first): keyed by text, a vector
        stays right whatever revision stored it."""
        if not root.is_dir():
            return None
        folders = [f for f in root.iterdir() if f.is_dir() and not f.name.startswith(".")]
        for folder in sorted(folders, key=lambda f: f.stat().st_mtime, reverse=True):
            try:
                vectors = SentenceVectors.read(folder)
            except DamagedVectors:
                continue
            if vectors is not None:
                return vectors
        return None


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to ``source`` (revision folders share unchanged segments), a copy where
    the file system refuses one."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        shutil.copystat(source, target)
