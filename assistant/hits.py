"""A paper in a ranking: what search returns and every later step reads.

A plain record kept apart from retrieval (which pulls in llama-index), so the result types
(``answer``) and the checks import it without the search machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
