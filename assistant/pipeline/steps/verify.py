"""Verify: the draft streams through the leak guard and citation rewriter, then every
claim is judged against the passages it cites. An LLM's failure here is recorded (the
fallback step answers instead); the extractive answerer's is a bug and propagates."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.checks import UnsupportedAnswer, as_events, judge_claims, screen
from assistant.pipeline.state import QueryState, Settled
from assistant.pipeline.steps.base import Step
from assistant.support import SupportChecker
from assistant.text.phrasing import declines


class Verify(Step):
    name = "verify"

    def __init__(self, support: SupportChecker):
        self.support = support

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        answerer, draft = state.answerer, state.draft
        if state.failure is not None or answerer is None or draft is None:
            return
        try:
            state.screened = yield from as_events(screen(draft, answerer, state.hits))
            if answerer.generative and not state.screened.citations:
                if declines(state.screened.text):  # as its instructions say: a decline
                    state.settled = Settled("llm_declined")
                    return
            state.claims = judge_claims(state.screened.text, state.screened.citations, self.support)
            supported = any(c is not None and c.verdict == "supported" for _, c in state.claims)
            if answerer.generative and not supported:
                raise UnsupportedAnswer("no claim is supported by the passage it cites")
        except Exception as error:
            if not answerer.generative:
                raise
            state.failure = error
