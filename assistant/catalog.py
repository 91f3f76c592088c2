"""The papers the engine can cite: id → paper, and lookup by title.

Read once from the store (whole abstracts, as ingested) when the engine starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.core.schema import Paper, title_key


class PaperCatalog:
    """paper_id → :class:`Paper` (title, abstract, sources, dates), plus title lookup."""

    def __init__(self, papers: Iterable[Paper], chunk_count: int):
        self.papers: dict[str, Paper] = {paper.paper_id: paper for paper in papers}
        self.chunk_count = chunk_count
        self._by_title = {title_key(paper.title): paper for paper in self.papers.values()}

    def __len__(self) -> int:
        return len(self.papers)

    def by_title(self, title: str) -> Paper | None:
        return self._by_title.get(title_key(title))
