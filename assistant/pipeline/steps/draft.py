"""Draft: the configured answerer writes an answer citing the hits as [n]."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.answerers import Answerer
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step


class Draft(Step):
    name = "draft"

    def __init__(self, answerer: Answerer):
        self.answerer = answerer

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        # Sentences are chosen for what the user asked (less any opening request for
        # papers), not for the searched query, which for a follow-up carries a title.
        vector = state.lookups.query_vector(state.question)
        state.answerer = self.answerer
        try:
            state.draft = self.answerer.draft(state.question, vector, state.hits, state.temperature)
        except Exception as error:  # an LLM that cannot be reached: the fallback step answers
            if not self.answerer.generative:
                raise
            state.failure = error
        yield from ()
