"""The query engine behind every front end: ``Assistant`` (Python API, CLI and web UI).

It only orchestrates. One question flows as:
clean the question → conversation (a follow-up becomes a stand-alone query) → hybrid
search → relevance gate (decline plainly when the corpus does not hold the answer) →
premise checks (a false premise gets a clear reply) → answerer (extractive, or an LLM) →
checks (leak guard, citation rewriting, claim-level support) → ``Answer``. An LLM that
fails in any way, or whose answer nothing supports, is replaced by the extractive answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from assistant.answer import Answer, final_answer
from assistant.answerers import Answerer, ExtractiveAnswerer, LLMAnswerer
from assistant.catalog import PaperCatalog
from assistant.checks import checked, failure_notice
from assistant.conversation import Conversation, History
from assistant.core.embeddings import Embedder, build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.settings import Settings
from assistant.core.store import PaperStore
from assistant.export import Exchange, cited_bibtex, conversation_markdown
from assistant.extractive import SentenceRanker
from assistant.filters import SearchFilters
from assistant.llm import build_llm
from assistant.markup import literal
from assistant.premises import PremiseChecker, replaces_answer, with_caution
from assistant.prompts import render
from assistant.questions import clean_history, clean_question, paper_count
from assistant.relevance import RelevanceGate
from assistant.retrieval import HybridRetriever, PaperHit
from assistant.support import SupportChecker
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
    ):
        self.settings = settings
        self.embedder = embedder
        self.retriever = retriever
        self.store = store  # what it was loaded from; a StoreFollower reloads when it moves
        self.catalog: PaperCatalog = retriever.catalog
        vocabulary = Vocabulary(*retriever.lexical.term_frequencies())
        self.gate = RelevanceGate(vocabulary)
        self.llm = build_llm(settings)
        self.conversation = Conversation(
            vocabulary,
            self.catalog,
            self.llm,
            search=lambda message, allowed=None: self.retriever.search(
                message, k=settings.top_k, allowed=allowed
            ),
            relevant=self.gate.relevant,
        )
        self.support = SupportChecker(vocabulary)
        self.premises = PremiseChecker(
            vocabulary,
            self.catalog,
            retriever.nearest_papers,
            lambda first, second, limit: retriever.lexical.papers_with_phrase(
                first, second, vocabulary.terms, limit
            ),
        )
        self.extractive = ExtractiveAnswerer(SentenceRanker(embedder, vocabulary))
        self.answerer: Answerer = (
            self.extractive if self.llm is None else LLMAnswerer(self.llm, settings)
        )

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, embedder: Embedder | None = None, **overrides: Any
    ) -> Assistant:
        """Open the store and backends (``embedder``: reuse a loaded model); overrides win."""
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.with_overrides(**overrides)
        embedder = embedder or build_embedder(settings)
        store = PaperStore.open(settings, embedder.info)
        lexical = LexicalIndex.load(store, settings.cache_dir)
        catalog = PaperCatalog(store.papers(), chunk_count=store.count())
        retriever = HybridRetriever(store.vector_store(), embedder, lexical, catalog)
        return cls(settings, embedder, retriever, store)

    def with_settings(self, **overrides: Any) -> Assistant:
        """Another engine on the same loaded index, e.g. with another LLM backend."""
        settings = self.settings.with_overrides(**overrides)
        return type(self)(settings, self.embedder, self.retriever, self.store)

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
        return final_answer(self.stream(question, top_k=top_k, filters=filters))

    def chat(self, message: str, history: History | None = None, **kwargs: Any) -> Answer:
        """Answer a message in the context of a conversation (follow-ups work)."""
        return final_answer(self.stream(message, history=history, **kwargs))

    def export_markdown(self, exchanges: Iterable[Exchange]) -> str:
        """A conversation's ``(question, Answer)`` pairs as Markdown, with numbered sources
        (links and years from this engine's catalog)."""
        return conversation_markdown(exchanges, self.catalog)

    def export_bibtex(self, answers: Iterable[Answer]) -> str:
        """The papers cited in ``answers`` as BibTeX, one entry each, first-cited first."""
        return cited_bibtex(answers, self.catalog)

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        temperature: float | None = None,
        filters: Filters = None,
    ) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final :class:`Answer`.

        A question that cannot be asked (empty, too long, not text) or a ``top_k`` outside
        1 to 50 raises :class:`QuestionError`, and bad ``filters`` :class:`FilterError`,
        before any work is done. Filters apply to the follow-up detection's search too;
        filters no paper passes are declined plainly (``answered`` False).
        """
        began = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        top_k = self.settings.top_k if top_k is None else paper_count(top_k, "top_k")
        search_filters = SearchFilters.coerce(filters)
        allowed = self.catalog.matching(search_filters)
        query = self.conversation.standalone_query(
            question, clean_history(history), allowed=allowed
        )
        query_vector = self.retriever.query_vector(query)
        hits = self.retriever.search(query, k=top_k, query_embedding=query_vector, allowed=allowed)
        if allowed is not None and not allowed:  # the filters leave no paper at all
            answer = Answer(
                text=render("no_match", filters=literal(search_filters.describe())),
                answered=False,
            )
        elif not self.gate.relevant(query, hits):
            answer = self.premises.declined(question, hits)
        elif replaces_answer(issues := self.premises.check(question, hits, allowed)):
            answer = self.premises.reply(question, issues, hits)
        else:
            # Sentences are chosen for what the user asked (less any opening request for
            # papers), not for the searched query (which, for a follow-up, carries the
            # conversation's paper title).
            question_vector = (
                query_vector if query == question else self.retriever.query_vector(question)
            )
            draft = self._answer(question, question_vector, hits, temperature)
            answer = yield from with_caution(draft, issues)
        if answer.backend is None:  # a reply the engine wrote itself
            answer.backend, answer.model = self.backend, self.model
            yield answer.text
        answer.query = query
        answer.filters = search_filters
        answer.seconds = time.perf_counter() - began
        yield answer

    def _answer(
        self,
        question: str,
        question_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None,
    ) -> Generator[str, None, Answer]:
        """The configured answerer's checked answer; the extractive one if it fails."""
        try:
            draft = self.answerer.draft(question, question_vector, hits, temperature)
            strict = self.answerer is not self.extractive  # an LLM must be supported
            answer = yield from checked(
                draft, self.answerer, hits, self.support, require_support=strict
            )
        except Exception as error:  # every failure becomes a notice plus the fallback
            if self.answerer is self.extractive:
                raise
            log.warning("LLM failed: %s", type(error).__name__)
            notice = failure_notice(error, self.answerer)
            draft = self.extractive.draft(question, question_vector, hits)
            fallback = final_answer(checked(draft, self.extractive, hits, self.support))
            fallback.notice = notice
            yield f"\n\n> ⚠️ {notice}\n\n{fallback.text}"
            answer = fallback
        return answer
