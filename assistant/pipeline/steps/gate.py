"""Gate: does the corpus hold the answer at all? If not, the reply is settled (declined)."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.pipeline.state import QueryState, Settled
from assistant.pipeline.steps.base import Step
from assistant.premises import PremiseChecker
from assistant.relevance import RelevanceGate


class Gate(Step):
    name = "gate"

    def __init__(self, gate: RelevanceGate, premises: PremiseChecker):
        self.gate = gate
        self.premises = premises

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        if state.allowed is not None and not state.allowed:  # the filters leave no paper
            state.settled = Settled("no_match")
        elif not self.gate.relevant(state.query, state.hits):
            # say what the corpus lacks: papers quoted by title, names it never mentions
            question = state.question
            findings = self.premises.absent_titles(question) + self.premises.unknown_names(question)
            state.settled = Settled("not_found", findings)
        yield from ()
