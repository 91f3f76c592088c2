"""What every step is: a name, and a run over the query state that may stream events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from assistant.answer import StreamEvent
from assistant.pipeline.state import QueryState


class Step(ABC):
    """One stage of the pipeline (as llama-index's retrievers and postprocessors share one
    interface). ``run`` reads and writes ``state`` and yields the text it streams."""

    name: str
    runs_when_settled: bool = False  # still runs once an earlier step settled the reply

    @abstractmethod
    def run(self, state: QueryState) -> Iterator[StreamEvent]: ...
