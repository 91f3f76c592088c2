"""Hybrid retrieval: dense search in Chroma + BM25 over the same chunks, fused per paper.

Both legs are llama-index retrievers (``VectorIndexRetriever`` over the store's
``ChromaVectorStore``; BM25 from ``assistant.core.lexical``). Each leg's chunk hits are
first collapsed to a paper ranking (a paper is as good as its best chunk); fusing papers
rather than chunks stops a paper with many chunks from crowding out others.

The two paper rankings are fused by score, not by rank: cosine similarity plus a saturated
BM25 score (s / (s + BM25_HALF)), plus a bonus for a paper whose abstract holds every
figure the query names. Rank fusion would throw away the size of a leg's lead — a BM25
hit on an exact figure like "77.4% mIoU" scores far above the rest — and scores on fixed
scales also say how relevant the best paper is. Each hit carries two: ``score`` orders
the papers (weights tuned on ``eval/dev.jsonl``), ``relevance`` is the same sum on the
fixed scale the relevance gate's thresholds were calibrated on, so the ranking can be
re-tuned without moving what counts as relevant.

Filters (``assistant.filters``) reach both legs as one set of allowed paper ids: the dense
leg sends it to Chroma as a ``where`` (``paper_id`` ``$in`` the set), and BM25 scores only
the chunks of those papers (a bm25s weight mask), so each leg ranks within the allowed
papers instead of filtering its top candidates afterwards, which would lose every allowed
paper ranked below them. No filter takes exactly the unfiltered path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from assistant.catalog import PaperCatalog
from assistant.core.embeddings import Embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.schema import PAPER_ID
from assistant.vocabulary import STOPWORDS

# Ranking: the order of papers. Tuned on eval/dev.jsonl (see README "Evaluation").
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.8
BM25_HALF = 12.0  # the BM25 score that earns half the lexical weight
# Relevance: the fixed scale the absolute thresholds are calibrated on (the relevance gate,
# the conversation's confident switch, the answerers' floor), cosine + 0.5 · s / (s + 5).
# Kept apart from the ranking weights, so re-tuning the order does not move what counts as
# relevant enough to answer.
RELEVANCE_LEXICAL_WEIGHT = 0.5
RELEVANCE_BM25_HALF = 5.0
FIGURE_BONUS = 0.15  # for a paper whose abstract holds every figure the query names
CANDIDATE_CHUNKS = 60  # chunks each leg retrieves before collapsing them to papers

_FIGURE = re.compile(r"\d+(?:\.\d+)?")

# A request for papers that opens a question ("Which papers …", "Is there work that …",
# "List the studies on …") says what kind of answer is wanted, not what it is about: left in,
# "papers" and "study" count as BM25 terms and pull the embedding toward papers that talk
# about studies. Measured on eval/dev.jsonl: topic recall@10 0.930 → 0.953, paraphrase
# ranking unchanged.
_KIND = (
    r"(?:papers?|works?|stud(?:y|ies)|articles?|publications?|methods?|approach(?:es)?|techniques?)"
)
_REQUEST_FOR_PAPERS = re.compile(
    rf"^\s*(?:(?:which|what)\s+(?:other\s+)?{_KIND}"
    rf"|(?:is|are)\s+there\s+(?:any\s+|a\s+|an\s+)?{_KIND}"
    rf"|(?:does|do)\s+any\s+{_KIND}"
    rf"|(?:please\s+)?(?:find|list|show|name|give)(?:\s+me)?(?:\s+(?:the|all|any|some))?\s+{_KIND}"
    rf")(?:\s+(?:in\s+the\s+corpus|here))?(?:\s+(?:that|which|on|about))?\s+",
    re.IGNORECASE,
)


def query_figures(query: str) -> list[str]:
    """Numbers a user typed ("77.4", "102"); single digits are too common to count."""
    return [figure for figure in _FIGURE.findall(query) if len(figure) >= 2]


def search_text(query: str) -> str:
    """What both legs search for: the query without an opening request for papers (as
    asked when nothing but stopwords would be left: "Which papers are there?")."""
    focused = _REQUEST_FOR_PAPERS.sub("", query, count=1)
    words = (word.lower() for word in re.findall(r"\w+", focused))
    return focused if any(word not in STOPWORDS for word in words) else query


def holds_figures(text: str, figures: Sequence[str]) -> bool:
    """Whether every figure occurs in ``text`` as a number of its own (77.4 ≠ 177.45)."""
    return bool(figures) and all(
        re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d])", text) for figure in figures
    )


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
    relevance: float | None = None  # the score on the relevance scale (set by ``fuse``)
    listing_date: str | None = None
    url: str | None = None

    @property
    def gate_score(self) -> float:
        """What absolute thresholds compare: ``relevance``, or ``score`` for a hit built
        by hand."""
        return self.score if self.relevance is None else self.relevance

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


def _cosine_from_chroma(score: float | None) -> float:
    """llama-index's Chroma store reports exp(-cosine distance); recover the cosine."""
    if not score or score <= 0:
        return -1.0
    return 1.0 + math.log(score)


def _collapse(hits: Sequence[NodeWithScore]) -> dict[str, tuple[float, list[str]]]:
    """Chunk hits (best first) → paper_id → (best chunk's score, passages best first)."""
    papers: dict[str, tuple[float, list[str]]] = {}
    for hit in hits:
        paper_id = hit.node.metadata.get(PAPER_ID)
        if paper_id is None:
            continue
        if paper_id not in papers:
            papers[paper_id] = (float(hit.score or 0.0), [hit.node.get_content()])
        else:
            papers[paper_id][1].append(hit.node.get_content())
    return papers


class HybridRetriever:
    """Paper-level hybrid search over the store's vectors and its BM25 index."""

    def __init__(
        self,
        vector_store: Any,
        embedder: Embedder,
        lexical: LexicalIndex,
        catalog: PaperCatalog,
        *,
        candidate_chunks: int = CANDIDATE_CHUNKS,
    ):
        self.embedder = embedder
        self.lexical = lexical
        self.catalog = catalog
        self.index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embedder.model)
        self.candidate_chunks = min(candidate_chunks, max(1, catalog.chunk_count))
        self.dense = self.index.as_retriever(similarity_top_k=self.candidate_chunks)

    def search(
        self,
        query: str,
        k: int = 10,
        query_embedding: Sequence[float] | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[PaperHit]:
        """The ``k`` best papers for ``query``, best first.

        Pass ``query_embedding`` (from :meth:`query_vector`) when the caller needs the
        vector too (the extractive answer does), so the query is embedded once.
        ``allowed``: the only paper ids either leg may return (``PaperCatalog.matching``);
        None searches everything, an empty set finds nothing without searching.
        """
        if allowed is not None and not allowed:
            return []
        bundle = QueryBundle(
            query_str=search_text(query),
            embedding=list(query_embedding) if query_embedding is not None else None,
        )
        dense_hits = self.dense_retrieve(bundle, allowed)
        lexical_hits = self.lexical.retrieve(bundle, self.candidate_chunks, allowed)
        return fuse(self.catalog, dense_hits, lexical_hits, k, query_figures(query))

    def query_vector(self, query: str) -> list[float]:
        """The embedding :meth:`search` searches with: of ``search_text(query)``."""
        return self.embedder.model.get_query_embedding(search_text(query))

    def dense_retrieve(
        self, bundle: QueryBundle, allowed: Collection[str] | None = None
    ) -> list[NodeWithScore]:
        """The dense leg: chunks nearest the query, among the ``allowed`` papers' chunks
        only when given (Chroma applies the ``where`` inside its search)."""
        if allowed is None:
            return self.dense.retrieve(bundle)
        if not allowed:
            return []
        where = MetadataFilters(
            filters=[
                MetadataFilter(key=PAPER_ID, value=sorted(allowed), operator=FilterOperator.IN)
            ]
        )
        retriever = self.index.as_retriever(similarity_top_k=self.candidate_chunks, filters=where)
        return retriever.retrieve(bundle)

    def nearest_papers(
        self, text: str, allowed: Collection[str] | None = None, include: Collection[str] = ()
    ) -> dict[str, float]:
        """paper_id → its best chunk's cosine similarity to ``text``, for the papers among
        the dense leg's candidates and for those ``include`` names (however far). The
        premise checks ask it which paper a part of a question is about."""
        vector = self.embedder.model.get_query_embedding(text)
        bundle = QueryBundle(query_str=text, embedding=vector)
        found = _collapse(self.dense_retrieve(bundle, allowed))
        if missing := [paper_id for paper_id in include if paper_id not in found]:
            found.update(_collapse(self.dense_retrieve(bundle, missing)))
        return {paper_id: _cosine_from_chroma(raw) for paper_id, (raw, _) in found.items()}


def fuse(
    catalog: PaperCatalog,
    dense_hits: Sequence[NodeWithScore],
    lexical_hits: Sequence[NodeWithScore],
    k: int,
    figures: Sequence[str] = (),
) -> list[PaperHit]:
    """Two chunk rankings → one paper ranking by fused score (see the module docstring).

    Dense scores are llama-index's Chroma scores (exp(-cosine distance)); lexical scores
    are raw BM25. A paper only BM25 found is as similar as the last dense candidate.
    """
    dense = {
        pid: (_cosine_from_chroma(raw), passages)
        for pid, (raw, passages) in _collapse(dense_hits).items()
    }
    lexical = _collapse(lexical_hits)
    dense_floor = min((cosine for cosine, _ in dense.values()), default=0.0)
    fused: list[PaperHit] = []
    for paper_id in dense.keys() | lexical.keys():
        paper = catalog.papers.get(paper_id)
        if paper is None:  # stored after this engine loaded its catalogue
            continue
        cosine, passages = dense.get(paper_id, (dense_floor, []))
        bm25, lexical_passages = lexical.get(paper_id, (0.0, []))
        score = DENSE_WEIGHT * cosine + LEXICAL_WEIGHT * bm25 / (bm25 + BM25_HALF)
        relevance = cosine + RELEVANCE_LEXICAL_WEIGHT * bm25 / (bm25 + RELEVANCE_BM25_HALF)
        if holds_figures(paper.abstract, figures):
            score += FIGURE_BONUS
            relevance += FIGURE_BONUS
        fused.append(
            PaperHit(
                title=paper.title,
                score=score,
                abstract=paper.abstract,
                sources=paper.sources,
                paper_id=paper_id,
                passages=passages + [p for p in lexical_passages if p not in passages],
                dense_similarity=cosine if paper_id in dense else 0.0,
                lexical_score=bm25,
                relevance=relevance,
                listing_date=paper.listing_date,
                url=paper.url,
            )
        )
    fused.sort(key=lambda h: (-h.score, -h.dense_similarity, h.title))
    return fused[:k]
