"""Small real objects for the fast unit tests: papers, chunk hits, a scripted LLM."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.catalog import PaperCatalog
from assistant.core.schema import Paper


def paper(paper_id: str, title: str, abstract: str = "An abstract.") -> Paper:
    return Paper(title=title, abstract=abstract, paper_id=paper_id, sources=["test.txt"])


def catalog(*papers: Paper) -> PaperCatalog:
    return PaperCatalog(papers, chunk_count=len(papers))


def dense_hit(paper_id: str, cosine: float, text: str = "") -> NodeWithScore:
    """A dense hit as llama-index's Chroma store reports it: exp(-cosine distance)."""
    node = TextNode(text=text or f"passage of {paper_id}", metadata={"paper_id": paper_id})
    return NodeWithScore(node=node, score=math.exp(cosine - 1.0))


def lexical_hit(paper_id: str, bm25: float, text: str = "") -> NodeWithScore:
    node = TextNode(text=text or f"passage of {paper_id}", metadata={"paper_id": paper_id})
    return NodeWithScore(node=node, score=bm25)


class ScriptedLLM(CustomLLM):
    """Answers every prompt with the next scripted reply (an Exception is raised)."""

    replies: list[Any] = []
    prompts: list[str] = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return CompletionResponse(text=reply)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt)
        yield CompletionResponse(text=response.text, delta=response.text)


def scripted_llm(replies: Sequence[Any]) -> ScriptedLLM:
    return ScriptedLLM(replies=list(replies), prompts=[])


class ScriptedLookups:
    """The query state's index lookups, answering from a script (no model, no store)."""

    def __init__(self, hits: Sequence[Any] = (), nearest: Any = None, phrases: Any = None):
        self.hits = list(hits)
        self.searched: list[str] = []
        self._nearest = nearest
        self._phrases = phrases

    def search(self, query: str, k: int | None = None) -> list[Any]:
        self.searched.append(query)
        return self.hits[:k] if k else self.hits

    def query_vector(self, query: str) -> list[float]:
        return [1.0]

    def for_premises(self) -> Any:
        from assistant.premises import Lookups

        return Lookups(
            nearest=self._nearest or (lambda text, include: {}),
            phrase_papers=self._phrases or (lambda first, second, limit: None),
        )


def query_state(question: str, lookups: Any = None, **fields: Any) -> Any:
    """A hand-built query state for one step's unit test."""
    from assistant.pipeline.state import QueryState

    values: dict[str, Any] = {
        "turns": [],
        "filters": None,
        "allowed": None,
        "top_k": 5,
        "temperature": None,
        "lookups": lookups or ScriptedLookups(),
    }
    values.update(fields)
    return QueryState(question=question, **values)


def run_step(step: Any, state: Any) -> list[Any]:
    """Run one step on a state; the events it streamed."""
    return list(step.run(state))
