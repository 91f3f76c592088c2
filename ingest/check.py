"""``python -m ingest --check``: do the store's three views of the chunks agree?

The chunk ids in the store's metadata are the reference. For each one the check asks:

- the vector index: can its vector be read? (every chunk: reading vectors a page at a time
  is cheap.) Can a search return it? Up to :data:`SEARCH_ALL_UP_TO` chunks, every chunk is
  searched with its own vector, in batched queries (about 0.3 ms a chunk at 10,000 chunks,
  8 ms at a million): lost vectors come in whole write batches but can hit any chunk, and a
  sample would miss a single one. A larger store gets a random sample of
  :data:`SEARCH_SAMPLE` chunks (a million chunks would take over two hours; a lost write
  batch of 256 chunks is still found with odds of 1 - 0.95^256 at a million), and says so;
  ``--check --thorough`` searches every chunk. A chunk that approximate search does not
  rank among its first 10 hits (near duplicates crowd it out) is searched again among its
  own id only, so the verdict does not depend on rank.
- the ingest record: an ingest that did not reach its end (killed) is reported.
- the lexical (BM25) index persisted for the store's current revision: do its files pass
  their checksums and its matrices their bounds? Does it hold the chunk, and nothing else?
- the sentence vectors persisted for that revision: does their checksum hold, and do they
  hold exactly the sentences of the stored abstracts (a vector for each, none else)?
- the paper catalogue persisted for that revision: does its checksum hold, and does it hold
  exactly the stored papers, as their first chunks say, and the store's chunk count?

Every difference is one line. The check holds the writer lock (an ingest running at the
same time would show half-written states), and reads only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.core.lexical import DamagedIndex, LexicalIndex
from assistant.core.paper_file import DamagedPapers, PaperFile
from assistant.core.revision_folders import thorough_checks
from assistant.core.schema import CHUNK_INDEX, TITLE, Paper
from assistant.core.sentence_vectors import (
    DamagedVectors,
    SentenceVectors,
    abstract_sentences,
    sentence_keys,
)
from assistant.core.settings import Settings
from assistant.core.store import PaperStore
from assistant.core.writer_lock import writer_lock

SHOWN_PER_KIND = 50  # longer lists end with a count, so a wrecked store prints a screen, not a book
SEARCH_ALL_UP_TO = 50_000  # chunks searched by their own vector, all of them, up to here
SEARCH_SAMPLE = 50_000  # … and how many, drawn at random, in a larger store


@dataclass
class CheckReport:
    store: str
    collection: str
    revision: str = ""
    chunks: int = 0
    papers: int = 0
    problems: list[str] = field(default_factory=list)  # one line per difference
    notes: list[str] = field(default_factory=list)  # worth knowing, not damage
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        verdict = "clean" if self.clean else f"{len(self.problems)} problem(s)"
        return [
            *self.problems,
            *(f"note: {note}" for note in self.notes),
            f"checked {self.chunks} chunks of {self.papers} papers in {self.store}, collection "
            f"{self.collection!r} (revision {self.revision}) in {self.seconds:.1f} s: {verdict}",
        ]


def check_store(
    settings: Settings,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    search_all_up_to: int | None = SEARCH_ALL_UP_TO,
    search_sample: int = SEARCH_SAMPLE,
) -> CheckReport:
    """Compare metadata, vector index and BM25 index; see the module docstring.
    ``search_all_up_to``: None searches every chunk by its own vector whatever the size."""
    began = time.perf_counter()
    with writer_lock(settings, wait=wait, on_wait=on_wait), thorough_checks():
        report = _check(PaperStore.open(settings, None), settings, search_all_up_to, search_sample)
    report.seconds = time.perf_counter() - began
    return report


def _check(
    store: PaperStore, settings: Settings, search_all_up_to: int | None, search_sample: int
) -> CheckReport:
    report = CheckReport(settings.describe_store(), store.name, store.revision)
    metadata = store.chunk_metadata()
    report.chunks = len(metadata)
    report.papers = sum(1 for m in metadata.values() if m.get(CHUNK_INDEX) == 0)

    def describe(chunk_id: str) -> str:
        m = metadata.get(chunk_id, {})
        return f"{chunk_id} (paper {m.get(TITLE, '?')!r}, chunk {m.get(CHUNK_INDEX, '?')})"

    def add(kind: str, ids: list[str], fix: str) -> None:
        for chunk_id in sorted(ids)[:SHOWN_PER_KIND]:
            report.problems.append(f"{kind}: {describe(chunk_id)}")
        if len(ids) > SHOWN_PER_KIND:
            report.problems.append(f"{kind}: … and {len(ids) - SHOWN_PER_KIND} more")
        if ids:
            report.notes.append(f"{len(ids)} chunk(s) {kind.split(':')[0]}: {fix}")

    ids = list(metadata)
    missing = store.missing_vectors(ids)
    add(
        "vector missing (metadata has it, the vector index cannot return it)",
        missing,
        "`python -m ingest` of files listing their papers re-embeds and rewrites them",
    )
    missing_set = set(missing)
    readable = [i for i in ids if i not in missing_set]
    if search_all_up_to is not None and len(readable) > search_all_up_to:
        searched = random.sample(readable, min(search_sample, len(readable)))
        report.notes.append(
            f"searched {len(searched)} of {len(readable)} chunks, drawn at random, by their "
            "own vectors (every chunk's vector was read); `--check --thorough` searches all"
        )
    else:
        searched = readable
    unfound = store.not_found_by_own_vector(searched)
    add(
        "not found by its own vector (readable, but search does not return it)",
        unfound,
        "`python -m ingest --rebuild` rebuilds the vector index",
    )

    folder = LexicalIndex.folder(settings.cache_dir, store)
    try:
        lexical = LexicalIndex.persisted(store, settings.cache_dir)
    except DamagedIndex as error:
        report.problems.append(
            f"{error}; `python -m ingest` rebuilds it (so does the app, at start)"
        )
        lexical = None
    else:
        if lexical is None:
            report.notes.append(
                f"no BM25 index persisted for this revision under {settings.cache_dir}; the "
                "engine builds it at start (not checked)"
            )
    if lexical is not None:
        held = lexical.chunk_ids()
        fix = f"delete {folder}; the engine and the next ingest rebuild it"
        add("missing from the BM25 index", [i for i in ids if i not in held], fix)
        extra = sorted(held - metadata.keys())
        for chunk_id in extra[:SHOWN_PER_KIND]:
            report.problems.append(f"in the BM25 index but not in the store: {chunk_id}")
        if extra:
            report.notes.append(f"{len(extra)} chunk(s) only in the BM25 index: {fix}")
    _check_sentences(store, settings, report)
    _check_papers(store, settings, report, metadata)
    if store.count() != len(metadata):
        report.problems.append(
            f"the collection counts {store.count()} chunks but its metadata lists {len(metadata)}"
        )
    for pending in store.unfinished_ingests():
        report.problems.append(
            f"an ingest of {pending} did not finish (it was interrupted): run it again; "
            "it writes only what is missing"
        )
    for name in store.other_collections():
        report.notes.append(f"side collection {name!r} present (kept or left by --rebuild)")
    return report


def _check_sentences(store: PaperStore, settings: Settings, report: CheckReport) -> None:
    """The persisted sentence vectors against the sentences of the stored abstracts."""
    folder = SentenceVectors.folder(settings.cache_dir, store)
    fix = "`python -m ingest` stores them again"
    try:
        vectors = SentenceVectors.read(folder)
    except DamagedVectors as error:
        report.problems.append(f"{error}; {fix}")
        return
    if vectors is None:
        report.notes.append(
            f"no sentence vectors persisted for this revision under {settings.cache_dir}; "
            f"extractive answers embed sentences on demand ({fix})"
        )
        return
    sentences, _ = abstract_sentences(paper.abstract for paper in store.papers())
    wanted = np.unique(sentence_keys(sentences))
    missing = int(vectors.missing(wanted).sum())
    if missing:
        report.problems.append(
            f"sentence vectors at {folder} out of step with the store: {missing} sentence(s) "
            f"of stored abstracts without a vector; {fix}"
        )
    stale = vectors.total_rows - (len(wanted) - missing)
    if stale > 0:
        report.notes.append(
            f"{stale} sentence vector(s) of abstracts since removed or rewritten: kept until "
            "the next full build of the sentence vectors (harmless)"
        )


def _check_papers(
    store: PaperStore, settings: Settings, report: CheckReport, metadata: dict[str, dict]
) -> None:
    """The persisted paper catalogue against the papers the first chunks hold."""
    folder = PaperFile.folder(settings.cache_dir, store)
    fix = "`python -m ingest` writes it again (the engine reads the store without it)"
    try:
        found = PaperFile.read(folder)
    except DamagedPapers as error:
        report.problems.append(f"{error}; {fix}")
        return
    if found is None:
        report.notes.append(
            f"no paper catalogue persisted for this revision under {settings.cache_dir}; "
            f"the engine reads every paper from the store at start ({fix})"
        )
        return
    papers, chunks = found
    stored = {
        paper.paper_id: paper
        for paper in (Paper.from_metadata(m) for m in metadata.values() if m.get(CHUNK_INDEX) == 0)
    }
    held = {paper.paper_id: paper for paper in papers}
    missing = stored.keys() - held.keys()
    extra = held.keys() - stored.keys()
    differ = [pid for pid in stored.keys() & held.keys() if stored[pid] != held[pid]]
    if missing or extra or differ or len(held) != len(papers) or chunks != len(metadata):
        report.problems.append(
            f"paper catalogue at {folder} out of step with the store: {len(missing)} stored "
            f"paper(s) missing, {len(extra)} paper(s) not stored, {len(differ)} differing, "
            f"{chunks} chunks counted against {len(metadata)} stored; {fix}"
        )
