"""The papers the engine can cite: id → paper, and lookup by title.

Read once when the engine starts (whole abstracts, as ingested), from the catalogue file
ingest wrote for the store's revision (:mod:`assistant.core.paper_file`); from the store
itself only when there is none (and then written for the next start).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from assistant.core.paper_file import PaperFile
from assistant.core.schema import Paper, title_key
from assistant.core.store import PaperStore
from assistant.filters import SearchFilters, matching_ids

MATCHING_CACHE = 64  # filter sets whose allowed ids are remembered


class PaperCatalog:
    """paper_id → :class:`Paper` (title, abstract, sources, dates), plus title lookup."""

    def __init__(self, papers: Iterable[Paper], chunk_count: int):
        self.papers: dict[str, Paper] = {paper.paper_id: paper for paper in papers}
        self.chunk_count = chunk_count
        self._by_title = {title_key(paper.title): paper for paper in self.papers.values()}
        self._matching: dict[SearchFilters, frozenset[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: PaperStore, cache_dir: Path) -> PaperCatalog:
        """The catalogue of the store's revision (see the module docstring)."""
        papers, chunk_count = PaperFile.load(store, cache_dir)
        return cls(papers, chunk_count)

    def __len__(self) -> int:
        return len(self.papers)

    def by_title(self, title: str) -> Paper | None:
        return self._by_title.get(title_key(title))

    def matching(self, filters: SearchFilters | None) -> frozenset[str] | None:
        """The ids of the papers ``filters`` allow; None when nothing is filtered out (no
        filters, or filters every paper passes), so a search takes its unfiltered path."""
        if filters is None or filters.is_empty:
            return None
        with self._lock:
            allowed = self._matching.get(filters)
        if allowed is None:
            allowed = matching_ids(self.papers.values(), filters)
            with self._lock:
                if len(self._matching) >= MATCHING_CACHE:
                    self._matching.pop(next(iter(self._matching)))
                self._matching[filters] = allowed
        return None if len(allowed) == len(self.papers) else allowed

    def categories(self) -> list[str]:
        """Every category a paper carries, sorted (for a filter's choices)."""
        found = {c for paper in self.papers.values() for c in (paper.categories or "").split()}
        return sorted(found, key=str.casefold)

    def sources(self) -> list[str]:
        """Every source file label, sorted (for a filter's choices)."""
        return sorted(
            {s for paper in self.papers.values() for s in paper.sources}, key=str.casefold
        )
