"""Vectors of the abstracts' sentences, embedded once at ingest and persisted per revision.

The extractive answerer quotes the abstract sentences nearest a question. Embedding those
sentences on each question made every answer cost a model run over tens of sentences;
ingest now embeds each sentence once (the sentences :func:`quotable_sentences` finds, the
very ones the answerer ranks) and an answer costs one query embedding and a dot product.

Layout, beside the BM25 index and published the same way (one folder per store revision,
``<cache>/sentences/<collection>/<revision>/``):

- ``vectors.npy``: float32, one row per sentence (NumPy's own format, read memory-mapped);
- ``index.json``: the embedding model and dimension, the sentences in row order, and the
  sha256, size and modification time of ``vectors.npy``; written last, so a folder without
  it is no index.

The folder is written under a staging name and renamed into place before ingest publishes
the revision, so engines that notice a revision find its vectors ready, and a killed ingest
never leaves vectors out of step: a revision's folder holds the sentences of that revision's
abstracts or does not exist. An engine finding none (a store ingested by an earlier version,
a Chroma server ingested from another machine, a read-only cache) embeds sentences on
demand as before; ``python -m ingest`` stores them.

Vectors are keyed by sentence text: a vector is right for its text whichever paper holds
it, so an ingest reuses every vector of the previous revision and embeds only new sentences.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.core.embeddings import Embedder, EmbeddingInfo
from assistant.core.revision_folders import file_record, intact, publish
from assistant.core.schema import Paper
from assistant.core.sentence_split import quotable_sentences
from assistant.core.store import PaperStore, StoreError

log = logging.getLogger(__name__)

VECTORS = "vectors.npy"
INDEX = "index.json"  # written last: its presence marks a complete folder
EMBED_BATCH = 256  # sentences per embedding call (each sorted by length: little padding)


class DamagedVectors(Exception):
    """A persisted sentence-vector folder that fails its checks; the message says why."""


class SentenceVectors:
    """Sentence text → its vector, for one embedding model."""

    def __init__(self, info: EmbeddingInfo, sentences: Sequence[str], matrix: np.ndarray):
        if matrix.shape != (len(sentences), info.dimension):
            raise ValueError(
                f"{len(sentences)} sentences but a {matrix.shape} matrix for {info.dimension} dims"
            )
        self.info = info
        self.sentences = list(sentences)
        self.matrix = matrix
        self._rows = {sentence: row for row, sentence in enumerate(self.sentences)}

    def __len__(self) -> int:
        return len(self.sentences)

    def __contains__(self, sentence: object) -> bool:
        return sentence in self._rows

    def rows(self, sentences: Sequence[str]) -> list[np.ndarray | None]:
        """The stored vector of each sentence, None where none is stored."""
        found = (self._rows.get(sentence) for sentence in sentences)
        return [None if row is None else self.matrix[row] for row in found]

    # --- building ---------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        abstracts: Iterable[str],
        embedder: Embedder,
        previous: SentenceVectors | None = None,
    ) -> tuple[SentenceVectors, int]:
        """The vectors of every quotable sentence of ``abstracts``, and how many were
        embedded now (the rest come from ``previous``, when it is of the same model)."""
        sentences = list(
            dict.fromkeys(s for abstract in abstracts for s in quotable_sentences(abstract))
        )
        reuse = previous if previous is not None and previous.info == embedder.info else None
        known = reuse.rows(sentences) if reuse is not None else [None] * len(sentences)
        matrix = np.zeros((len(sentences), embedder.info.dimension), dtype=np.float32)
        fresh: list[int] = []
        for row, vector in enumerate(known):
            if vector is None:
                fresh.append(row)
            else:
                matrix[row] = vector
        fresh.sort(key=lambda row: len(sentences[row]))  # similar lengths share a batch
        for start in range(0, len(fresh), EMBED_BATCH):
            batch = fresh[start : start + EMBED_BATCH]
            vectors = embedder.model.get_text_embedding_batch([sentences[r] for r in batch])
            matrix[batch] = np.asarray(vectors, dtype=np.float32)
        return cls(embedder.info, sentences, matrix), len(fresh)

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
        except ``keep`` (the revision engines serve until the new one is published)."""
        with publish(target, keep) as staging:
            np.save(staging / VECTORS, np.ascontiguousarray(self.matrix, dtype=np.float32))
            index = {
                "model": self.info.name,
                "dimension": self.info.dimension,
                **file_record(staging / VECTORS),
                "sentences": self.sentences,
            }
            (staging / INDEX).write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")

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
            if not intact(folder / VECTORS, index):
                raise DamagedVectors(f"sentence vectors at {folder}: {VECTORS} fails its checksum")
            matrix = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
            info = EmbeddingInfo(name=str(index["model"]), dimension=int(index["dimension"]))
            return cls(info, index["sentences"], matrix)
        except DamagedVectors:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DamagedVectors(f"sentence vectors at {folder}: {error}") from error

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
        papers: Iterable[Paper] | None = None,
    ) -> int:
        """Build and persist the vectors of the store's abstracts for ``revision`` (the
        one ingest is about to publish), reusing those persisted before; returns how many
        sentences were embedded. The live revision's folder is kept: engines that start
        before the new revision is published still find theirs. A read-only cache only
        costs a warning: engines then embed on demand. ``papers``: the store's papers,
        when the caller has them (else they are read from the store)."""
        root = cls.root(cache_dir, store)
        papers = store.papers() if papers is None else papers
        vectors, embedded = cls.build(
            (paper.abstract for paper in papers), embedder, cls._previous(root)
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
