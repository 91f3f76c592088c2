"""Answerers: the retrieved papers in, a draft answer citing them as [n] out.

Every answerer sees the retrieved papers numbered 1…k and writes text whose ``[n]``
markers refer to that numbering. It does not check its own citations: the pipeline's
verify step runs every draft, from any answerer, through the same checks (leak guard,
citation rewriting, claim support), so no answerer can cite a paper that was not retrieved.

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
from assistant.extractive import SentenceRanker, compose
from assistant.hits import PaperHit
from assistant.llm import describe_failure
from assistant.prompts import load_prompt, render
from assistant.text.phrasing import asks_for_papers, is_compound
from assistant.tuning import AnswerTuning


@dataclass
class Draft:
    """An answer as written: text pieces (streamed or not) and each source's passage.

    ``passages[n - 1]`` is what source ``n`` contributed: the citation shows it.
    """

    pieces: Iterable[str]
    passages: list[str]


def source_chars(settings: Settings, tuning: AnswerTuning, sources: int) -> int:
    """Characters of each of ``sources`` sources that fit an LLM prompt in the model's
    context window (with room for its answer and the prompt's own text)."""
    budget_tokens = (
        settings.llm_context_window - settings.max_tokens - tuning.prompt_overhead_tokens
    )
    chars_per_token = 3  # a safe floor for English text in common tokenizers
    return max(tuning.min_source_chars, budget_tokens * chars_per_token // max(1, sources))


def numbered_sources(
    settings: Settings, tuning: AnswerTuning, sources: Sequence[tuple[int, str, str]]
) -> str:
    """The prompt's sources block: each ``(number, title, text)`` as ``prompts/source.txt``,
    its text trimmed so that all of them fit the model's context window. The answering
    prompt and the verification prompt show sources the same way."""
    per_source = source_chars(settings, tuning, len(sources))
    return "\n\n".join(
        render("source", number=number, title=title, passages=text[:per_source])
        for number, title, text in sources
    )


class Answerer(ABC):
    """Writes an answer from numbered sources."""

    backend: str
    model: str | None = None
    streams: bool = False  # whether text arrives piece by piece
    # An answerer that writes freely (an LLM): its answer needs at least one supported
    # claim, and any failure of it is replaced by the extractive answer.
    generative: bool = False
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

    def __init__(self, ranker: SentenceRanker, tuning: AnswerTuning, min_relevance: float):
        """``min_relevance``: the relevance gate's floor; a runner-up below it is not cited."""
        self.ranker = ranker
        self.tuning = tuning
        self.min_relevance = min_relevance

    def draft(
        self,
        question: str,
        question_vector: Sequence[float],
        hits: Sequence[PaperHit],
        temperature: float | None = None,
    ) -> Draft:
        tuning = self.tuning
        chosen = self.choose_papers(question, hits)
        if len(chosen) > 1:
            per_paper = tuning.sentences_many_papers
        else:
            broad = is_compound(question) or len(question.split()) <= tuning.short_question_words
            per_paper = tuning.sentences_broad if broad else tuning.sentences_one_paper
        text, passages = compose(question, question_vector, chosen, self.ranker, per_paper)
        return Draft(pieces=[text], passages=passages + [""] * (len(hits) - len(chosen)))

    def choose_papers(self, question: str, hits: Sequence[PaperHit]) -> list[PaperHit]:
        """The papers to cite: a prefix of the hits (sorted by score), so paper n stays [n]."""
        top, tuning = hits[0], self.tuning
        if asks_for_papers(question):
            ratio, most = tuning.plural_ratio, len(hits)
        else:
            ratio, most = tuning.near_tie_ratio, tuning.max_single_papers
        return [
            top,
            *takewhile(
                lambda hit: hit.score >= ratio * top.score and hit.gate_score >= self.min_relevance,
                hits[1:most],
            ),
        ]


class LLMAnswerer(Answerer):
    """Streams an answer from an LLM given the question and the numbered sources."""

    streams = True
    generative = True

    def __init__(self, llm: LLM, settings: Settings, tuning: AnswerTuning):
        self.llm = llm
        self.settings = settings
        self.tuning = tuning
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
            passages=[
                " ".join(hit.passages[: self.tuning.passages_per_source]) or hit.abstract
                for hit in hits
            ],
        )

    def _sources(self, hits: Sequence[PaperHit]) -> str:
        """Numbered sources for the prompt, trimmed to fit the model's context window."""
        return numbered_sources(
            self.settings,
            self.tuning,
            [
                (
                    number,
                    hit.title,
                    "\n".join(hit.passages[: self.tuning.passages_per_source]) or hit.abstract,
                )
                for number, hit in enumerate(hits, start=1)
            ],
        )

    def describe_failure(self, error: BaseException) -> str:
        return describe_failure(error, self.settings)
