"""The query engine behind every front end: ``Assistant`` (Python API, CLI and web UI).

It only orchestrates. One question flows as:
clean the question → conversation (a follow-up becomes a stand-alone query) → hybrid
search → relevance gate (decline plainly when the corpus does not hold the answer) →
answerer (extractive, or an LLM) → leak guard and citation rewriting → ``Answer``.
An LLM that fails in any way is replaced by the extractive answer, with a notice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from assistant.answer import Answer, final_answer
from assistant.answerers import Answerer, ExtractiveAnswerer, LLMAnswerer
from assistant.catalog import PaperCatalog
from assistant.checks import checked
from assistant.conversation import Conversation, History
from assistant.core.embeddings import Embedder, build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.settings import Settings
from assistant.core.store import PaperStore
from assistant.extractive import SentenceRanker
from assistant.leak_guard import PromptLeak
from assistant.llm import build_llm
from assistant.prompts import load_prompt, render
from assistant.questions import clean_question
from assistant.relevance import RelevanceGate, Vocabulary
from assistant.retrieval import HybridRetriever, PaperHit

log = logging.getLogger(__name__)


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
        vocabulary = Vocabulary(retriever.lexical.vocabulary)
        self.gate = RelevanceGate(vocabulary)
        self.llm = build_llm(settings)
        self.conversation = Conversation(vocabulary, self.catalog, self.llm)
        self.extractive = ExtractiveAnswerer(SentenceRanker(embedder))
        self.answerer: Answerer = (
            self.extractive if self.llm is None else LLMAnswerer(self.llm, settings)
        )

    # --- construction ------------------------------------------------------------
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

    # --- facts for front ends ----------------------------------------------------
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

    # --- search ------------------------------------------------------------------
    def search(self, query: str, k: int = 10) -> list[PaperHit]:
        """Best-matching papers, best first, with scores, abstracts and sources."""
        query = clean_question(query, self.settings.max_question_chars)
        return self.retriever.search(query, k=k)

    # --- answers -----------------------------------------------------------------
    def ask(self, question: str, *, top_k: int | None = None) -> Answer:
        """Answer one stand-alone question."""
        return final_answer(self.stream(question, top_k=top_k))

    def chat(self, message: str, history: History | None = None, **kwargs: Any) -> Answer:
        """Answer a message in the context of a conversation (follow-ups work)."""
        return final_answer(self.stream(message, history=history, **kwargs))

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        top_k: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final :class:`Answer`."""
        began = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        query = self.conversation.standalone_query(question, history)
        query_vector = self.embedder.model.get_query_embedding(query)
        hits = self.retriever.search(
            query, k=top_k or self.settings.top_k, query_embedding=query_vector
        )
        if self.gate.relevant(query, hits):
            answer = yield from self._answer(question, query_vector, hits, temperature)
        else:
            answer = self._declined(hits)
            yield answer.text
        answer.query = query
        answer.seconds = time.perf_counter() - began
        yield answer

    def _declined(self, hits: Sequence[PaperHit]) -> Answer:
        return Answer(
            text=load_prompt("not_found"),
            related=list(hits[:3]),
            answered=False,
            backend=self.backend,
            model=self.model,
        )

    def _answer(
        self,
        question: str,
        query_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None,
    ) -> Generator[str, None, Answer]:
        """The configured answerer's checked answer; the extractive one if it fails."""
        try:
            draft = self.answerer.draft(question, query_vector, hits, temperature)
            return (yield from checked(draft, self.answerer, hits))
        except Exception as error:  # every failure becomes a notice plus the fallback
            if self.answerer is self.extractive:
                raise
            log.warning("LLM failed: %s", type(error).__name__)
            problem = (
                load_prompt("leak_notice")
                if isinstance(error, PromptLeak)
                else self.answerer.describe_failure(error)
            )
            notice = render("llm_fallback", problem=problem)
            draft = self.extractive.draft(question, query_vector, hits)
            fallback = final_answer(checked(draft, self.extractive, hits))
            fallback.notice = notice
            yield f"\n\n> ⚠️ {notice}\n\n{fallback.text}"
            return fallback
