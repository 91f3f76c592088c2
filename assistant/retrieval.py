"""Hybrid retrieval: dense search in Chroma + BM25 over the same chunks, fused per paper.

Both legs give llama-index ``NodeWithScore`` chunk hits. The dense leg asks Chroma for the
nearest chunks' ids and distances only (``PaperStore.nearest``) and reads their text and
metadata from the BM25 index's corpus file, which holds every chunk of the revision:
Chroma reads a hit's metadata key by key, three quarters of a dense query's time on the
bundled corpus. Its scores are those llama-index's ``ChromaVectorStore`` gives
(exp(-distance)). BM25 comes from ``assistant.core.lexical``. Each leg's chunk hits are
first collapsed to a paper ranking (a paper is as good as its best chunk); fusing papers
rather than chunks stops a paper with many chunks from crowding out others.

The two paper rankings are fused by score, not by rank: cosine similarity plus a saturated
BM25 score (s / (s + bm25_half)), plus a bonus for a paper whose abstract holds every
figure the query names. Rank fusion would throw away the size of a leg's lead — a BM25
hit on an exact figure like "77.4% mIoU" scores far above the rest — and scores on fixed
scales also say how relevant the best paper is. Each hit carries two: ``score`` orders
the papers, ``relevance`` is the same sum on the
fixed scale the relevance gate's thresholds were calibrated on, so the ranking can be
re-tuned without moving what counts as relevant.

The weights are :class:`~assistant.tuning.RetrievalTuning` fields, passed in (as
pyserini's hybrid searcher takes its fusion knobs as arguments), never read from globals.

Filters (``assistant.filters``) reach both legs as one set of allowed paper ids: the dense
leg sends it to Chroma as a ``where`` (``paper_id`` ``$in`` the set), and BM25 scores only
the chunks of those papers (a bm25s weight mask), so each leg ranks within the allowed
papers instead of filtering its top candidates afterwards, which would lose every allowed
paper ranked below them. No filter takes exactly the unfiltered path.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.catalog import PaperCatalog
from assistant.core.embeddings import Embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.schema import PAPER_ID
from assistant.core.store import PaperStore
from assistant.hits import PaperHit
from assistant.text.figures import holds_figures, query_figures
from assistant.text.phrasing import search_text
from assistant.tuning import RetrievalTuning


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


def _paper_cosines(hits: Sequence[NodeWithScore]) -> dict[str, float]:
    """Dense chunk hits → paper_id → its best chunk's cosine similarity."""
    return {paper_id: _cosine_from_chroma(raw) for paper_id, (raw, _) in _collapse(hits).items()}


class HybridRetriever:
    """Paper-level hybrid search over the store's vectors and its BM25 index."""

    def __init__(
        self,
        store: PaperStore,
        embedder: Embedder,
        lexical: LexicalIndex,
        catalog: PaperCatalog,
        tuning: RetrievalTuning | None = None,
    ):
        self.embedder = embedder
        self.lexical = lexical
        self.catalog = catalog
        self.store = store
        self.tuning = tuning or RetrievalTuning()
        self.candidate_chunks = min(self.tuning.candidate_chunks, max(1, catalog.chunk_count))

    def search(
        self,
        query: str,
        k: int = 10,
        query_embedding: Sequence[float] | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[PaperHit]:
        """The ``k`` best papers for ``query``, best first.

        Pass ``query_embedding`` (the embedding of ``search_text(query)``) when the caller
        has it (the query state memoises it), so the query is embedded once.
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
        return fuse(self.catalog, dense_hits, lexical_hits, k, query_figures(query), self.tuning)

    def dense_retrieve(
        self, bundle: QueryBundle, allowed: Collection[str] | None = None
    ) -> list[NodeWithScore]:
        """The dense leg: chunks nearest the query, among the ``allowed`` papers' chunks
        only when given (Chroma applies the ``where`` inside its search)."""
        if allowed is not None and not allowed:
            return []
        where = None if allowed is None else {PAPER_ID: {"$in": sorted(allowed)}}
        vector = bundle.embedding
        if vector is None:
            vector = self.embedder.model.get_query_embedding(bundle.query_str)
        nearest = self.store.nearest(vector, self.candidate_chunks, where)
        nodes = self.lexical.nodes([chunk_id for chunk_id, _ in nearest])
        if unindexed := [chunk_id for chunk_id, _ in nearest if chunk_id not in nodes]:
            # stored since the BM25 index's revision (an ingest publishing): read from Chroma
            nodes.update((node.id_, node) for node in self.store.chunk_nodes(unindexed))
        return [
            NodeWithScore(node=nodes[chunk_id], score=math.exp(-distance))
            for chunk_id, distance in nearest
            if chunk_id in nodes
        ]

    def nearest_papers(
        self,
        text: str,
        allowed: Collection[str] | None = None,
        include: Collection[str] = (),
        vector: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """paper_id → its best chunk's cosine similarity to ``text``, for the papers among
        the dense leg's candidates and for those ``include`` names (however far). The
        premise checks ask it which paper a part of a question is about. ``vector``: the
        text's embedding, when the caller has it."""
        if vector is None:
            vector = self.embedder.model.get_query_embedding(text)
        vector = list(vector)
        bundle = QueryBundle(query_str=text, embedding=vector)
        found = _paper_cosines(self.dense_retrieve(bundle, allowed))
        if missing := [paper_id for paper_id in include if paper_id not in found]:
            found.update(self.similarities(vector, missing))
        return found

    def similarities(self, vector: Sequence[float], paper_ids: Collection[str]) -> dict[str, float]:
        """paper_id → its best chunk's cosine similarity to ``vector``, computed from the
        papers' stored chunk vectors (read by id), exactly.

        Not a Chroma query restricted to those papers: HNSW walks its graph past every
        other chunk to find the few allowed (~120 ms for one paper at 100,000 chunks, and
        growing with the store), where reading a paper's vectors by id takes ~0.5 ms. A
        paper the BM25 index does not list yet (stored since its revision) is searched
        for in Chroma as before."""
        chunks = self.lexical.chunks_of(paper_ids)
        wanted = [chunk_id for ids in chunks.values() for chunk_id in ids]
        vectors = {chunk_id: v for chunk_id, _, _, v in self.store.chunk_vectors(wanted)}
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        found: dict[str, float] = {}
        for paper_id, chunk_ids in chunks.items():
            if stored := [vectors[c] for c in chunk_ids if c in vectors]:  # none: removed
                matrix = np.asarray(stored, dtype=np.float32)
                found[paper_id] = float(np.max(matrix @ query / np.linalg.norm(matrix, axis=1)))
        if unlisted := [paper_id for paper_id in paper_ids if paper_id not in chunks]:
            bundle = QueryBundle(query_str="", embedding=list(vector))
            found.update(_paper_cosines(self.dense_retrieve(bundle, unlisted)))
        return found


def fuse(
    catalog: PaperCatalog,
    dense_hits: Sequence[NodeWithScore],
    lexical_hits: Sequence[NodeWithScore],
    k: int,
    figures: Sequence[str] = (),
    tuning: RetrievalTuning | None = None,
) -> list[PaperHit]:
    """Two chunk rankings → one paper ranking by fused score (see the module docstring).

    Dense scores are llama-index's Chroma scores (exp(-cosine distance)); lexical scores
    are raw BM25. A paper only BM25 found is as similar as the last dense candidate.
    """
    tuning = tuning or RetrievalTuning()
    dense = {
        pid: (_cosine_from_chroma(raw), passages)
        for pid, (raw, passages) in _collapse(dense_hits).items()
    }
    lexical = _collapse(lexical_hits)
    dense_floor = min((cosine for cosine, _ in dense.values()), default=0.0)
    fused: list[PaperHit] = []
    papers = catalog.papers.many(dense.keys() | lexical.keys())
    for paper_id in dense.keys() | lexical.keys():
        paper = papers.get(paper_id)
        if paper is None:  # stored after this engine loaded its catalogue
            continue
        cosine, passages = dense.get(paper_id, (dense_floor, []))
        bm25, lexical_passages = lexical.get(paper_id, (0.0, []))
        score = tuning.dense_weight * cosine + tuning.lexical_weight * bm25 / (
            bm25 + tuning.bm25_half
        )
        relevance = cosine + tuning.relevance_lexical_weight * bm25 / (
            bm25 + tuning.relevance_bm25_half
        )
        if holds_figures(paper.abstract, figures):
            score += tuning.figure_bonus
            relevance += tuning.figure_bonus
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
