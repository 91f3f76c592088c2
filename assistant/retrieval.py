"""Hybrid retrieval: dense search in Chroma + BM25 over the same chunks, fused per paper.

Both legs are llama-index retrievers (``VectorIndexRetriever`` over ``ChromaVectorStore``,
``BM25Retriever``). Each leg's chunk hits are first collapsed to a paper ranking (a paper is
as good as its best chunk), then the two rankings are fused with weighted reciprocal rank
fusion. Fusing papers rather than chunks stops a paper with many chunks from crowding out
others. Fusion is either weighted reciprocal rank fusion or (the default) relative score
fusion, which keeps the size of a leg's lead: a BM25 hit on an exact figure like "77.4%
mIoU" scores far above the rest, and rank fusion would throw that margin away. The mode
and weights were tuned on ``eval/dev.jsonl``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from assistant.embeddings import Embedder
from ingest.chunking import SOURCE_SEPARATOR

# Tuned on eval/dev.jsonl (see README "Evaluation").
FUSION = "relative"  # "relative": cosine + saturated BM25 score; "rrf": rank fusion
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.5
BM25_HALF = 5.0  # the BM25 score that earns half the lexical weight
FIGURE_BONUS = 0.15  # for a paper whose abstract holds every figure the query names

_FIGURE = re.compile(r"\d+(?:\.\d+)?")


def query_figures(query: str) -> list[str]:
    """Numbers a user typed ("77.4", "102"); single digits are too common to count."""
    return [figure for figure in _FIGURE.findall(query) if len(figure) >= 2]


def holds_figures(text: str, figures: Sequence[str]) -> bool:
    """Whether every figure occurs in ``text`` as a number of its own (77.4 ≠ 177.45)."""
    return bool(figures) and all(
        re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d])", text) for figure in figures
    )


RRF_K = 10
CANDIDATE_CHUNKS = 60


@dataclass
class PaperRecord:
    """What the catalogue knows of a stored paper, rebuilt from its chunks."""

    paper_id: str
    title: str
    abstract: str
    sources: list[str]
    listing_date: str | None = None
    url: str | None = None
    chunks: list[str] = field(default_factory=list)


@dataclass
class PaperHit:
    """One paper in a ranking: its best passages and the evidence behind its score."""

    title: str
    score: float
    abstract: str
    sources: list[str]
    paper_id: str
    passages: list[str] = field(default_factory=list)
    dense_similarity: float = 0.0  # best chunk's cosine similarity to the query
    lexical_score: float = 0.0  # best chunk's BM25 score
    dense_rank: int | None = None
    lexical_rank: int | None = None
    listing_date: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "score": round(self.score, 6),
            "paper_id": self.paper_id,
            "abstract": self.abstract,
            "sources": self.sources,
            "passages": self.passages,
            "dense_similarity": round(self.dense_similarity, 4),
            "lexical_score": round(self.lexical_score, 4),
            "listing_date": self.listing_date,
            "url": self.url,
        }


def stitch_chunks(chunks: Sequence[str]) -> str:
    """Rebuild an abstract from overlapping chunks (the splitter overlaps whole sentences)."""
    if not chunks:
        return ""
    text = chunks[0]
    for chunk in chunks[1:]:
        overlap = 0
        for size in range(min(len(text), len(chunk)), 0, -1):
            if text.endswith(chunk[:size]):
                overlap = size
                break
        text = text + chunk[overlap:] if overlap else f"{text} {chunk}"
    return text


class PaperCatalog:
    """paper_id → title, abstract, sources: built once from the stored chunks."""

    def __init__(self, corpus: Iterable[dict[str, Any]]):
        grouped: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
        for entry in corpus:
            node = metadata_dict_to_node(entry)
            metadata = node.metadata
            grouped[metadata["paper_id"]].append(
                (int(metadata.get("chunk_index", 0)), node.get_content(), metadata)
            )
        self.papers: dict[str, PaperRecord] = {}
        for paper_id, parts in grouped.items():
            parts.sort(key=lambda part: part[0])
            metadata = parts[0][2]
            chunks = [text for _, text, _ in parts]
            self.papers[paper_id] = PaperRecord(
                paper_id=paper_id,
                title=metadata["title"],
                abstract=stitch_chunks(chunks),
                sources=[s for s in str(metadata.get("sources", "")).split(SOURCE_SEPARATOR) if s],
                listing_date=metadata.get("listing_date"),
                url=metadata.get("url"),
                chunks=chunks,
            )
        self.chunk_count = sum(len(p.chunks) for p in self.papers.values())
        self._by_title = {_title_key(p.title): p for p in self.papers.values()}

    def __len__(self) -> int:
        return len(self.papers)

    def by_title(self, title: str) -> PaperRecord | None:
        return self._by_title.get(_title_key(title))


def _title_key(title: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", title.casefold()).strip()


def _cosine_from_chroma(score: float | None) -> float:
    """llama-index's Chroma store reports exp(-cosine distance); recover the cosine."""
    if not score or score <= 0:
        return -1.0
    return 1.0 + math.log(score)


def _collapse(hits: Sequence[NodeWithScore]) -> dict[str, tuple[int, float, list[str]]]:
    """Chunk hits (best first) → paper_id → (paper rank, best score, passages best first)."""
    papers: dict[str, tuple[int, float, list[str]]] = {}
    for hit in hits:
        paper_id = hit.node.metadata.get("paper_id")
        if paper_id is None:
            continue
        if paper_id not in papers:
            papers[paper_id] = (len(papers) + 1, float(hit.score or 0.0), [hit.node.get_content()])
        else:
            rank, score, passages = papers[paper_id]
            passages.append(hit.node.get_content())
    return papers


class HybridRetriever:
    """Paper-level hybrid search over one Chroma collection and its BM25 index."""

    def __init__(
        self,
        collection: Any,
        embedder: Embedder,
        bm25: Any,
        catalog: PaperCatalog,
        *,
        candidate_chunks: int = CANDIDATE_CHUNKS,
        dense_weight: float = DENSE_WEIGHT,
        lexical_weight: float = LEXICAL_WEIGHT,
        rrf_k: int = RRF_K,
        fusion: str = FUSION,
    ):
        self.collection = collection
        self.embedder = embedder
        self.catalog = catalog
        self.vector_store = ChromaVectorStore(chroma_collection=collection)
        index = VectorStoreIndex.from_vector_store(self.vector_store, embed_model=embedder.model)
        self.candidate_chunks = min(candidate_chunks, max(1, catalog.chunk_count))
        self.dense = index.as_retriever(similarity_top_k=self.candidate_chunks)
        self.bm25 = bm25
        self.bm25.similarity_top_k = self.candidate_chunks
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        self.rrf_k = rrf_k
        self.fusion = fusion

    def search(
        self, query: str, k: int = 10, query_embedding: Sequence[float] | None = None
    ) -> list[PaperHit]:
        """The ``k`` best papers for ``query``, best first.

        Pass ``query_embedding`` when the caller needs the vector too (the extractive answer
        does), so the query is embedded once.
        """
        bundle = QueryBundle(
            query_str=query,
            embedding=list(query_embedding) if query_embedding is not None else None,
        )
        dense_hits = self.dense.retrieve(bundle)
        lexical_hits = [hit for hit in self.bm25.retrieve(bundle) if (hit.score or 0) > 0]
        return self.fuse(dense_hits, lexical_hits, k, query_figures(query))

    def fuse(
        self,
        dense_hits: Sequence[NodeWithScore],
        lexical_hits: Sequence[NodeWithScore],
        k: int,
        figures: Sequence[str] = (),
    ) -> list[PaperHit]:
        dense = _collapse(dense_hits)
        lexical = _collapse(lexical_hits)
        dense_part = self._leg_scores(dense, self.dense_weight, cosine=True)
        lexical_part = self._leg_scores(lexical, self.lexical_weight, cosine=False)
        # A paper outside the dense candidates is at most as similar as the last of them.
        dense_floor = min(dense_part.values(), default=0.0) if self.fusion != "rrf" else 0.0
        fused: list[PaperHit] = []
        for paper_id in dense.keys() | lexical.keys():
            record = self.catalog.papers.get(paper_id)
            if record is None:  # stored after this engine loaded its catalogue
                continue
            score = 0.0
            passages: list[str] = []
            hit = PaperHit(
                title=record.title,
                score=0.0,
                abstract=record.abstract,
                sources=record.sources,
                paper_id=paper_id,
                listing_date=record.listing_date,
                url=record.url,
            )
            if paper_id in dense:
                rank, raw, dense_passages = dense[paper_id]
                score += dense_part[paper_id]
                hit.dense_rank, hit.dense_similarity = rank, _cosine_from_chroma(raw)
                passages.extend(dense_passages)
            else:
                score += dense_floor
            if paper_id in lexical:
                rank, raw, lexical_passages = lexical[paper_id]
                score += lexical_part[paper_id]
                hit.lexical_rank, hit.lexical_score = rank, raw
                passages.extend(p for p in lexical_passages if p not in passages)
            if figures and self.fusion != "rrf" and holds_figures(record.abstract, figures):
                score += FIGURE_BONUS
            hit.score = score
            hit.passages = passages
            fused.append(hit)
        fused.sort(key=lambda h: (-h.score, -h.dense_similarity, h.title))
        return fused[:k]

    def _leg_scores(
        self, leg: dict[str, tuple[int, float, list[str]]], weight: float, *, cosine: bool
    ) -> dict[str, float]:
        """Each paper's weighted contribution from one leg, by the configured fusion.

        Relative fusion keeps scores on absolute scales (cosine similarity; BM25 squashed
        by s / (s + BM25_HALF)), so a fused score also says how relevant the best paper is:
        the engine's "not in the corpus" threshold is set on it.
        """
        if self.fusion == "rrf":
            return {pid: weight / (self.rrf_k + rank) for pid, (rank, _, _) in leg.items()}
        if cosine:
            return {pid: weight * _cosine_from_chroma(raw) for pid, (_, raw, _) in leg.items()}
        return {pid: weight * raw / (raw + BM25_HALF) for pid, (_, raw, _) in leg.items()}
