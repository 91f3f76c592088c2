"""The BM25 half of hybrid retrieval, persisted beside the vector store.

BM25 (llama-index's ``BM25Retriever`` over bm25s) is built from the very chunks stored in
Chroma, once per store revision, and saved under the cache directory; queries load it
once and never rebuild it. A store changed elsewhere (another process, a shared Chroma
server) carries a new revision id, which triggers one rebuild here.

A persisted index is checked before it is used: a checksum of every file, written at
persist, then the shapes and bounds of its matrices and its size against the store. A
damaged one (a truncated ``corpus.jsonl``, a bit flip in a ``.npy`` matrix) would otherwise
fail every query, or answer wrongly; it is rebuilt instead, and ``ingest --check`` names it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.core.schema import PAPER_ID
from assistant.core.store import PaperStore

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG

# Keep decimals ("77.4") and short alphanumerics ("8B", "3D") as single tokens: users type
# exact figures and acronyms and expect them to match.
TOKEN_PATTERN = r"(?u)\d+(?:[.,]\d+)+|\b\w\w+\b|\b\d\b"
DEFAULT_TOP_K = 50
# Chunks holding both words of a phrase that ``papers_with_phrase`` reads, at most: more,
# and the phrase counts as common parlance without reading them.
PHRASE_SCAN_LIMIT = 200
CHECKSUMS = "checksums.json"  # sha256 of every file of a persisted index, written last


class DamagedIndex(Exception):
    """A persisted BM25 index that fails its checks; the message says which file or why."""


class LexicalIndex:
    """BM25 over the stored chunks; knows its own vocabulary (stemmed terms)."""

    def __init__(self, retriever: BM25Retriever):
        self._retriever = retriever
        self._paper_ids: np.ndarray | None = None  # per indexed chunk, for filter masks

    @classmethod
    def build(cls, nodes: list[TextNode], top_k: int = DEFAULT_TOP_K) -> LexicalIndex:
        return cls(
            BM25Retriever.from_defaults(
                nodes=nodes,
                stemmer=Stemmer.Stemmer("english"),
                language="en",
                similarity_top_k=top_k,
                token_pattern=TOKEN_PATTERN,
            )
        )

    def term_frequencies(self) -> tuple[dict[str, int], int]:
        """(term → chunks containing it, number of chunks), terms as BM25 indexed them
        (lower-cased, stemmed): the corpus vocabulary, read from the index's postings."""
        bm25 = self._retriever.bm25
        counts = np.diff(self._postings()[0])
        frequencies = {
            term: int(counts[index])
            for term, index in bm25.vocab_dict.items()
            if index < len(counts)
        }
        return frequencies, int(bm25.scores["num_docs"])

    def _postings(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, indices) of the index's term × chunk matrix in CSC form.

        bm25s has no call for a term's postings, so this reads the arrays it documents as
        its saved score matrix (``BM25.load_scores``); :func:`_validate` has checked them.
        """
        scores = self._retriever.bm25.scores
        return scores["indptr"], scores["indices"]

    def papers_with_phrase(
        self, first: str, second: str, terms: Callable[[str], list[str]], limit: int
    ) -> set[str] | None:
        """The papers whose chunks use the indexed terms ``first`` then ``second`` next to
        each other (as ``terms`` reads a text: "graph neural" in "graph neural networks").

        Only the chunks the index lists under both terms are read (their postings are
        intersected first), not the corpus. None when more than ``limit`` papers use the
        phrase, or more than PHRASE_SCAN_LIMIT chunks hold both words: taken as common
        parlance without reading them. That cap counts chunks, not papers using the phrase,
        so on a corpus far larger than this one, a pair of common words that co-occur in
        many chunks is skipped even when few papers write them side by side.
        """
        both = np.intersect1d(self._chunks_with(first), self._chunks_with(second))
        if both.size > PHRASE_SCAN_LIMIT:
            return None
        found: set[str] = set()
        for index in both:
            entry = self._retriever.corpus[int(index)]
            text = f"{entry.get('title', '')}. {metadata_dict_to_node(entry).get_content()}"
            words = terms(text)
            if (first, second) in zip(words, words[1:]):
                found.add(str(entry.get(PAPER_ID)))
                if len(found) > limit:
                    return None
        return found

    def _chunks_with(self, term: str) -> np.ndarray:
        """Positions of the indexed chunks that hold ``term`` (its postings)."""
        index = self._retriever.bm25.vocab_dict.get(term)
        starts, chunks = self._postings()
        if index is None or index + 1 >= len(starts):
            return np.empty(0, dtype=np.int64)
        return chunks[starts[index] : starts[index + 1]]

    def chunk_ids(self) -> set[str]:
        """The ids of the chunks this index was built from."""
        return {entry["node_id"] for entry in self._retriever.corpus}

    def retrieve(
        self, query: QueryBundle, top_k: int, allowed: Collection[str] | None = None
    ) -> list[NodeWithScore]:
        """Chunks sharing terms with the query, best first (zero scores left out).

        ``allowed``: only chunks of these paper ids are scored (a bm25s weight mask, so the
        ``top_k`` are the best allowed chunks, not the allowed few of the overall best).
        The mask is passed per call to bm25s's ``retrieve`` (the retriever's own mask is a
        shared attribute, and engines serve threads); scores are what llama-index's
        ``BM25Retriever`` gives, from the same tokenizer settings.
        """
        mask = None
        if allowed is not None:
            mask = self.mask(allowed)
            if not mask.any():
                return []
        retriever = self._retriever
        tokens = bm25s.tokenize(
            query.query_str,
            stemmer=None if retriever.skip_stemming else retriever.stemmer,
            token_pattern=retriever.token_pattern,
            show_progress=False,
        )
        entries, scores = retriever.bm25.retrieve(
            tokens,
            corpus=retriever.corpus,
            k=min(top_k, len(retriever.corpus)),
            show_progress=False,
            weight_mask=mask,
        )
        return [
            NodeWithScore(node=metadata_dict_to_node(entry), score=float(score))
            for entry, score in zip(entries[0], scores[0], strict=True)
            if score > 0
        ]

    def mask(self, allowed: Collection[str]) -> np.ndarray:
        """1.0 for each indexed chunk whose paper is allowed, else 0.0."""
        if self._paper_ids is None:
            self._paper_ids = np.array(
                [str(entry.get(PAPER_ID)) for entry in self._retriever.corpus]
            )
        return np.isin(self._paper_ids, list(allowed)).astype(np.float32)

    # --- persistence, one folder per store revision ----------------------------------
    @staticmethod
    def folder(cache_dir: Path, store: PaperStore, revision: str | None = None) -> Path:
        """Where the index for ``revision`` (default: the store's own) lives.

        Named by the live collection's name, which a rebuild's staging collection takes.
        """
        return Path(cache_dir) / "bm25" / store.settings.collection / (revision or store.revision)

    def persist(self, target: Path) -> None:
        """Write atomically (staging folder, then rename) and drop older revisions."""
        root = target.parent
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        self._retriever.persist(str(staging), show_progress=False)  # a cache write: no bar
        digests = {file.name: _digest(file) for file in sorted(staging.iterdir())}
        (staging / CHECKSUMS).write_text(json.dumps(digests, indent=1))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        for old in root.iterdir():  # older revisions and abandoned staging folders
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def refresh(
        cls, store: PaperStore, cache_dir: Path, revision: str | None = None
    ) -> LexicalIndex:
        """Build the index from the store's chunks and persist it (if possible) for
        ``revision``: ingest builds it for the revision it is about to publish, so engines
        that notice the new revision find the index ready instead of building their own."""
        index = cls.build(store.chunk_nodes())
        try:
            index.persist(cls.folder(cache_dir, store, revision))
        except OSError as error:  # read-only cache: keep the index in memory only
            log.warning("cannot persist BM25 index under %s (%s)", cache_dir, error)
        return index

    @classmethod
    def ensure(cls, store: PaperStore, cache_dir: Path) -> None:
        """Build the persisted index for this revision if it is missing or damaged."""
        if cls._usable(store, cache_dir) is None:
            cls.refresh(store, cache_dir)

    @classmethod
    def persisted(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex | None:
        """The persisted index for this revision, checked (:class:`DamagedIndex` when its
        files fail their checksums or its matrices their shapes and bounds); None when
        there is none. Which chunks it holds is the caller's to compare."""
        target = cls.folder(cache_dir, store)
        if not target.is_dir():
            return None
        _check_digests(target)
        try:
            retriever = BM25Retriever.from_persist_dir(str(target), show_progress=False)
        except Exception as error:  # unreadable despite its checksums: written by a bug
            raise DamagedIndex(f"BM25 index at {target} unreadable: {error}") from error
        problem = _validate(retriever)
        if problem:
            raise DamagedIndex(f"BM25 index at {target} damaged: {problem}")
        return cls(retriever)

    @classmethod
    def _usable(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex | None:
        """The persisted index if it passes its checks and indexes as many chunks as the
        store holds; None (with a warning when one was there) otherwise."""
        try:
            index = cls.persisted(store, cache_dir)
        except DamagedIndex as error:
            log.warning("%s; rebuilding it", error)
            return None
        if index is not None and len(index._retriever.corpus) != store.count():
            log.warning("BM25 index for %s does not match the store; rebuilding it", store.name)
            return None
        return index

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex:
        """The persisted index for this revision, or a fresh build when missing, stale or
        damaged (never fatal: the store holds everything it is built from)."""
        return cls._usable(store, cache_dir) or cls.refresh(store, cache_dir)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _check_digests(folder: Path) -> None:
    """Every file of ``folder`` as :meth:`LexicalIndex.persist` wrote it."""
    try:
        expected = json.loads((folder / CHECKSUMS).read_text())
    except (OSError, ValueError) as error:
        raise DamagedIndex(
            f"BM25 index at {folder} has no readable {CHECKSUMS} ({type(error).__name__})"
        ) from error
    for name, digest in sorted(expected.items()):
        try:
            if _digest(folder / name) != digest:
                raise DamagedIndex(f"BM25 index at {folder} damaged: {name} fails its checksum")
        except OSError as error:
            raise DamagedIndex(f"BM25 index at {folder} damaged: {name} unreadable") from error


def _validate(retriever: BM25Retriever) -> str | None:
    """What is wrong with a loaded index's structure, or None: what the checksums cannot
    vouch for (a file written wrong) must still never reach a query as an IndexError."""
    scores = retriever.bm25.scores
    indptr, indices, data = (np.asarray(scores[key]) for key in ("indptr", "indices", "data"))
    documents = int(scores["num_docs"] or 0)
    if len(retriever.corpus) != documents:
        return f"corpus.jsonl holds {len(retriever.corpus)} chunks, the matrix {documents}"
    terms = [index for term, index in retriever.bm25.vocab_dict.items() if term]  # "": padding
    if (terms and max(terms) >= len(indptr) - 1) or len(indices) != len(data):
        return "its matrices disagree in size"
    if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        return "its term offsets are out of order"
    if len(indices) and (indices.min() < 0 or indices.max() >= documents):
        return "it points at chunks that do not exist"
    if not np.all(np.isfinite(data)):
        return "its scores are not finite"
    return None
