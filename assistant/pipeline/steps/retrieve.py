"""Retrieve: the best papers for the searched query (hybrid search, filtered)."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step


class Retrieve(Step):
    name = "retrieve"

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        state.hits = state.lookups.search(state.query, state.top_k)
        yield from ()
