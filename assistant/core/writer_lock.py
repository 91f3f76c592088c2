"""One writer at a time on an embedded store: an OS file lock beside the Chroma files.

Chroma's embedded mode is not safe for two writing processes: each keeps its own copy of a
collection's vector index (HNSW) in memory and writes it back whole, so two concurrent
ingests overwrite each other's index files. Whole write batches then lose their vectors
while their metadata stays ("Error finding id"), and a rerun calls them unchanged.

So every writer of an embedded store (``python -m ingest``, the app's first-start ingest,
``ingest --check``, which must see a settled store) holds ``<chroma_path>/ingest.lock``.
It is an ``flock``-style lock (the ``filelock`` package): the kernel releases it when the
holder exits, even by ``kill -9``, so a crash never leaves a stale lock behind. Readers (the
app, ``python -m assistant``) never take it.

A Chroma server serialises writes itself, and two concurrent ingests into one lose nothing
(``tests/test_store_safety.py`` runs two real processes against ``chroma run``), so no lock
is taken there while they write. Publishing is another matter: each ingest writes caches
(BM25, catalogue, sentence vectors) for the revision it is about to publish and drops the
other revisions' folders, so two publishing at once could drop each other's before either
revision is live. Every ingest therefore publishes under ``<cache_dir>/publish.lock``
(:func:`publish_lock`), held for seconds, not for the writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.core.settings import Settings
from assistant.core.store import StoreError

log = logging.getLogger(__name__)

LOCK_NAME = "ingest.lock"
PUBLISH_LOCK_NAME = "publish.lock"


class StoreBusy(StoreError):
    """Another process is writing the store and the caller chose not to wait."""


def lock_path(settings: Settings) -> Path | None:
    """The lock file of an embedded store; None for a Chroma server (it needs none)."""
    if settings.chroma_host:
        return None
    return Path(settings.chroma_path) / LOCK_NAME


@contextmanager
def writer_lock(
    settings: Settings, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's writer lock for the ``with`` block.

    When another process holds it: with ``wait`` (the default) report one line through
    ``on_wait`` and wait for it; without, raise :class:`StoreBusy` at once.
    """
    path = lock_path(settings)
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create {path.parent}: {error}") from error
    lock = FileLock(str(path))
    busy = f"another ingest is writing to {settings.describe_store()} (lock file {path})"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise StoreBusy(f"{busy}; not waiting (--no-wait)") from None
        if on_wait is not None:
            on_wait(f"{busy}; waiting")
        lock.acquire()
    except OSError as error:  # read-only directory
        raise StoreError(f"cannot lock {path}: {error}") from error
    try:
        yield
    finally:
        lock.release()


@contextmanager
def publish_lock(settings: Settings) -> Iterator[None]:
    """Hold the cache folder's publish lock for the ``with`` block, waiting for it silently
    (another ingest holds it only while it writes its caches and publishes). A cache folder
    that cannot be written holds no caches to race over: the block then runs unlocked."""
    path = Path(settings.cache_dir) / PUBLISH_LOCK_NAME
    lock = FileLock(str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as error:
        log.warning("cannot lock %s (%s); publishing without it", path, error)
        yield
        return
    try:
        yield
    finally:
        lock.release()
