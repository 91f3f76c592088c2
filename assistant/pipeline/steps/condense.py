"""Condense: a follow-up becomes a stand-alone query; anything else is searched as asked."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.conversation import Conversation
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step
from assistant.relevance import RelevanceGate


class Condense(Step):
    name = "condense"

    def __init__(self, conversation: Conversation, gate: RelevanceGate):
        self.conversation = conversation
        self.gate = gate

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        state.query = state.question
        paper = self.conversation.subject(state.turns, state.allowed)
        if paper is not None:
            # what the message finds on its own; the retrieve step reuses it (memoised)
            hits = state.lookups.search(state.question)
            relevant = self.gate.relevant(state.question, hits)
            if self.conversation.follows_up(state.question, paper, hits, relevant):
                state.query = self.conversation.standalone(state.question, state.turns, paper)
        yield from ()
