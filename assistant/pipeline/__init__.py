"""A question's path as one pipeline over one state.

``condense → retrieve → gate → premises → caution → draft → verify → llm_verify → fallback →
compose``

Each step (:mod:`assistant.pipeline.steps`) reads and writes only the
:class:`~assistant.pipeline.state.QueryState`; none imports or calls another. Checks
(gate, premises, verify, llm_verify) record typed findings; the compose step alone turns
findings into the words a user reads (with ``prompts/``) and builds the :class:`Answer`, once.
:func:`run` is the whole loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from assistant.answer import FinalAnswer, StreamEvent
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step


def run(steps: Sequence[Step], state: QueryState) -> Iterator[StreamEvent]:
    """Run the steps in order, streaming their events, until one sets the answer.

    Once a step settles the reply (a decline, a premise reply), only the steps that
    write replies still run."""
    for step in steps:
        if state.settled is not None and not step.runs_when_settled:
            continue
        yield from step.run(state)
        if state.answer is not None:
            yield FinalAnswer(state.answer)
            return
    raise RuntimeError("no step produced an answer")
