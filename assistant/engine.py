"""The query engine behind every front end: ``Assistant`` (Python API, CLI and web UI).

One question flows as: (condense a follow-up into a stand-alone query) → hybrid search →
relevance gate (decline plainly when the corpus does not hold the answer) → answer
(LLM with numbered sources, or extractive) → citation check and renumbering.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from assistant.answer import Answer, Citation
from assistant.citations import CitationRewriter, parse_sources, tidy
from assistant.embeddings import Embedder, build_embedder
from assistant.extractive import SentenceRanker, compose
from assistant.leak_guard import LeakGuard, PromptLeak
from assistant.lexical import load_bm25
from assistant.llm import build_llm, describe_failure, model_name
from assistant.prompts import load_prompt, render
from assistant.relevance import MIN_SCORE, RelevanceGate
from assistant.retrieval import HybridRetriever, PaperCatalog, PaperHit
from assistant.settings import Settings
from assistant.store import open_collection_for_query

log = logging.getLogger(__name__)

# Extractive answers cite the top paper plus any close runner-up (fused score ratio);
# calibrated on eval/dev.jsonl.
RUNNER_UP_RATIO = 0.85
MAX_EXTRACTIVE_PAPERS = 3
PASSAGES_PER_SOURCE = 2
# Inside a conversation, a message this short is read as a follow-up.
FOLLOW_UP_MAX_WORDS = 8

_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|the (paper|papers|"
    r"method|model|approach|work|authors|study|technique|framework)|above|previous|same|"
    r"compare[ds]?|also)\b",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

History = Sequence[Any]


class QuestionError(ValueError):
    """The question cannot be processed as given (empty, too long)."""


class LLMFailure(RuntimeError):
    """The LLM answered with nothing usable."""


def clean_question(text: str, limit: int) -> str:
    """Normalise unicode, drop control characters, refuse empty or oversized input."""
    if not isinstance(text, str):
        raise QuestionError("the question must be text")
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > limit:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {limit}")
    return text


def normalise_history(history: History | None) -> list[tuple[str, str]]:
    """(user, assistant) pairs from tuples or from Gradio/OpenAI-style message dicts."""
    pairs: list[tuple[str, str]] = []
    pending_user: str | None = None
    for item in history or []:
        if isinstance(item, dict):
            role, content = item.get("role"), _content_text(item.get("content"))
            if role == "user":
                pending_user = content
            elif role == "assistant":
                pairs.append((pending_user or "", content))
                pending_user = None
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((_content_text(item[0]), _content_text(item[1])))
    return pairs


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(_content_text(part) for part in content)
    return str(content)


class Assistant:
    """Answers questions over the ingested papers, citing paper titles.

    Build one with :meth:`from_settings`; it is safe to share between threads.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        retriever: HybridRetriever,
        llm: LLM | None,
    ):
        self.settings = settings
        self.embedder = embedder
        self.retriever = retriever
        self.catalog = retriever.catalog
        self.llm = llm
        self.ranker = SentenceRanker(embedder)
        self.gate = RelevanceGate(retriever.bm25.bm25.vocab_dict)

    # --- construction ------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Assistant:
        """Open the configured store and backends; keyword overrides beat env settings."""
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.model_copy(update=overrides)
        embedder = build_embedder(settings)
        collection = open_collection_for_query(settings, embedder.info)
        bm25 = load_bm25(collection, settings.resolved_cache_dir)
        catalog = PaperCatalog(bm25.corpus)
        retriever = HybridRetriever(collection, embedder, bm25, catalog)
        return cls(settings, embedder, retriever, build_llm(settings))

    # --- facts for front ends ----------------------------------------------------
    @property
    def backend(self) -> str:
        return self.settings.resolved_llm

    @property
    def model(self) -> str | None:
        return model_name(self.settings)

    def stats(self) -> dict[str, Any]:
        """Corpus size and backends in use (never a key: only whether one is set)."""
        return {
            "papers": len(self.catalog),
            "chunks": self.catalog.chunk_count,
            "backend": self.backend,
            "model": self.model,
            "embedding": self.embedder.info.name,
            "store": self.settings.describe_store(),
            "api_key_set": bool(self.settings.resolved_llm_api_key),
        }

    # --- search ------------------------------------------------------------------
    def search(self, query: str, k: int = 10) -> list[PaperHit]:
        """Best-matching papers, best first, with scores, abstracts and sources."""
        query = clean_question(query, self.settings.max_question_chars)
        return self.retriever.search(query, k=k)

    def is_relevant(self, question: str, hits: Sequence[PaperHit]) -> bool:
        """Whether the retrieved papers can support an answer at all."""
        return self.gate.judge(question, hits).relevant

    # --- answers -----------------------------------------------------------------
    def ask(self, question: str, *, top_k: int | None = None) -> Answer:
        """Answer one stand-alone question."""
        return self._final(self.stream(question, top_k=top_k))

    def chat(self, message: str, history: History | None = None, **kwargs: Any) -> Answer:
        """Answer a message in the context of a conversation (follow-ups work)."""
        return self._final(self.stream(message, history=history, **kwargs))

    @staticmethod
    def _final(parts: Iterator[str | Answer]) -> Answer:
        for part in parts:
            if isinstance(part, Answer):
                return part
        raise RuntimeError("the engine produced no answer")  # pragma: no cover

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
        query = self.condense(question, history)
        query_vector = self.embedder.model.get_query_embedding(query)
        hits = self.retriever.search(
            query, k=top_k or self.settings.top_k, query_embedding=query_vector
        )
        if not self.is_relevant(query, hits):
            answer = self._declined(hits)
            yield answer.text
        elif self.llm is None:
            answer = self._extractive(query_vector, hits)
            yield answer.text  # extractive answers appear at once
        else:
            answer = yield from self._generate(question, query_vector, hits, temperature)
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

    def _extractive(
        self, query_vector: Sequence[float], hits: Sequence[PaperHit], notice: str | None = None
    ) -> Answer:
        top = hits[0]
        chosen = [top] + [
            hit for hit in hits[1:] if hit.score >= max(RUNNER_UP_RATIO * top.score, MIN_SCORE)
        ]
        chosen = chosen[:MAX_EXTRACTIVE_PAPERS]
        text, passages = compose(query_vector, chosen, self.ranker)
        citations = [
            Citation(n, hit.title, hit.paper_id, passage, hit.score, hit.abstract)
            for n, (hit, passage) in enumerate(zip(chosen, passages, strict=True), start=1)
        ]
        return Answer(
            text=text,
            citations=citations,
            related=[hit for hit in hits if hit not in chosen],
            notice=notice,
            backend=self.backend if notice is None else "extractive",
            model=self.model if notice is None else None,
        )

    def _sources_context(self, hits: Sequence[PaperHit]) -> str:
        """Numbered sources for the prompt, trimmed to fit the model's context window."""
        budget_tokens = self.settings.llm_context_window - self.settings.max_tokens - 600
        per_source_chars = max(300, budget_tokens * 3 // max(1, len(hits)))
        blocks = []
        for number, hit in enumerate(hits, start=1):
            passages = "\n".join(hit.passages[:PASSAGES_PER_SOURCE]) or hit.abstract
            blocks.append(
                render(
                    "source", number=number, title=hit.title, passages=passages[:per_source_chars]
                )
            )
        return "\n\n".join(blocks)

    def _messages(self, question: str, hits: Sequence[PaperHit]) -> list[ChatMessage]:
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=load_prompt("qa_system")),
            ChatMessage(
                role=MessageRole.USER,
                content=render("qa_user", context=self._sources_context(hits), question=question),
            ),
        ]

    def _generate(
        self,
        question: str,
        query_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None,
    ) -> Generator[str, None, Answer]:
        """Stream the LLM's answer through the citation rewriter; fall back on failure."""
        assert self.llm is not None
        rewriter = CitationRewriter(len(hits))
        guard = LeakGuard(load_prompt("qa_system"))
        shown: list[str] = []
        kwargs = {"temperature": temperature} if temperature is not None else {}
        try:
            for chunk in self.llm.stream_chat(self._messages(question, hits), **kwargs):
                guard.check(chunk.delta or "")
                piece = rewriter.feed(chunk.delta or "")
                if piece:
                    shown.append(piece)
                    yield piece
            tail = rewriter.finish()
            if tail:
                shown.append(tail)
                yield tail
            if not "".join(shown).strip():
                raise LLMFailure("empty answer")
        except Exception as error:  # every failure becomes a notice plus the fallback
            log.warning("LLM failed: %s", type(error).__name__)
            problem = (
                load_prompt("leak_notice")
                if isinstance(error, PromptLeak)
                else describe_failure(error, self.settings)
            )
            notice = render("llm_fallback", problem=problem)
            fallback = self._extractive(query_vector, hits, notice=notice)
            yield f"\n\n> ⚠️ {notice}\n\n{fallback.text}"
            return fallback
        cited = [hits[original - 1] for original in rewriter.order]
        citations = [
            Citation(
                n,
                hit.title,
                hit.paper_id,
                " ".join(hit.passages[:PASSAGES_PER_SOURCE]) or hit.abstract,
                hit.score,
                hit.abstract,
            )
            for n, hit in enumerate(cited, start=1)
        ]
        return Answer(
            text=tidy("".join(shown)),
            citations=citations,
            related=[hit for hit in hits if hit not in cited],
            answered=bool(citations),
            backend=self.backend,
            model=self.model,
        )

    # --- conversation ------------------------------------------------------------
    def looks_like_follow_up(self, message: str) -> bool:
        """Refers back ("they", "that paper"), or is too short to stand alone.

        A short message naming something the corpus never mentions ("What is the capital
        of France?") starts a new subject instead: it is not tied to the last answer.
        """
        if _FOLLOW_UP.search(message):
            return True
        named_unknowns, _ = self.gate.unknown_terms(message)
        return len(message.split()) <= FOLLOW_UP_MAX_WORDS and not named_unknowns

    def condense(self, message: str, history: History | None) -> str:
        """Rewrite a follow-up into a stand-alone query (LLM if set, else a heuristic)."""
        pairs = normalise_history(history)
        if not pairs:
            return message
        last_user, last_answer = pairs[-1]
        titles = [t for t in parse_sources(last_answer) if self.catalog.by_title(t)]
        if self.llm is not None:
            try:
                return self._condense_with_llm(message, pairs, titles)
            except Exception as error:
                log.warning("condense failed (%s); using the heuristic", type(error).__name__)
        if not self.looks_like_follow_up(message):
            return message
        if titles:  # the paper the last answer was about: its first citation
            return f"{message} {titles[0]}"
        return f"{message} {last_user}" if last_user else message

    def _condense_with_llm(
        self, message: str, pairs: Sequence[tuple[str, str]], titles: Sequence[str]
    ) -> str:
        assert self.llm is not None
        transcript = "\n".join(
            f"User: {user}\nAssistant: {answer[:600]}" for user, answer in pairs[-3:]
        )
        response = self.llm.chat(
            [
                ChatMessage(role=MessageRole.SYSTEM, content=load_prompt("condense_system")),
                ChatMessage(
                    role=MessageRole.USER,
                    content=render(
                        "condense_user",
                        history=transcript,
                        titles="\n".join(titles) or "(none)",
                        question=message,
                    ),
                ),
            ]
        )
        standalone = (response.message.content or "").strip().strip('"').splitlines()
        if not standalone or not standalone[0].strip():
            raise LLMFailure("empty rewrite")
        rewritten = standalone[0].strip()
        # Keep the cited titles in the query: retrieval then stays on the conversation's papers.
        if titles and self.looks_like_follow_up(message):
            rewritten = f"{rewritten} {titles[0]}"
        return rewritten
