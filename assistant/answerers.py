"""Answerers: the retrieved papers in, a draft answer citing them as [n] out.

Every answerer sees the retrieved papers numbered 1…k and writes text whose ``[n]``
markers refer to that numbering. It does not check its own citations: the engine runs
every draft, from any answerer, through the same steps (leak guard, citation rewriting),
so no answerer can cite a paper that was not retrieved.

- :class:`ExtractiveAnswerer` quotes the most relevant sentences of the top papers: no
  LLM, deterministic, at once.
- :class:`LLMAnswerer` streams a written answer from any llama-index LLM (OpenAI or an
  OpenAI-compatible server) given the numbered sources in ``prompts/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import takewhile

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from assistant.core.settings import Settings
from assistant.extractive import COMPOUND, SentenceRanker, compose
from assistant.llm import describe_failure
from assistant.prompts import load_prompt, render
from assistant.questions import asks_for_papers
from assistant.relevance import MIN_SCORE
from assistant.retrieval import PaperHit

# Which papers an extractive answer cites (fused score relative to the best paper), set on
# the citation precision of eval/dev.jsonl + eval/answers_dev.jsonl: a question about one
# paper cites it alone unless a runner-up is a near tie; a question asking for papers
# (plural) cites every close one.
NEAR_TIE_RATIO = 0.99
MAX_SINGLE_PAPERS = 2
PLURAL_RATIO = 0.85
SENTENCES_ONE_PAPER = 3  # a paper cited alone: enough sentences to hold the asked facts
SENTENCES_BROAD = 4  # two facts asked at once, or a short question (often a follow-up)
SHORT_QUESTION_WORDS = 12
SENTENCES_MANY_PAPERS = 2
PASSAGES_PER_SOURCE = 2
PROMPT_OVERHEAD_TOKENS = 600  # system prompt, question and formatting around the sources


@dataclass
class Draft:
    """An answer as written: text pieces (streamed or not) and each source's passage.

    ``passages[n - 1]`` is what source ``n`` contributed: the citation shows it.
    """

    pieces: Iterable[str]
    passages: list[str]


class Answerer(ABC):
    """Writes an answer from numbered sources."""

    backend: str
    model: str | None = None
    streams: bool = False  # whether text arrives piece by piece
    system_prompt: str | None = None  # instructions the answer must never recite

    @abstractmethod
    def draft(
        self,
        question: str,
        question_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None = None,
    ) -> Draft: ...

    def describe_failure(self, error: BaseException) -> str:
        """One readable sentence for a failure while drafting (never a key or a trace)."""
        return f"The answer could not be written ({type(error).__name__})."


class ExtractiveAnswerer(Answerer):
    """Quotes the best sentences of the top paper and of close runners-up."""

    backend = "extractive"

    def __init__(self, ranker: SentenceRanker):
        self.ranker = ranker

    def draft(
        self,
        question: str,
        question_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None = None,
    ) -> Draft:
        chosen = self.choose_papers(question, hits)
        if len(chosen) > 1:
            per_paper = SENTENCES_MANY_PAPERS
        else:
            broad = COMPOUND.search(question) or len(question.split()) <= SHORT_QUESTION_WORDS
            per_paper = SENTENCES_BROAD if broad else SENTENCES_ONE_PAPER
        text, passages = compose(question, question_vector, chosen, self.ranker, per_paper)
        return Draft(pieces=[text], passages=passages + [""] * (len(hits) - len(chosen)))

    @staticmethod
    def choose_papers(question: str, hits: Sequence[PaperHit]) -> list[PaperHit]:
        """The papers to cite: a prefix of the hits (sorted by score), so paper n stays [n]."""
        top = hits[0]
        if asks_for_papers(question):
            ratio, most = PLURAL_RATIO, len(hits)
        else:
            ratio, most = NEAR_TIE_RATIO, MAX_SINGLE_PAPERS
        return [
            top,
            *takewhile(
                lambda hit: hit.score >= ratio * top.score and hit.gate_score >= MIN_SCORE,
                hits[1:most],
            ),
        ]


class LLMAnswerer(Answerer):
    """Streams an answer from an LLM given the question and the numbered sources."""

    streams = True

    def __init__(self, llm: LLM, settings: Settings):
        self.llm = llm
        self.settings = settings
        self.backend = settings.llm or "openai-compatible"
        self.model = settings.llm_model
        self.system_prompt = load_prompt("qa_system")

    def draft(
        self,
        question: str,
        question_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None = None,
    ) -> Draft:
        kwargs = {"temperature": temperature} if temperature is not None else {}
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=self.system_prompt),
            ChatMessage(
                role=MessageRole.USER,
                content=render("qa_user", context=self._sources(hits), question=question),
            ),
        ]
        stream = self.llm.stream_chat(messages, **kwargs)
        return Draft(
            pieces=(chunk.delta or "" for chunk in stream),
            passages=[" ".join(hit.passages[:PASSAGES_PER_SOURCE]) or hit.abstract for hit in hits],
        )

    def _sources(self, hits: Sequence[PaperHit]) -> str:
        """Numbered sources for the prompt, trimmed to fit the model's context window."""
        settings = self.settings
        budget_tokens = settings.llm_context_window - settings.max_tokens - PROMPT_OVERHEAD_TOKENS
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

    def describe_failure(self, error: BaseException) -> str:
        return describe_failure(error, self.settings)
