"""Conversations: turning a message inside one into a stand-alone search query.

A follow-up ("what datasets did they use?", or "which hospital provided the scans?") means
nothing to a search engine on its own; a new question inside the same chat ("separately,
which paper …?") must not be dragged back to the old subject; and a general-knowledge
question ("what is the tallest mountain in Africa?") must be declined, not answered from
the last paper. Each message is classified with cheap, explainable signals:

- a back-reference ("they", "its", "the authors", "those modules");
- what the message retrieves on its own: a confident match on another paper means a new
  subject (unless the message refers back and the match is weak);
- how much of the message's wording (idf-weighted) the conversation's paper shares;
- words naming something the corpus never mentions ("Berlin", "Mona Lisa").

A follow-up is searched with the conversation's paper title appended (an LLM, when one is
configured, first rewrites it from the transcript), so retrieval stays on that paper.
The thresholds are :class:`~assistant.tuning.ConversationTuning` fields. The message's own
search is done by the condense step (through the query state, so it is never repeated)
and handed in.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from assistant.catalog import PaperCatalog
from assistant.citations import parse_sources
from assistant.core.schema import Paper
from assistant.hits import PaperHit
from assistant.prompts import load_prompt, render
from assistant.text.phrasing import refers_back
from assistant.tuning import ConversationTuning
from assistant.vocabulary import Vocabulary

log = logging.getLogger(__name__)

History = Sequence[Any]
Turn = tuple[str, str]  # (user message, assistant answer markdown)


def as_turns(history: History | None) -> list[Turn]:
    """The Python API's two history shapes as turns: ``(user, assistant)`` pairs, or
    OpenAI-style ``{"role", "content"}`` messages with text content."""
    turns: list[Turn] = []
    pending_user: str | None = None
    for item in history or []:
        if isinstance(item, dict):
            role, content = item.get("role"), str(item.get("content") or "")
            if role == "user":
                pending_user = content
            elif role == "assistant":
                turns.append((pending_user or "", content))
                pending_user = None
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            turns.append((str(item[0] or ""), str(item[1] or "")))
    return turns


class EmptyRewrite(RuntimeError):
    """The LLM returned no stand-alone question."""


class Conversation:
    """Decides whether a message follows up on the conversation, and what to search for."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        catalog: PaperCatalog,
        llm: LLM | None,
        tuning: ConversationTuning | None = None,
    ):
        self.vocabulary = vocabulary
        self.catalog = catalog
        self.llm = llm
        self.tuning = tuning or ConversationTuning()

    def subject(
        self, turns: Sequence[Turn], allowed: Collection[str] | None = None
    ) -> Paper | None:
        """The conversation's paper: the first one cited by the latest answer that cited one.

        ``allowed``: the paper ids the search filters allow (None: all); a conversation
        whose paper the filters leave out has no paper to follow up on."""
        for _, answer in reversed(turns):
            for title in parse_sources(answer):
                paper = self.catalog.by_title(title)
                if paper is not None:
                    return paper if allowed is None or paper.paper_id in allowed else None
        return None

    def follows_up(
        self, message: str, paper: Paper, hits: Sequence[PaperHit], relevant: bool
    ) -> bool:
        """Whether ``message`` is about the conversation's ``paper`` (see the module doc).

        ``hits``: what the message retrieves on its own (filtered like the turn);
        ``relevant``: whether the relevance gate accepts them."""
        tuning = self.tuning
        named_unknowns, _ = self.vocabulary.unknown_terms(message)
        back = refers_back(message)
        shared = self.shared_wording(message, f"{paper.title} {paper.abstract}")
        if hits and relevant:
            if hits[0].paper_id == paper.paper_id:
                return True
            if back:
                return not (
                    hits[0].gate_score >= tuning.switch_score and shared < tuning.switch_max_overlap
                )
            return shared >= tuning.stays_overlap
        if named_unknowns:
            return False  # about something the corpus never mentions: decline it
        return back or shared >= tuning.about_paper_overlap

    def standalone(self, message: str, turns: Sequence[Turn], paper: Paper) -> str:
        """A follow-up as a stand-alone query: the LLM's rewrite (when one is configured)
        or the message, with the conversation's paper title appended."""
        if self.llm is not None:
            try:
                return f"{self._rewrite_with_llm(message, turns, paper)} {paper.title}"
            except Exception as error:
                log.warning("condense failed (%s); using the heuristic", type(error).__name__)
        return f"{message} {paper.title}"

    def shared_wording(self, message: str, text: str) -> float:
        """The idf-weighted share of the message's content words that ``text`` uses."""
        return self.vocabulary.share(self.vocabulary.terms(message), self.vocabulary.terms(text))

    def _rewrite_with_llm(self, message: str, turns: Sequence[Turn], paper: Paper) -> str:
        assert self.llm is not None
        tuning = self.tuning
        transcript = "\n".join(
            f"User: {user}\nAssistant: {answer[: tuning.transcript_answer_chars]}"
            for user, answer in turns[-tuning.transcript_turns :]
        )
        response = self.llm.chat(
            [
                ChatMessage(role=MessageRole.SYSTEM, content=load_prompt("condense_system")),
                ChatMessage(
                    role=MessageRole.USER,
                    content=render(
                        "condense_user", history=transcript, titles=paper.title, question=message
                    ),
                ),
            ]
        )
        lines = (response.message.content or "").strip().splitlines()
        rewritten = lines[0].strip().strip('"').strip() if lines else ""
        if not rewritten:
            raise EmptyRewrite("empty rewrite")
        return rewritten
