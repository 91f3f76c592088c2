"""Per-revision cache folders (the BM25 index, the paper catalogue, the sentence vectors):
each written whole under a staging name, renamed into place, the other revisions dropped.

An engine reading a revision's folder never sees it half written, and one reading the live
revision keeps it while an ingest prepares the next (``keep``).

Each file is recorded as written (:func:`file_record`: its sha256, size and modification
time). An engine starting on a folder hashes only the files whose size or modification time
differ from the record (a file rewritten, truncated, copied elsewhere): hashing gigabytes
at every start would cost seconds on a large store. ``ingest --check`` hashes every file
(:func:`thorough_checks`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_THOROUGH: ContextVar[bool] = ContextVar("thorough_checks", default=False)


@contextmanager
def publish(target: Path, keep: Iterable[Path] = ()) -> Iterator[Path]:
    """A staging folder beside ``target`` to write into; on leaving the block without an
    error it replaces ``target``, and every other folder beside it (older revisions,
    abandoned staging folders) is removed, except ``keep`` (the revision engines serve until
    the new one is published). A failed write leaves its staging folder to the next one."""
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    yield staging
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    kept = {target, *keep}
    for old in root.iterdir():
        if old not in kept:
            shutil.rmtree(old, ignore_errors=True)


def file_digest(path: Path) -> str:
    """The file's sha256, hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_record(path: Path) -> dict[str, int | str]:
    """What :func:`intact` compares a file with later: its sha256, size and modification
    time, taken once the file is written whole."""
    stat = path.stat()
    return {"sha256": file_digest(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def intact(path: Path, record: dict | str) -> bool:
    """Whether the file is as :func:`file_record` recorded it: the same size and, unless its
    modification time is the recorded one (and checks are not thorough), the same sha256.
    ``record`` may be a bare sha256 (folders written before sizes were recorded)."""
    if isinstance(record, str):
        record = {"sha256": record}
    stat = path.stat()
    if "bytes" in record and stat.st_size != record["bytes"]:
        return False
    if not _THOROUGH.get() and stat.st_mtime_ns == record.get("mtime_ns"):
        return True
    return file_digest(path) == record.get("sha256")


@contextmanager
def thorough_checks() -> Iterator[None]:
    """Within the block, :func:`intact` hashes every file (``ingest --check``)."""
    token = _THOROUGH.set(True)
    try:
        yield
    finally:
        _THOROUGH.reset(token)
