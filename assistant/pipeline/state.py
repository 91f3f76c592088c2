"""The one state a question's path reads and writes, and the index lookups it memoises.

Every step of :mod:`assistant.pipeline.steps` takes a :class:`QueryState`, reads what the
steps before it wrote and writes its own part; no step calls another. Search and
embedding go through :class:`TurnLookups`, which remembers each result for the turn, so a
turn embeds each distinct text once and never runs the same search twice (the condense
step's search of a message that is not a follow-up is the retrieve step's search).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer import Answer, LLMCheck
from assistant.answerers import Answerer, Draft
from assistant.checks import ClaimCheck, Screened
from assistant.conversation import Turn
from assistant.filters import SearchFilters
from assistant.hits import PaperHit
from assistant.premises import Lookups, PremiseFinding
from assistant.retrieval import HybridRetriever
from assistant.text.phrasing import search_text


class TurnLookups:
    """The index as one turn sees it: filtered by the turn's allowed papers, memoised.

    ``k``: how many papers a search keeps (the most any step of the turn asks for; a
    fused ranking cut shorter is the same ranking's prefix). ``terms``: the vocabulary's
    tokenizer, which the phrase lookup reads chunks with."""

    def __init__(
        self,
        retriever: HybridRetriever,
        allowed: Collection[str] | None,
        k: int,
        terms: Callable[[str], list[str]],
    ):
        self.retriever = retriever
        self.allowed = allowed
        self.k = k
        self.terms = terms
        self._vectors: dict[str, list[float]] = {}
        self._searches: dict[str, list[PaperHit]] = {}
        self._phrases: dict[tuple[str, str, int], set[str] | None] = {}

    def vector(self, text: str) -> list[float]:
        """The query embedding of exactly ``text`` (computed once per turn)."""
        if text not in self._vectors:
            self._vectors[text] = self.retriever.embedder.model.get_query_embedding(text)
        return self._vectors[text]

    def query_vector(self, query: str) -> list[float]:
        """The vector search uses for ``query`` (its search text's)."""
        return self.vector(search_text(query))

    def search(self, query: str, k: int | None = None) -> list[PaperHit]:
        """The best papers for ``query`` among the allowed ones, best first."""
        if query not in self._searches:
            self._searches[query] = self.retriever.search(
                query, k=self.k, query_embedding=self.query_vector(query), allowed=self.allowed
            )
        return self._searches[query][: self.k if k is None else k]

    def nearest(self, text: str, include: Collection[str] = ()) -> dict[str, float]:
        """paper_id → similarity to ``text`` (see ``HybridRetriever.nearest_papers``)."""
        return self.retriever.nearest_papers(text, self.allowed, include, self.vector(text))

    def phrase_papers(self, first: str, second: str, limit: int) -> set[str] | None:
        """The papers using the two terms side by side (``LexicalIndex.papers_with_phrase``)."""
        key = (first, second, limit)
        if key not in self._phrases:
            lexical = self.retriever.lexical
            self._phrases[key] = lexical.papers_with_phrase(first, second, self.terms, limit)
        return self._phrases[key]

    def for_premises(self) -> Lookups:
        """The lookups the premise checker's remainder rules use."""
        return Lookups(nearest=self.nearest, phrase_papers=self.phrase_papers)


@dataclass(frozen=True)
class Settled:
    """A finding that settles the reply before any answer is drafted.

    ``no_match``: the filters leave no paper; ``not_found``: nothing retrieved is relevant
    enough (``findings``: absent papers it names); ``llm_declined``: the LLM said, citing
    nothing, that the sources do not answer; ``premise``: the question takes
    something false for granted (``subject``: the paper it is about, ``reported``: that
    paper's own sentences with figures, quoted back when the figures are wrong)."""

    kind: Literal["no_match", "not_found", "premise", "llm_declined"]
    findings: list[PremiseFinding] = field(default_factory=list)
    subject: PaperHit | None = None
    reported: str = ""


@dataclass
class QueryState:
    """Everything known about one question, filled in step by step."""

    question: str  # cleaned, as asked
    turns: list[Turn]  # the conversation before it
    filters: SearchFilters | None
    allowed: Collection[str] | None  # paper ids the filters let through (None: all)
    top_k: int
    temperature: float | None
    lookups: TurnLookups
    began: float = field(default_factory=time.perf_counter)
    query: str = ""  # what is searched: the question, or a follow-up made stand-alone
    hits: list[PaperHit] = field(default_factory=list)
    settled: Settled | None = None
    cautions: list[PremiseFinding] = field(default_factory=list)  # shown with the answer
    answerer: Answerer | None = None  # who wrote the draft
    draft: Draft | None = None
    screened: Screened | None = None
    claims: list[tuple[str, ClaimCheck | None]] = field(default_factory=list)
    llm_check: LLMCheck | None = None  # the LLM verification pass, on an LLM's answer
    failure: BaseException | None = None  # why an LLM's draft was replaced
    answer: Answer | None = None
