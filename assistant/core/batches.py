"""A long sequence a bounded slice at a time: every read, write and query that must stay
under a store's or SQLite's limits goes through :func:`batches` (``itertools.batched``
arrives with Python 3.12)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in order, ``size`` at a time (the last batch may be shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
