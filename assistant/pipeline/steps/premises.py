"""Premises: what the question takes for granted that the papers do not bear out.

An absent paper or a wrong figure settles the reply; a combination no single paper covers
becomes a caution that comes with the answer."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.pipeline.state import QueryState, Settled
from assistant.pipeline.steps.base import Step
from assistant.premises import PremiseChecker, replaces_answer


class Premises(Step):
    name = "premises"

    def __init__(self, premises: PremiseChecker):
        self.premises = premises

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        question, hits = state.question, state.hits
        findings = self.premises.check(question, hits, state.lookups.for_premises())
        if replaces_answer(findings):
            subject = self.premises.subject(question, hits) if hits else None
            reported = self.premises.reported_figures(question, subject) if subject else ""
            state.settled = Settled("premise", findings, subject, reported)
        else:
            state.cautions = findings
        yield from ()
