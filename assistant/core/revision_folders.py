"""Per-revision cache folders (the BM25 index, the paper catalogue, the sentence vectors):
each written whole under a staging name, renamed into place, the other revisions dropped.

An engine reading a revision's folder never sees it half written, and one reading the live
revision keeps it while an ingest prepares the next (``keep``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


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
