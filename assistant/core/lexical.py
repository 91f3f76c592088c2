"""The BM25 half of hybrid retrieval, persisted beside the vector store.

BM25 (llama-index's ``BM25Retriever`` over bm25s) is built from the very chunks stored in
Chroma, once per store revision, and saved under the cache directory; queries load it
once and never rebuild it. A store changed elsewhere (another process, a shared Chroma
server) carries a new revision id, which triggers one rebuild here.

A persisted index is checked before it is used: a checksum of every file, written at
persist, then the shapes and bounds of its matrices and its size against the store. A
damaged one (a truncated ``corpus.jsonl``, a bit flip in a ``.npy`` matrix) would otherwise
fail every query, or answer wrongly; it is rebuilt instead, and ``ingest --check`` names it.

Beside bm25s's own files (score matrix, vocabulary, ``corpus.jsonl``) a persisted index
keeps the tokenised corpus (``tokens.npy``: each chunk's term ids, one after another;
``token_offsets.npy``: where each chunk's begin) and ``chunks.json`` (chunk and paper id of
each row). An ingest that knows what it wrote and removed
(:class:`~assistant.core.changes.StoreChanges`) updates the previous revision's index:
only the chunks it wrote are read from the store and tokenised (stemming and tokenising
are most of a build), the rows of removed ones are dropped, and the score matrix is
recomputed from the stored term ids, by bm25s's formula, so the scores are those a full
build gives. Builds and updates compute it from the flat arrays with NumPy
(:mod:`~assistant.core.bm25_matrix`), bit for bit what ``BM25.index`` gives, without
turning the corpus back into Python lists. Engines load the matrices memory-mapped and
read ``corpus.jsonl`` entries only for the hits they return (positional reads, not a
mapping: see :class:`_FileLines`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import convert_tokenized_to_string_list
from bm25s.utils import json_functions
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.core.bm25_matrix import EMPTY, bm25_index
from assistant.core.changes import StoreChanges
from assistant.core.revision_folders import file_record, intact, publish
from assistant.core.schema import PAPER_ID
from assistant.core.store import PaperStore, StoreError

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
STOPWORDS = "en"  # as llama-index's BM25Retriever removes them
CORPUS = "corpus.jsonl"  # one node (llama-index's metadata dict) per line, as bm25s writes it
CORPUS_INDEX = "corpus.mmindex.json"  # where each line starts, as bm25s writes it
TOKENS = "tokens.npy"  # int32 term ids of every chunk, one chunk after another
TOKEN_OFFSETS = "token_offsets.npy"  # int64, chunks + 1: where each chunk's ids begin
CHUNKS = "chunks.json"  # {"chunk_ids": [...], "paper_ids": [...]}, one per row
RETRIEVER = "retriever.json"  # llama-index's BM25Retriever arguments
SCORE_DATA = "data.csc.index.npy"  # the score matrix's values, as bm25s names the file
SCORE_INDICES = "indices.csc.index.npy"  # its rows (chunks), as bm25s names the file


def top_rows(scores: np.ndarray, k: int) -> list[int]:
    """The rows of the ``k`` highest scores, best first, equal scores by row (lowest first).

    bm25s partitions at ``-k`` (``np.argpartition(scores, -k)``), which NumPy does slowly
    when most scores are 0 or tied: 130 ms on a million chunks for a question of common
    words, two thirds of a search. Partitioning the negated scores at ``k`` selects the same
    values in 6 ms; rows tied with the ``k``-th score are then taken lowest first, so the
    choice among ties is defined rather than left to the partition.
    """
    if k <= 0 or not len(scores):
        return []
    if k < len(scores):
        kth = -np.partition(-scores, k - 1)[k - 1]  # the k-th highest score
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)[: k - len(above)]
        rows = np.concatenate([above, tied])
    else:
        rows = np.arange(len(scores))
    order = np.lexsort((rows, -scores[rows]))  # by score descending, then by row
    return [int(row) for row in rows[order]]


class DamagedIndex(Exception):
    """A persisted BM25 index that fails its checks; the message says which file or why."""


class _Lines:
    """A corpus held as its JSON lines (bytes): entries are parsed when read."""

    def __init__(self, lines: list[bytes]):
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def _line(self, index: int) -> bytes:
        return self._lines[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return json_functions.loads(self._line(index))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (json_functions.loads(line) for line in self.lines())

    def lines(self) -> Iterator[bytes]:
        return iter(self._lines)


class _FileLines(_Lines):
    """``corpus.jsonl`` read a line at a time, when a hit needs it, never the whole corpus
    (entries parsed as :class:`_Lines` parses them).

    Positional reads (``os.pread``: no shared file offset, so threads share the file), not
    a memory map: mapped pages count in the process's resident memory, and for each line
    read at random the kernel maps ~64 KB of cached file around it (~570 MB after 100
    searches of a million chunks, the whole 1.6 GB file in a long-running app). Read this
    way the lines stay in the page cache only; a read costs ~1 µs beside a slice's 0.2.
    """

    def __init__(self, path: Path, starts: Sequence[int]):
        self._file = path.open("rb", buffering=0)  # kept open: reads go on after an unlink
        self._ends = np.append(
            np.asarray(starts, dtype=np.int64), os.fstat(self._file.fileno()).st_size
        )

    def __len__(self) -> int:
        return len(self._ends) - 1

    def _line(self, index: int) -> bytes:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        start, end = int(self._ends[index]), int(self._ends[index + 1])
        return os.pread(self._file.fileno(), end - start, start)

    def lines(self) -> Iterator[bytes]:
        return (self._line(index) for index in range(len(self)))


class RowLookup:
    """The rows of a column of strings (chunk or paper ids) that hold given values, through
    the values' hashes (this process's ``hash``) sorted: 16 bytes a row, where a dict of the
    strings would take ~70 and a NumPy array of them, for ``np.isin``, ~130 at a million.
    Equal hashes of different strings are told apart by the column itself."""

    def __init__(self, column: Sequence[str]):
        self._column = column
        keys = np.fromiter((hash(value) for value in column), dtype=np.int64, count=len(column))
        self._rows = np.argsort(keys, kind="stable")
        self._keys = keys[self._rows]

    def rows_of(self, values: Collection[str]) -> np.ndarray:
        """The rows holding any of ``values``, ascending (one lookup for all of them)."""
        wanted = np.unique(np.fromiter((hash(v) for v in values), dtype=np.int64))
        first = np.searchsorted(self._keys, wanted, side="left")
        counts = np.searchsorted(self._keys, wanted, side="right") - first
        # every position from each value's first to its last: first + 0, 1, … count - 1
        starts = np.repeat(first - np.cumsum(counts) + counts, counts)
        rows = self._rows[starts + np.arange(int(counts.sum()))]
        asked = values if isinstance(values, set | frozenset) else set(values)
        column = self._column
        return np.sort(rows[[column[row] in asked for row in rows.tolist()]])


class LexicalIndex:
    """BM25 over the stored chunks; knows its own vocabulary (stemmed terms)."""

    def __init__(
        self,
        retriever: BM25Retriever,
        corpus: _Lines,
        chunk_ids: list[str],
        paper_ids: list[str],
        tokens: tuple[np.ndarray, np.ndarray],
    ):
        """``tokens``: (flat term ids, offsets) of each row, in the vocabulary's ids."""
        self._retriever = retriever
        self._corpus = corpus
        retriever.corpus = corpus  # the entries hits are read from
        self._chunk_ids = chunk_ids
        self._paper_list = paper_ids
        self._tokens = tokens

    def __len__(self) -> int:
        return len(self._chunk_ids)

    @classmethod
    def build(cls, nodes: list[TextNode], top_k: int = DEFAULT_TOP_K) -> LexicalIndex:
        """The index of ``nodes``: tokenised as llama-index's ``BM25Retriever`` does."""
        ids, vocabulary = _tokenize(nodes)
        flat, offsets = _flatten(ids)
        lines = [_line(node) for node in nodes]
        return cls._assemble(flat, offsets, vocabulary, lines, nodes, top_k)

    @classmethod
    def _assemble(
        cls,
        flat: np.ndarray,
        offsets: np.ndarray,
        vocabulary: dict[str, int],
        lines: list[bytes],
        rows: Sequence[TextNode | tuple[str, str]],
        top_k: int = DEFAULT_TOP_K,
    ) -> LexicalIndex:
        """bm25s's index of term ids ``flat``/``offsets`` over ``vocabulary`` (term → id,
        0 to n-1, no padding term): what ``BM25.index`` computes from a tokenised corpus,
        computed from the arrays (:func:`~assistant.core.bm25_matrix.bm25_index`).
        ``rows``: the nodes, or (chunk id, paper id) of each row."""
        bm25 = bm25_index(flat, offsets, vocabulary)
        retriever = BM25Retriever(
            existing_bm25=bm25,
            stemmer=Stemmer.Stemmer("english"),
            similarity_top_k=top_k,
            token_pattern=TOKEN_PATTERN,
        )
        chunk_ids, paper_ids = _row_ids(rows)
        return cls(retriever, _Lines(lines), chunk_ids, paper_ids, (flat, offsets))

    def updated(self, nodes: list[TextNode], removed: Collection[str]) -> LexicalIndex:
        """This index with the rows of ``removed`` dropped and ``nodes`` written: a chunk
        already indexed keeps its row, a new one is added last (as the store lists it).
        Only ``nodes`` are tokenised; the vocabulary keeps its ids, new terms are added
        after them, and terms no chunk holds any more are dropped (the ids closed up).

        The term ids stay in flat arrays throughout: each row is a (start, end) range, into
        the index's ``flat`` or, for a written chunk, into the ids of ``nodes`` placed after
        it, and the kept rows are copied out by :func:`_take_rows`."""
        vocabulary = {t: i for t, i in self._retriever.bm25.vocab_dict.items() if t != EMPTY}
        flat, offsets = self._tokens
        offsets = np.asarray(offsets, dtype=np.int64)
        lines = list(self._corpus.lines())
        rows = list(zip(self._chunk_ids, self._paper_list, strict=True))
        position = {chunk_id: row for row, chunk_id in enumerate(self._chunk_ids)}
        ids, local = _tokenize(nodes)
        terms = sorted(local, key=local.__getitem__)  # local ids: 0 to n-1
        to_global = np.array(
            [vocabulary.setdefault(term, len(vocabulary)) for term in terms], dtype=np.int32
        )
        written_flat, written_offsets = _flatten(ids)
        written_flat = to_global[written_flat]
        written_offsets += len(flat)  # the written ids follow the index's in one address space
        source: dict[int, int] = {}  # row → the entry of ``nodes`` that wrote it (the last)
        for entry, node in enumerate(nodes):
            row = position.get(node.id_)
            if row is None:
                row = position[node.id_] = len(rows)
                rows.append((node.id_, str(node.metadata.get(PAPER_ID))))
                lines.append(_line(node))
            else:
                rows[row] = (node.id_, str(node.metadata.get(PAPER_ID)))
                lines[row] = _line(node)
            source[row] = entry
        # each row's (start, end): its ids in the index, or those of the node that wrote it
        indexed = len(offsets) - 1
        starts = np.zeros(len(rows), dtype=np.int64)
        ends = np.zeros(len(rows), dtype=np.int64)
        starts[:indexed] = offsets[:-1]
        ends[:indexed] = offsets[1:]
        written_rows = np.fromiter(source.keys(), dtype=np.int64, count=len(source))
        written = np.fromiter(source.values(), dtype=np.int64, count=len(source))
        starts[written_rows] = written_offsets[written]
        ends[written_rows] = written_offsets[written + 1]
        kept = [row for row, (chunk_id, _) in enumerate(rows) if chunk_id not in removed]
        flat, offsets = _take_rows(
            np.concatenate([np.asarray(flat, dtype=np.int32), written_flat]),
            starts[kept],
            ends[kept],
        )
        flat, vocabulary = _compact(flat, vocabulary)
        return self._assemble(
            flat,
            offsets,
            vocabulary,
            [lines[row] for row in kept],
            [rows[row] for row in kept],
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
        both = _common_rows(self._chunks_with(first), self._chunks_with(second))
        if both.size > PHRASE_SCAN_LIMIT:
            return None
        found: set[str] = set()
        for index in both:
            entry = self._corpus[int(index)]
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
        return set(self._chunk_ids)

    def retrieve(
        self, query: QueryBundle, top_k: int, allowed: Collection[str] | None = None
    ) -> list[NodeWithScore]:
        """Chunks sharing terms with the query, best first (zero scores left out; equal
        scores by row).

        ``allowed``: only chunks of these paper ids are scored (a bm25s weight mask, so the
        ``top_k`` are the best allowed chunks, not the allowed few of the overall best).
        The mask is passed per call (the retriever's own mask is a shared attribute, and
        engines serve threads). Scores are bm25s's, as llama-index's ``BM25Retriever`` gives
        them from the same tokenizer settings; the best are picked by :func:`top_rows`.
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
        terms = convert_tokenized_to_string_list(tokens)[0]
        if not terms:
            return []
        scores = retriever.bm25.get_scores(terms, weight_mask=mask)
        return [
            NodeWithScore(node=metadata_dict_to_node(self._corpus[row]), score=float(scores[row]))
            for row in top_rows(scores, min(top_k, len(self._corpus)))
            if scores[row] > 0
        ]

    def nodes(self, chunk_ids: Sequence[str]) -> dict[str, TextNode]:
        """The indexed chunks among ``chunk_ids``, as nodes read from the corpus file (the
        dense leg's hits, which Chroma then need not read), in the order asked; ids not
        indexed are left out."""
        found = {
            self._chunk_ids[row]: row for row in self._rows_by_chunk.rows_of(chunk_ids).tolist()
        }
        return {
            chunk_id: metadata_dict_to_node(self._corpus[found[chunk_id]])
            for chunk_id in chunk_ids
            if chunk_id in found
        }

    def chunks_of(self, paper_ids: Collection[str]) -> dict[str, list[str]]:
        """paper id → the ids of its indexed chunks (in row order), for those of
        ``paper_ids`` indexed."""
        found: dict[str, list[str]] = {}
        for row in self._rows_by_paper.rows_of(paper_ids).tolist():
            found.setdefault(self._paper_list[row], []).append(self._chunk_ids[row])
        return found

    @cached_property
    def _rows_by_chunk(self) -> RowLookup:
        return RowLookup(self._chunk_ids)

    @cached_property
    def _rows_by_paper(self) -> RowLookup:
        return RowLookup(self._paper_list)

    def mask(self, allowed: Collection[str]) -> np.ndarray:
        """1.0 for each indexed chunk whose paper is allowed, else 0.0."""
        mask = np.zeros(len(self._paper_list), dtype=np.float32)
        mask[self._rows_by_paper.rows_of(allowed)] = 1.0
        return mask

    # --- persistence, one folder per store revision ----------------------------------
    @staticmethod
    def folder(cache_dir: Path, store: PaperStore, revision: str | None = None) -> Path:
        """Where the index for ``revision`` (default: the store's own) lives.

        Named by the live collection's name, which a rebuild's staging collection takes.
        """
        return Path(cache_dir) / "bm25" / store.settings.collection / (revision or store.revision)

    def persist(self, target: Path, keep: Iterable[Path] = ()) -> None:
        """Write atomically (staging folder, then rename) and drop the other revisions,
        except ``keep`` (the revision engines serve until the new one is published)."""
        with publish(target, keep) as staging:
            bm25 = self._retriever.bm25
            bm25.save(str(staging), corpus=None, show_progress=False)  # matrices, vocabulary
            starts, position = [], 0
            with (staging / CORPUS).open("wb") as handle:
                for line in self._corpus.lines():
                    starts.append(position)
                    handle.write(line)
                    position += len(line)
            (staging / CORPUS_INDEX).write_text(json.dumps(starts))
            retriever = self._retriever.get_persist_args()
            (staging / RETRIEVER).write_text(json.dumps(retriever, indent=2))
            chunks = {"chunk_ids": self._chunk_ids, "paper_ids": self._paper_list}
            (staging / CHUNKS).write_text(json.dumps(chunks, ensure_ascii=False))
            flat, offsets = self._tokens
            np.save(staging / TOKENS, np.ascontiguousarray(flat, dtype=np.int32))
            np.save(staging / TOKEN_OFFSETS, np.ascontiguousarray(offsets, dtype=np.int64))
            records = {file.name: file_record(file) for file in sorted(staging.iterdir())}
            (staging / CHECKSUMS).write_text(json.dumps(records, indent=1))

    @classmethod
    def refresh(
        cls,
        store: PaperStore,
        cache_dir: Path,
        revision: str | None = None,
        changes: StoreChanges | None = None,
    ) -> LexicalIndex:
        """Build the index from the store's chunks and persist it (if possible) for
        ``revision``: ingest builds it for the revision it is about to publish, so engines
        that notice the new revision find the index ready instead of building their own.
        With ``changes``, the index of ``changes.base`` is updated when it is intact
        (see the module docstring) instead of built from every stored chunk."""
        index = cls._updated(store, cache_dir, changes) if changes is not None else None
        if index is None:
            index = cls.build(store.chunk_nodes())
        try:
            live = [cls.folder(cache_dir, store, store.live_revision().split(":")[-1])]
        except StoreError:  # no live collection yet (a first --rebuild)
            live = []
        try:
            index.persist(cls.folder(cache_dir, store, revision), live)
        except OSError as error:  # read-only cache: keep the index in memory only
            log.warning("cannot persist BM25 index under %s (%s)", cache_dir, error)
        return index

    @classmethod
    def _updated(
        cls, store: PaperStore, cache_dir: Path, changes: StoreChanges
    ) -> LexicalIndex | None:
        """The index of ``changes.base`` with ``changes`` applied; None when that index is
        missing, damaged or of an older layout, or the result does not match the store
        (the caller builds it from every chunk instead)."""
        folder = cls.folder(cache_dir, store, changes.base)
        try:
            base = cls.read(folder)
        except DamagedIndex as error:
            log.warning("%s; building the BM25 index from every chunk", error)
            return None
        if base is None:
            return None
        nodes = store.chunk_nodes(list(changes.written))
        index = base.updated(nodes, changes.removed)
        if len(nodes) != len(changes.written) or len(index) != store.count():
            log.warning(
                "BM25 index of %s updated does not match the store; building it whole", store.name
            )
            return None
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
        return cls.read(cls.folder(cache_dir, store))

    @classmethod
    def read(cls, target: Path) -> LexicalIndex | None:
        """The index persisted in ``target`` (see :meth:`persisted`), its matrices
        memory-mapped, its corpus read by line when needed."""
        if not target.is_dir():
            return None
        digests = _check_digests(target)
        missing = sorted({CHUNKS, TOKENS, TOKEN_OFFSETS, CORPUS, CORPUS_INDEX} - digests.keys())
        if missing:
            raise DamagedIndex(
                f"BM25 index at {target} is of an older layout (no {', '.join(missing)})"
            )
        try:
            bm25 = bm25s.BM25.load(str(target), mmap=True, show_progress=False)
            retriever = BM25Retriever(
                existing_bm25=bm25,
                stemmer=Stemmer.Stemmer("english"),
                similarity_top_k=DEFAULT_TOP_K,
                token_pattern=TOKEN_PATTERN,
            )
            corpus = _FileLines(target / CORPUS, json.loads((target / CORPUS_INDEX).read_text()))
            chunks = json.loads((target / CHUNKS).read_text(encoding="utf-8"))
            tokens = (
                np.load(target / TOKENS, mmap_mode="r", allow_pickle=False),
                np.load(target / TOKEN_OFFSETS, mmap_mode="r", allow_pickle=False),
            )
            index = cls(retriever, corpus, chunks["chunk_ids"], chunks["paper_ids"], tokens)
        except Exception as error:  # unreadable despite its checksums: written by a bug
            raise DamagedIndex(f"BM25 index at {target} unreadable: {error}") from error
        problem = _validate(index, target)
        if problem:
            raise DamagedIndex(f"BM25 index at {target} damaged: {problem}")
        return index

    @classmethod
    def _usable(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex | None:
        """The persisted index if it passes its checks and indexes as many chunks as the
        store holds; None (with a warning when one was there) otherwise."""
        try:
            index = cls.persisted(store, cache_dir)
        except DamagedIndex as error:
            log.warning("%s; rebuilding it", error)
            return None
        if index is not None and len(index) != store.count():
            log.warning("BM25 index for %s does not match the store; rebuilding it", store.name)
            return None
        return index

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex:
        """The persisted index for this revision, or a fresh build when missing, stale or
        damaged (never fatal: the store holds everything it is built from). A fresh build
        is read back from where it was persisted (memory-mapped) when it could be."""
        usable = cls._usable(store, cache_dir)
        if usable is not None:
            return usable
        built = cls.refresh(store, cache_dir)
        try:
            return cls.persisted(store, cache_dir) or built
        except DamagedIndex:
            return built


def _common_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rows in both of two postings lists (each ascending, as the CSC matrix keeps
    them): the shorter looked up in the longer, instead of ``np.intersect1d``'s sort of
    both, which at a million chunks costs tens of ms for two common words."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if not len(short):
        return short
    at = np.minimum(np.searchsorted(long, short), len(long) - 1)
    return short[long[at] == short]


def _tokenize(nodes: Sequence[TextNode]) -> tuple[list[list[int]], dict[str, int]]:
    """Term ids of each node's text and the vocabulary (term → id): llama-index's
    ``BM25Retriever`` settings (the text as embedded: title and chunk; English stopwords
    dropped; Snowball English stemmer; :data:`TOKEN_PATTERN`)."""
    if not nodes:
        return [], {}
    tokenized = bm25s.tokenize(
        [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes],
        stopwords=STOPWORDS,
        stemmer=Stemmer.Stemmer("english"),
        token_pattern=TOKEN_PATTERN,
        show_progress=False,
    )
    return tokenized.ids, dict(tokenized.vocab)


def _flatten(documents: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(documents) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in documents], out=offsets[1:])
    flat = np.fromiter((t for d in documents for t in d), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def _take_rows(
    flat: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(term ids, offsets) of the rows ``flat[starts[i]:ends[i]]``, one after another.

    Rows whose ids follow each other in ``flat`` are copied as one slice: an update keeps
    most rows in place, so a handful of runs are copied, not a slice per row.
    """
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    if not len(starts):
        return np.empty(0, dtype=np.int32), offsets
    # a run begins at the first row and at each row not starting where the previous ended
    begins = np.flatnonzero(np.concatenate([[True], starts[1:] != ends[:-1]]))
    last_rows = np.append(begins[1:], len(starts)) - 1  # the last row of each run
    runs = [flat[start:end] for start, end in zip(starts[begins], ends[last_rows], strict=True)]
    return np.concatenate(runs).astype(np.int32, copy=False), offsets


def _compact(flat: np.ndarray, vocabulary: dict[str, int]) -> tuple[np.ndarray, dict[str, int]]:
    """Term ids renumbered 0…n-1 over the terms ``flat`` uses, keeping their order."""
    used = np.zeros(len(vocabulary), dtype=bool)
    used[flat] = True
    if used.all():
        return flat, vocabulary
    new_id = np.cumsum(used) - 1
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    kept = {term: int(new_id[i]) for i, term in enumerate(terms) if used[i]}
    return new_id[flat].astype(np.int32), kept


def _line(node: TextNode) -> bytes:
    """The node's ``corpus.jsonl`` line, as llama-index's retriever and bm25s write it."""
    entry = node_to_metadata_dict(node) | {"node_id": node.node_id}
    return (json_functions.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")


def _row_ids(rows: Sequence[TextNode | tuple[str, str]]) -> tuple[list[str], list[str]]:
    chunk_ids, paper_ids = [], []
    for row in rows:
        if isinstance(row, TextNode):
            row = (row.node_id, str(row.metadata.get(PAPER_ID)))
        chunk_ids.append(row[0])
        paper_ids.append(row[1])
    return chunk_ids, paper_ids


def _check_digests(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` as :meth:`LexicalIndex.persist` wrote it (their digests)."""
    try:
        expected = json.loads((folder / CHECKSUMS).read_text())
    except (OSError, ValueError) as error:
        raise DamagedIndex(
            f"BM25 index at {folder} has no readable {CHECKSUMS} ({type(error).__name__})"
        ) from error
    for name, record in sorted(expected.items()):
        try:
            if not intact(folder / name, record):
                raise DamagedIndex(f"BM25 index at {folder} damaged: {name} fails its checksum")
        except OSError as error:
            raise DamagedIndex(f"BM25 index at {folder} damaged: {name} unreadable") from error
    return expected


def _validate(index: LexicalIndex, folder: Path) -> str | None:
    """What is wrong with the structure of an index loaded from ``folder``, or None: what the
    checksums cannot vouch for (a file written wrong) must still never reach a query as an
    IndexError. The big arrays are scanned through mappings of their own (:func:`_scanned`)."""
    retriever = index._retriever
    scores = retriever.bm25.scores
    indptr = np.asarray(scores["indptr"])
    indices, data = _scanned(folder / SCORE_INDICES), _scanned(folder / SCORE_DATA)
    if (len(indices), len(data)) != (len(scores["indices"]), len(scores["data"])):
        return "its matrices changed while it was read"
    documents = int(scores["num_docs"] or 0)
    if len(index._corpus) != documents:
        return f"corpus.jsonl holds {len(index._corpus)} chunks, the matrix {documents}"
    if not len(index._chunk_ids) == len(index._paper_list) == documents:
        return f"{CHUNKS} lists other chunks than the matrix"
    terms = [term_id for term, term_id in retriever.bm25.vocab_dict.items() if term]  # "": pad
    if (terms and max(terms) >= len(indptr) - 1) or len(indices) != len(data):
        return "its matrices disagree in size"
    if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        return "its term offsets are out of order"
    if len(indices) and (indices.min() < 0 or indices.max() >= documents):
        return "it points at chunks that do not exist"
    if not np.all(np.isfinite(data)):
        return "its scores are not finite"
    flat, offsets = _scanned(folder / TOKENS), index._tokens[1]
    if len(flat) != len(index._tokens[0]):
        return f"{TOKENS} changed while it was read"
    if len(offsets) != documents + 1 or offsets[0] != 0 or offsets[-1] != len(flat):
        return f"{TOKEN_OFFSETS} does not match the chunks"
    if np.any(np.diff(offsets) < 0) or (len(flat) and (flat.min() < 0 or flat.max() >= len(terms))):
        return f"{TOKENS} holds term ids out of bounds"
    return None


def _scanned(path: Path) -> np.ndarray:
    """The array in ``path`` mapped for one whole scan by :func:`_validate`, apart from the
    index's own mapping of it: scanning that one would leave every page of the file in the
    process's resident memory (~630 MB at a million chunks for the score matrix and the term
    ids) where queries touch only the postings they read. This mapping and its pages go when
    the scan drops the array."""
    return np.load(path, mmap_mode="r", allow_pickle=False)
