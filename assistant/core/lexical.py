"""The BM25 half of hybrid retrieval, persisted beside the vector store.

BM25 (llama-index's ``BM25Retriever`` over bm25s) is built from the very chunks stored in
Chroma, once per store revision, and saved under the cache directory; queries load it
once and never rebuild it. A store changed elsewhere (another process, a shared Chroma
server) carries a new revision id, which triggers one rebuild here.
"""

from __future__ import annotations

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
        starts = bm25.scores["indptr"]
        frequencies = {
            term: int(starts[index + 1] - starts[index])
            for term, index in bm25.vocab_dict.items()
            if index + 1 < len(starts)
        }
        return frequencies, int(bm25.scores["num_docs"])

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
        bm25 = self._retriever.bm25
        index = bm25.vocab_dict.get(term)
        starts = bm25.scores["indptr"]
        if index is None or index + 1 >= len(starts):
            return np.empty(0, dtype=np.int64)
        return bm25.scores["indices"][starts[index] : starts[index + 1]]

    def chunk_ids(self) -> set[str]:
        """The ids of the chunks this index was built from."""
        return {entry["node_id"] for entry in self._retriever.corpus}

    def retrieve(
        self, query: QueryBundle, top_k: int, allowed: Collection[str] | None = None
    ) -> list[NodeWithScore]:
        """Chunks sharing terms with the query, best first (zero scores left out).

        ``allowed``: only chunks of these paper ids are scored (a bm25s weight mask, so the
        ``top_k`` are the best allowed chunks, not the allowed few of the overall best).
        """
        if allowed is None:
            self._retriever.similarity_top_k = top_k
            return [hit for hit in self._retriever.retrieve(query) if (hit.score or 0) > 0]
        mask = self.mask(allowed)
        if not mask.any():
            return []
        return [hit for hit in self._masked(query, top_k, mask) if (hit.score or 0) > 0]

    def mask(self, allowed: Collection[str]) -> np.ndarray:
        """1.0 for each indexed chunk whose paper is allowed, else 0.0."""
        if self._paper_ids is None:
            self._paper_ids = np.array(
                [str(entry.get(PAPER_ID)) for entry in self._retriever.corpus]
            )
        return np.isin(self._paper_ids, list(allowed)).astype(np.float32)

    def _masked(self, query: QueryBundle, top_k: int, mask: np.ndarray) -> list[NodeWithScore]:
        """llama-index's ``BM25Retriever._retrieve`` with a weight mask for this call only
        (its own mask is a shared attribute; engines serve threads)."""
        retriever = self._retriever
        tokens = bm25s.tokenize(
            query.query_str,
            stemmer=None if retriever.skip_stemming else retriever.stemmer,
            token_pattern=retriever.token_pattern,
            show_progress=False,
        )
        k = min(top_k, len(mask))
        indexes, scores = retriever.bm25.retrieve(
            tokens, k=k, show_progress=False, weight_mask=mask
        )
        hits = []
        for index, score in zip(indexes[0], scores[0], strict=True):
            # bm25s hands back the corpus entry itself when it holds the corpus
            entry = index if isinstance(index, dict) else retriever.corpus[int(index)]
            hits.append(NodeWithScore(node=metadata_dict_to_node(entry), score=float(score)))
        return hits

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
        """Build the persisted index for this revision if it is missing; never loads it."""
        if not cls.folder(cache_dir, store).is_dir():
            cls.refresh(store, cache_dir)

    @classmethod
    def persisted(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex | None:
        """The persisted index for this revision as it is on disk; None when there is none."""
        target = cls.folder(cache_dir, store)
        if not target.is_dir():
            return None
        return cls(BM25Retriever.from_persist_dir(str(target), show_progress=False))

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> LexicalIndex:
        """The persisted index for this revision, or a fresh build when missing or stale."""
        target = cls.folder(cache_dir, store)
        if target.is_dir():
            try:
                return cls(BM25Retriever.from_persist_dir(str(target), show_progress=False))
            except Exception as error:  # a damaged cache is rebuilt, never fatal
                log.warning("BM25 cache at %s unreadable (%s); rebuilding", target, error)
        return cls.refresh(store, cache_dir)
