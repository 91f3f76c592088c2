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
The thresholds were set on the conversations of eval/dev.jsonl and eval/answers_dev.jsonl.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from assistant.catalog import PaperCatalog
from assistant.citations import parse_sources
from assistant.core.schema import Paper
from assistant.prompts import load_prompt, render
from assistant.retrieval import PaperHit
from assistant.vocabulary import Vocabulary

log = logging.getLogger(__name__)

SWITCH_SCORE = 0.75  # a message referring back still switches on a match this confident…
SWITCH_MAX_OVERLAP = 0.2  # …when it shares this little wording with the conversation's paper
STAYS_OVERLAP = 0.4  # a message sharing this much with the paper stays on it
ABOUT_PAPER_OVERLAP = 0.3  # an unmatched message sharing this much is a follow-up
TRANSCRIPT_TURNS = 3
TRANSCRIPT_ANSWER_CHARS = 600

_BACK_REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|he|she|his|her|these|those|"
    r"(this|that|the) (paper|papers|method|model|models|approach|work|authors?|study|technique|"
    r"framework|network|architecture|system|dataset|results|variant)|above|previous|"
    r"aforementioned)\b",
    re.IGNORECASE,
)

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
        search: Callable[..., Sequence[PaperHit]],
        relevant: Callable[[str, Sequence[PaperHit]], bool],
    ):
        self.vocabulary = vocabulary
        self.catalog = catalog
        self.llm = llm
        self.search = search
        self.relevant = relevant

    def standalone_query(
        self, message: str, history: History | None, allowed: Collection[str] | None = None
    ) -> str:
        """The query to search for ``message`` given the conversation so far.

        ``allowed``: the paper ids the search filters allow (None: all). A conversation
        whose paper the filters leave out has no paper to follow up on, and the message's
        own search (which decides a follow-up) is filtered the same way.
        """
        turns = as_turns(history)
        paper = self.subject(turns)
        if paper is not None and allowed is not None and paper.paper_id not in allowed:
            paper = None
        if paper is None or not self.follows_up(message, paper, allowed):
            return message
        if self.llm is not None:
            try:
                return f"{self._rewrite_with_llm(message, turns, paper)} {paper.title}"
            except Exception as error:
                log.warning("condense failed (%s); using the heuristic", type(error).__name__)
        return f"{message} {paper.title}"

    def subject(self, turns: Sequence[Turn]) -> Paper | None:
        """The conversation's paper: the first one cited by the latest answer that cited one."""
        for _, answer in reversed(turns):
            for title in parse_sources(answer):
                paper = self.catalog.by_title(title)
                if paper is not None:
                    return paper
        return None

    def follows_up(
        self, message: str, paper: Paper, allowed: Collection[str] | None = None
    ) -> bool:
        """Whether ``message`` is about the conversation's ``paper`` (see the module doc)."""
        named_unknowns, _ = self.vocabulary.unknown_terms(message)
        refers_back = bool(_BACK_REFERENCE.search(message))
        shared = self.shared_wording(message, f"{paper.title} {paper.abstract}")
        # ``search(message)`` unfiltered, ``search(message, allowed)`` filtered
        hits = self.search(message) if allowed is None else self.search(message, allowed)
        if hits and self.relevant(message, hits):
            if hits[0].paper_id == paper.paper_id:
                return True
            if refers_back:
                return not (hits[0].gate_score >= SWITCH_SCORE and shared < SWITCH_MAX_OVERLAP)
            return shared >= STAYS_OVERLAP
        if named_unknowns:
            return False  # about something the corpus never mentions: decline it
        return refers_back or shared >= ABOUT_PAPER_OVERLAP

    def shared_wording(self, message: str, text: str) -> float:
        """The idf-weighted share of the message's content words that ``text`` uses."""
        return self.vocabulary.share(self.vocabulary.terms(message), self.vocabulary.terms(text))

    def _rewrite_with_llm(self, message: str, turns: Sequence[Turn], paper: Paper) -> str:
        assert self.llm is not None
        transcript = "\n".join(
            f"User: {user}\nAssistant: {answer[:TRANSCRIPT_ANSWER_CHARS]}"
            for user, answer in turns[-TRANSCRIPT_TURNS:]
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
