"""The query engine behind every front end: ``Assistant`` (Python API, CLI and web UI).

It builds the components once (retriever, relevance gate, conversation, premise checker,
answerers, support checker, LLM verifier) and the pipeline's steps over them; each question
is then one :class:`~assistant.pipeline.state.QueryState` run through the steps
(:func:`assistant.pipeline.run`):

``condense → retrieve → gate → premises → caution → draft → verify → llm_verify → fallback →
compose``

:meth:`Assistant.events` streams typed events (:class:`TextPiece`, then
:class:`FinalAnswer`); :meth:`Assistant.stream` is the same as plain text pieces then the
:class:`Answer`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from assistant.answer import Answer, FinalAnswer, StreamEvent, TextPiece, final_answer
from assistant.answerers import Answerer, ExtractiveAnswerer, LLMAnswerer
from assistant.catalog import PaperCatalog
from assistant.conversation import Conversation, History
from assistant.core.embeddings import Embedder, build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.sentence_vectors import SentenceVectors
from assistant.core.settings import Settings
from assistant.core.store import PaperStore
from assistant.export import Exchange, cited_bibtex, conversation_markdown
from assistant.extractive import SentenceRanker
from assistant.filters import SearchFilters
from assistant.hits import PaperHit
from assistant.llm import build_llm
from assistant.llm_verifier import LLMVerifier
from assistant.pipeline import run
from assistant.pipeline.state import QueryState, TurnLookups
from assistant.pipeline.steps.base import Step
from assistant.pipeline.steps.compose import Caution, Compose
from assistant.pipeline.steps.condense import Condense
from assistant.pipeline.steps.draft import Draft
from assistant.pipeline.steps.fallback import Fallback
from assistant.pipeline.steps.gate import Gate
from assistant.pipeline.steps.llm_verify import LLMVerify
from assistant.pipeline.steps.premises import Premises
from assistant.pipeline.steps.retrieve import Retrieve
from assistant.pipeline.steps.verify import Verify
from assistant.premises import PremiseChecker
from assistant.questions import clean_history, clean_question, paper_count
from assistant.relevance import RelevanceGate
from assistant.retrieval import HybridRetriever
from assistant.support import SupportChecker
from assistant.tuning import Tuning
from assistant.vocabulary import Vocabulary

log = logging.getLogger(__name__)

Filters = SearchFilters | Mapping[str, Any] | None


class Assistant:
    """Answers questions over the ingested papers, citing paper titles.

    Build one with :meth:`from_settings`; it is safe to share between threads.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        retriever: HybridRetriever,
        store: PaperStore | None = None,
        tuning: Tuning | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ):
        """``sentence_vectors``: the abstracts' sentences as ingest embedded them (None:
        embedded on demand)."""
        self.settings = settings
        self.tuning = tuning or Tuning.load(settings.tuning_file)
        if retriever.tuning != self.tuning.retrieval:  # the hash must name what ranks too
            raise ValueError("the retriever was built with other retrieval tuning")
        self.embedder = embedder
        self.retriever = retriever
        self.store = store  # what it was loaded from; a StoreFollower reloads when it moves
        self.sentence_vectors = sentence_vectors
        self.catalog: PaperCatalog = retriever.catalog
        self.vocabulary = vocabulary = Vocabulary(*retriever.lexical.term_frequencies())
        tuning = self.tuning
        self.gate = RelevanceGate(vocabulary, tuning.gate)
        self.llm = build_llm(settings)
        self.conversation = Conversation(vocabulary, self.catalog, self.llm, tuning.conversation)
        self.support = SupportChecker(vocabulary, tuning.support)
        self.premises = PremiseChecker(vocabulary, self.catalog, tuning.premises)
        ranker = SentenceRanker(embedder, vocabulary, tuning.answer, stored=sentence_vectors)
        self.extractive = ExtractiveAnswerer(ranker, tuning.answer, tuning.gate.min_score)
        self.answerer: Answerer = (
            self.extractive if self.llm is None else LLMAnswerer(self.llm, settings, tuning.answer)
        )
        # the LLM verification pass: through the answering LLM's endpoint, when it answers
        self.verifier = (
            LLMVerifier(self.llm, settings, tuning.answer)
            if self.llm is not None and settings.verify_with_llm
            else None
        )
        self.steps: list[Step] = [
            Condense(self.conversation, self.gate),
            Retrieve(),
            Gate(self.gate, self.premises),
            Premises(self.premises),
            Caution(),
            Draft(self.answerer),
            Verify(self.support),
            LLMVerify(self.verifier),
            Fallback(self.extractive, self.support),
            Compose(self.answerer, tuning.answer, tuning.hash),
        ]

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        tuning: Tuning | None = None,
        **overrides: Any,
    ) -> Assistant:
        """Open the store and backends (``embedder``: reuse a loaded model); overrides win.
        ``tuning``: tuned values to use instead of ``settings.tuning_file``'s."""
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.with_overrides(**overrides)
        tuning = tuning or Tuning.load(settings.tuning_file)
        embedder = embedder or build_embedder(settings)
        store = PaperStore.open(settings, embedder.info)
        lexical = LexicalIndex.load(store, settings.cache_dir)
        catalog = PaperCatalog.load(store, settings.cache_dir)
        retriever = HybridRetriever(store, embedder, lexical, catalog, tuning.retrieval)
        sentences = SentenceVectors.load(store, settings.cache_dir, embedder.info)
        return cls(settings, embedder, retriever, store, tuning, sentences)

    def with_settings(self, **overrides: Any) -> Assistant:
        """Another engine on the same loaded index, e.g. with another LLM backend."""
        settings = self.settings.with_overrides(**overrides)
        tuning = Tuning.load(settings.tuning_file) if "tuning_file" in overrides else self.tuning
        return type(self)(
            settings,
            self.embedder,
            self._retriever_for(tuning),
            self.store,
            tuning,
            self.sentence_vectors,
        )

    def with_tuning(self, tuning: Tuning) -> Assistant:
        """Another engine on the same loaded index with other tuned values (a sweep)."""
        return type(self)(
            self.settings,
            self.embedder,
            self._retriever_for(tuning),
            self.store,
            tuning,
            self.sentence_vectors,
        )

    def _retriever_for(self, tuning: Tuning) -> HybridRetriever:
        """This engine's retriever, or one over the same index ranking with ``tuning``'s
        retrieval values when they differ (the engine refuses a retriever tuned otherwise)."""
        if tuning.retrieval == self.tuning.retrieval:
            return self.retriever
        return HybridRetriever(
            self.store,
            self.embedder,
            self.retriever.lexical,
            self.catalog,
            tuning.retrieval,
        )

    @property
    def backend(self) -> str:
        return self.answerer.backend

    @property
    def model(self) -> str | None:
        return self.answerer.model

    @property
    def streams(self) -> bool:
        """Whether answers arrive piece by piece (an LLM) or whole (extractive)."""
        return self.answerer.streams

    def stats(self) -> dict[str, Any]:
        """Corpus size and backends in use (never a key: only whether one is set)."""
        return {
            "papers": len(self.catalog),
            "chunks": self.catalog.chunk_count,
            "backend": self.backend,
            "model": self.model,
            "embedding": self.embedder.info.name,
            "store": self.settings.describe_store(),
            "api_key_set": bool(self.settings.llm_key),
        }

    def search(self, query: str, k: int = 10, filters: Filters = None) -> list[PaperHit]:
        """Best-matching papers, best first, with scores, abstracts and sources.

        ``k`` is 1 to 50; a bad query or ``k`` raises :class:`QuestionError`. ``filters``
        (a :class:`SearchFilters` or a mapping such as ``{"since": "2023", "category":
        "cs.LG"}``) limits the papers; a bad one raises :class:`FilterError`, and filters
        no paper passes give an empty list.
        """
        query = clean_question(query, self.settings.max_question_chars)
        k = paper_count(k)
        allowed = self.catalog.matching(SearchFilters.coerce(filters))
        return self.retriever.search(query, k=k, allowed=allowed)

    def ask(self, question: str, *, top_k: int | None = None, filters: Filters = None) -> Answer:
        """Answer one stand-alone question (``filters`` as for :meth:`search`)."""
        return final_answer(self.events(question, top_k=top_k, filters=filters))

    def chat(self, message: str, history: History | None = None, **kwargs: Any) -> Answer:
        """Answer a message in the context of a conversation (follow-ups work)."""
        return final_answer(self.events(message, history=history, **kwargs))

    def export_markdown(self, exchanges: Iterable[Exchange]) -> str:
        """A conversation's ``(question, Answer)`` pairs as Markdown, with numbered sources
        (links and years from this engine's catalog)."""
        return conversation_markdown(exchanges, self.catalog)

    def export_bibtex(self, answers: Iterable[Answer]) -> str:
        """The papers cited in ``answers`` as BibTeX, one entry each, first-cited first."""
        return cited_bibtex(answers, self.catalog)

    def events(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        temperature: float | None = None,
        filters: Filters = None,
    ) -> Iterator[StreamEvent]:
        """Yield :class:`TextPiece` events as the answer is written, then one
        :class:`FinalAnswer`.

        A question that cannot be asked (empty, too long, not text) or a ``top_k`` outside
        1 to 50 raises :class:`QuestionError`, and bad ``filters`` :class:`FilterError`,
        before any work is done. Filters apply to the follow-up detection's search too;
        filters no paper passes are declined plainly (``answered`` False).
        """
        question = clean_question(question, self.settings.max_question_chars)
        top_k = self.settings.top_k if top_k is None else paper_count(top_k, "top_k")
        search_filters = SearchFilters.coerce(filters)
        allowed = self.catalog.matching(search_filters)
        state_lookups = TurnLookups(
            self.retriever, allowed, max(top_k, self.settings.top_k), self.vocabulary.terms
        )
        state = QueryState(
            question=question,
            turns=clean_history(history),
            filters=search_filters,
            allowed=allowed,
            top_k=top_k,
            temperature=temperature,
            lookups=state_lookups,
        )
        yield from run(self.steps, state)

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        temperature: float | None = None,
        filters: Filters = None,
    ) -> Iterator[str | Answer]:
        """:meth:`events` as plain values: text pieces (``str``), then the :class:`Answer`."""
        events = self.events(
            question, history, top_k=top_k, temperature=temperature, filters=filters
        )
        yield from _plain_events(events)


def _plain_events(events: Iterable[StreamEvent]) -> Iterator[str | Answer]:
    for event in events:
        if isinstance(event, TextPiece):
            yield event.text
        elif isinstance(event, FinalAnswer):
            yield event.answer
