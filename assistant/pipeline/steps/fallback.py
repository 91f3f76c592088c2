"""Fallback: when the LLM failed (unreachable, cut off, reciting its prompt, or nothing it
wrote supported), the extractive answer is drafted and checked in its place."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.answerers import Answerer
from assistant.checks import drain, judge_claims, screen
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step
from assistant.support import SupportChecker

log = logging.getLogger(__name__)


class Fallback(Step):
    name = "fallback"

    def __init__(self, extractive: Answerer, support: SupportChecker):
        self.extractive = extractive
        self.support = support

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        if state.failure is None:
            return
        log.warning("LLM failed: %s", type(state.failure).__name__)
        vector = state.lookups.query_vector(state.question)
        draft = self.extractive.draft(state.question, vector, state.hits)
        # shown whole, after the notice, by the compose step
        state.screened = drain(screen(draft, self.extractive, state.hits))
        state.claims = judge_claims(state.screened.text, state.screened.citations, self.support)
        state.answerer, state.draft = self.extractive, draft
        yield from ()
