"""What one ingest changed in the store, so the caches of a revision can be updated from
those of the revision before instead of rebuilt from every stored chunk.

Only chunk ids: a cache reads the chunks written back from the store (exactly what a full
build would read for them), and drops the removed ones. A cache whose ``base`` revision is
missing, damaged or of an older layout is rebuilt whole, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llama_index.core.schema import TextNode


@dataclass(frozen=True)
class StoreChanges:
    """The chunk ids an ingest wrote (new, rewritten, relabelled; in write order) and
    removed, on top of the store's revision ``base``."""

    base: str
    written: tuple[str, ...]
    removed: frozenset[str]

    @classmethod
    def of(
        cls, written: Iterable[TextNode | str], removed: Iterable[str], base: str
    ) -> StoreChanges:
        ids = (item if isinstance(item, str) else item.id_ for item in written)
        return cls(base=base, written=tuple(dict.fromkeys(ids)), removed=frozenset(removed))
