"""Conversations: turning a message inside one into a stand-alone search query.

A follow-up ("what datasets did they use?") means nothing to a search engine on its own.
With an LLM configured, the LLM rewrites it from the transcript; without one (or when the
LLM fails) a heuristic appends the paper the last answer cited first. Either way the
conversation's paper stays in the query, so retrieval stays on it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from assistant.catalog import PaperCatalog
from assistant.citations import parse_sources
from assistant.prompts import load_prompt, render
from assistant.relevance import Vocabulary

log = logging.getLogger(__name__)

# Inside a conversation, a message this short is read as a follow-up.
FOLLOW_UP_MAX_WORDS = 8
TRANSCRIPT_TURNS = 3
TRANSCRIPT_ANSWER_CHARS = 600

_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|the (paper|papers|"
    r"method|model|approach|work|authors|study|technique|framework)|above|previous|same|"
    r"compare[ds]?|also)\b",
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

    def __init__(self, vocabulary: Vocabulary, catalog: PaperCatalog, llm: LLM | None):
        self.vocabulary = vocabulary
        self.catalog = catalog
        self.llm = llm

    def looks_like_follow_up(self, message: str) -> bool:
        """Refers back ("they", "that paper"), or is too short to stand alone.

        A short message naming something the corpus never mentions ("What is the capital
        of France?") starts a new subject instead: it is not tied to the last answer.
        """
        if _FOLLOW_UP.search(message):
            return True
        named_unknowns, _ = self.vocabulary.unknown_terms(message)
        return len(message.split()) <= FOLLOW_UP_MAX_WORDS and not named_unknowns

    def standalone_query(self, message: str, history: History | None) -> str:
        """The query to search for ``message`` given the conversation so far."""
        turns = as_turns(history)
        if not turns:
            return message
        last_user, last_answer = turns[-1]
        titles = [t for t in parse_sources(last_answer) if self.catalog.by_title(t)]
        if self.llm is not None:
            try:
                return self._rewrite_with_llm(message, turns, titles)
            except Exception as error:
                log.warning("condense failed (%s); using the heuristic", type(error).__name__)
        if not self.looks_like_follow_up(message):
            return message
        if titles:  # the paper the last answer was about: its first citation
            return f"{message} {titles[0]}"
        return f"{message} {last_user}" if last_user else message

    def _rewrite_with_llm(self, message: str, turns: Sequence[Turn], titles: Sequence[str]) -> str:
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
                        "condense_user",
                        history=transcript,
                        titles="\n".join(titles) or "(none)",
                        question=message,
                    ),
                ),
            ]
        )
        lines = (response.message.content or "").strip().splitlines()
        rewritten = lines[0].strip().strip('"').strip() if lines else ""
        if not rewritten:
            raise EmptyRewrite("empty rewrite")
        # Keep the cited titles in the query: retrieval then stays on the conversation's papers.
        if titles and self.looks_like_follow_up(message):
            rewritten = f"{rewritten} {titles[0]}"
        return rewritten
