"""Ingest: parse → validate → chunk → embed only what is new → write → remove what is stale.

Safety rules this module keeps:
- Everything is parsed and validated before the store is touched, so bad input cannot
  damage what is stored.
- Chunk ids are derived from paper identity and content, and new chunks are written in
  batches with ``upsert``: a run killed at any point (even ``kill -9``) leaves only whole
  chunks, and the next run writes what is missing without duplicating anything.
- A paper's outdated chunks are deleted only after its new chunks are written, so a paper
  is never absent from the store.
- Papers are identified by content (their title), never by an id a file gives them, so
  files cannot replace each other's papers; a paper listed again by a later run keeps the
  sources of earlier ones, and papers stored under the ids of earlier versions are re-keyed
  with their stored vectors (``ingest.reconcile``).
- ``--rebuild`` fills a staging collection and swaps it in at the end; the old collection
  serves until the new one is complete, and running engines move over when they notice.
- One writer at a time on an embedded store (:mod:`assistant.core.writer_lock`): a second
  ingest waits, or with ``wait=False`` fails at once with :class:`StoreBusy`.
- Each abstract sentence is embedded once, for extractive answers, and persisted for the
  revision before it is published (:mod:`assistant.core.sentence_vectors`), like BM25 and
  the paper catalogue (:mod:`assistant.core.paper_file`), which is updated from the previous
  revision's with the chunks this run wrote and removed.
- Stored chunks of the papers a run lists whose vector the vector index lost are
  re-embedded from their stored text and rewritten, instead of being called unchanged
  (``python -m ingest --check`` lists them all, whichever papers they belong to).
- What a run reads grows with what it lists, not with the store: only the listed papers'
  stored chunks are read (and their vectors checked), once the store is marked as holding
  content ids only. A store without that mark (from an earlier version, or new) is read
  whole once, to re-key what earlier versions stored under other ids, and then marked
  (:func:`stored_chunks`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from tqdm import tqdm

from assistant.core.batches import batches
from assistant.core.changes import StoreChanges
from assistant.core.embeddings import Embedder, build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.paper_file import PaperFile
from assistant.core.schema import Paper
from assistant.core.sentence_vectors import SentenceVectors
from assistant.core.settings import Settings
from assistant.core.store import (
    PaperStore,
    StoreError,
    metadata_matches,
    new_revision,
    open_client,
)
from assistant.core.writer_lock import publish_lock, writer_lock
from ingest.chunking import chunk_papers, embedded_text
from ingest.parsers import ParseResult, parse_paths
from ingest.reconcile import ChunkMetadata, ContentIds, plan_writes, stale_chunks
from ingest.records import Problem

log = logging.getLogger(__name__)


class NothingToIngest(Exception):
    """No paper could be read from the inputs; ``problems`` says why, file by file."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("no papers could be ingested")


@dataclass
class IngestReport:
    files: int = 0
    papers: int = 0
    duplicates_merged: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_unchanged: int = 0
    chunks_repaired: int = 0
    chunks_relabelled: int = 0
    chunks_deleted: int = 0
    chunks_rekeyed: int = 0
    papers_rekeyed: int = 0
    papers_in_store: int = 0
    chunks_in_store: int = 0
    sentences_embedded: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    store: str = ""
    embedding_model: str = ""

    @property
    def papers_per_second(self) -> float:
        return self.papers / self.seconds if self.seconds else 0.0

    def summary_lines(self) -> list[str]:
        return [
            f"store            {self.store} ({self.embedding_model})",
            f"files            {self.files}",
            f"papers           {self.papers} ({self.duplicates_merged} duplicate listings merged)",
            f"chunks embedded  {self.chunks_embedded}",
            f"chunks unchanged {self.chunks_unchanged}",
            f"chunks repaired  {self.chunks_repaired} (vector was missing; re-embedded)",
            f"chunks relabelled {self.chunks_relabelled} (metadata only, not re-embedded)",
            f"chunks removed   {self.chunks_deleted} (outdated versions)",
            *(
                [
                    f"re-keyed         {self.papers_rekeyed} more stored papers, "
                    f"{self.chunks_rekeyed} chunks (old ids; vectors reused, nothing re-embedded)"
                ]
                if self.papers_rekeyed or self.chunks_rekeyed
                else []
            ),
            f"in store         {self.papers_in_store} papers, {self.chunks_in_store} chunks",
            f"sentences embedded {self.sentences_embedded} (for extractive answers; stored "
            "ones are reused)",
            f"seconds          {self.seconds:.2f} (embedding {self.embed_seconds:.2f})",
            f"papers/second    {self.papers_per_second:.1f}",
        ]


def _reusable_vectors(
    store: PaperStore, stored: dict, stale: Sequence[str], nodes: Sequence[TextNode]
) -> dict[str, list[float]]:
    """Embedded text → stored vector, for new chunks whose text a re-keyed stale chunk holds.

    Only chunks stored under an old id can hold the very text of a new chunk (a chunk's id
    hashes its paper id and text), so only those vectors are read.
    """
    content_id = ContentIds()
    rekeyed = [chunk_id for chunk_id in stale if content_id.rekeyed(stored[chunk_id])]
    if not rekeyed:
        return {}
    needed = {embedded_text(node) for node in nodes}
    vectors: dict[str, list[float]] = {}
    for _, document, metadata, vector in store.chunk_vectors(rekeyed):
        text = embedded_text(metadata_dict_to_node(metadata, text=document))
        if text in needed:
            vectors[text] = vector
    return vectors


def _embed_and_write(
    nodes: Sequence[TextNode],
    embedder: Embedder,
    write: Callable[[Sequence[TextNode], Sequence[Sequence[float]]], None],
    progress: bool,
    on_batch: Callable[[int, int], None] | None,
    batch_size: int,
    desc: str = "embedding",
) -> float:
    """Embed ``nodes`` and ``write`` them ``batch_size`` at a time; returns seconds spent
    embedding."""
    embed_seconds = 0.0
    with tqdm(total=len(nodes), desc=desc, unit="chunk", disable=not progress, leave=False) as bar:
        for start in range(0, len(nodes), batch_size):
            batch = nodes[start : start + batch_size]
            began = time.perf_counter()
            vectors = embedder.embed_texts([embedded_text(n) for n in batch])
            embed_seconds += time.perf_counter() - began
            write(batch, vectors)
            bar.update(len(batch))
            if on_batch:
                on_batch(start + len(batch), len(nodes))
    return embed_seconds


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    embedder: Embedder | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> IngestReport:
    """Bring the store up to date with ``paths``; see the module docstring for guarantees.

    ``wait``/``on_wait``: what to do when another process is writing the embedded store
    (see :func:`assistant.core.writer_lock.writer_lock`).
    """
    began = time.perf_counter()
    parsed = parse_paths(paths, progress=progress)
    if not parsed.papers:
        raise NothingToIngest(parsed.problems)

    open_client(settings, create_path=True)  # fail fast, before loading the model
    with writer_lock(settings, wait=wait, on_wait=on_wait):
        embedder = embedder or build_embedder(settings)
        store = PaperStore.open_for_writing(settings, embedder.info, staging=rebuild)
        report = _update(
            store, parsed, embedder, settings, rebuild, progress, on_batch, ingest_label(paths)
        )
    report.seconds = time.perf_counter() - began
    return report


def ingest_label(paths: Sequence[Path]) -> str:
    """What an unfinished ingest is recorded as (:meth:`PaperStore.begin_ingest`): the
    paths it read, absolute, so the app can tell its own first-start ingest."""
    return "; ".join(str(Path(path).resolve()) for path in paths)


def stored_chunks(store: PaperStore, papers: Sequence[Paper]) -> tuple[ChunkMetadata, bool]:
    """The stored chunks an ingest of ``papers`` plans its writes with, and whether they
    are the whole store.

    Stale chunks are found by the content id of their title (``ingest.reconcile``), so
    while a paper may be stored under an id of an earlier version, every chunk is read:
    that paper is re-keyed whatever this run lists. Once the store is marked as holding
    content ids only (:meth:`PaperStore.content_ids`), a paper's chunks are exactly those
    stored under its id, and only the listed papers' chunks are read: what a run reads
    grows with what it lists, not with the store.
    """
    if store.content_ids():
        return store.chunk_metadata([paper.paper_id for paper in papers]), False
    return store.chunk_metadata(), True


def _update(
    store: PaperStore,
    parsed: ParseResult,
    embedder: Embedder,
    settings: Settings,
    rebuild: bool,
    progress: bool,
    on_batch: Callable[[int, int], None] | None,
    label: str = "",
) -> IngestReport:
    """The writes of one ingest, under the writer lock."""
    base = store.revision  # the caches of this revision are updated, not rebuilt
    # ... unless a run was killed after writing: its chunks are in no cache, and in no
    # change this run makes (they are stored already), so the caches are built whole.
    unfinished = store.unfinished_ingests()
    interrupted = bool(unfinished)
    for other in unfinished:
        if other != label:
            log.warning(
                "an ingest of %s began and has not published (killed, or still running into "
                "a server): if it was killed, run it again; until then ingests build the "
                "caches whole",
                other,
            )
    stored, whole = stored_chunks(store, parsed.papers)
    plan = plan_writes(parsed.papers, parsed.sources, stored)
    nodes = chunk_papers(plan.papers, embedder.tokenize, embedder.chunk_tokens, progress)
    report = IngestReport(
        files=len(parsed.files),
        papers=len(parsed.papers),
        duplicates_merged=parsed.duplicates_merged,
        chunks_total=len(nodes),
        problems=parsed.problems,
        store=settings.describe_store(),
        embedding_model=embedder.info.name,
        papers_rekeyed=plan.rekeyed,
    )
    wanted = {node.id_: node for node in nodes}
    new_nodes = [node for node in nodes if node.id_ not in stored]
    relabel = [
        node
        for node in nodes
        if node.id_ in stored and not metadata_matches(stored[node.id_], node)
    ]
    stale = stale_chunks(stored, plan.paper_ids, wanted)
    stale_ids = set(stale)
    # Chunks stored under an older paper identity move to their new id with their vectors.
    reusable = _reusable_vectors(store, stored, stale, new_nodes)
    rekeyed = [node for node in new_nodes if embedded_text(node) in reusable]
    # Length-sorted batches carry little padding: embedding runs at the model's bare speed.
    to_embed = sorted(
        (node for node in new_nodes if embedded_text(node) not in reusable),
        key=lambda n: len(embedded_text(n)),
    )
    # Stored chunks whose vector is gone: re-embedded from their stored text (which their
    # id hashes, so it is what the inputs hold) and rewritten whole.
    # (Only the chunks read above: the papers this run lists, or the whole store.)
    lost = [cid for cid in store.missing_vectors(list(stored)) if cid not in stale_ids]
    # Once a whole read leaves nothing under an old id, later runs read only their papers.
    content_id = ContentIds()
    content_ids = whole and not any(
        content_id.rekeyed(metadata) for cid, metadata in stored.items() if cid not in stale_ids
    )
    # A killed run's rerun publishes even with nothing left to write: the caches of the
    # revision it finds lack what the killed run wrote, and its mark must be cleared.
    changed = bool(rebuild or interrupted or new_nodes or relabel or stale or lost)
    run = None
    if changed and not rebuild:  # a staging collection is swapped in whole, or not at all
        with publish_lock(settings):  # a read-modify-write of the metadata a publish writes
            run = store.begin_ingest(label)

    step = settings.write_batch
    for batch in batches(rekeyed, step):  # vectors kept: no embedding
        store.upsert_chunks(batch, [reusable[embedded_text(node)] for node in batch])
    repair_seconds = _embed_and_write(
        store.chunk_nodes(lost), embedder, store.restore_vectors, progress, None, step, "repairing"
    )
    report.embed_seconds = repair_seconds + _embed_and_write(
        to_embed, embedder, store.upsert_chunks, progress, on_batch, step
    )
    store.relabel(relabel)
    if stale:  # only now that every paper's new chunks are safely written
        store.delete_chunks(stale)
    report.chunks_embedded = len(to_embed)
    report.chunks_rekeyed = len(rekeyed)
    report.chunks_repaired = len(lost)
    report.chunks_unchanged = len(nodes) - len(new_nodes) - len(set(lost) & wanted.keys())
    report.chunks_relabelled = len(relabel)
    report.chunks_deleted = len(stale)

    if changed:
        _ensure_live(store, settings, rebuild)
    # One publisher at a time per cache folder (writers of a server hold no other lock): no
    # run drops another's caches before their revision is published, and whether anyone
    # published since this run began is read where it cannot change meanwhile.
    with publish_lock(settings):
        alone = rebuild or store.current_revision() == base
        if changed:
            changes = None
            # When another writer of a server published since this run began, the caches
            # of ``base`` lack its papers: this run's are then built from the store.
            if alone and not (rebuild or interrupted):
                written = [*rekeyed, *lost, *to_embed, *relabel]
                changes = StoreChanges.of(written, stale, base)
            finished = (run, label) if run else None
            cataloged = _publish(
                store, settings, embedder, report, rebuild, changes, content_ids, finished
            )
        elif alone:  # built once per revision (a store from an earlier version gets them now)
            if content_ids:
                store.mark_content_ids()
            LexicalIndex.ensure(store, settings.cache_dir)
            cataloged = PaperFile.ensure(store, settings.cache_dir)
            began = time.perf_counter()
            report.sentences_embedded = SentenceVectors.ensure(store, settings.cache_dir, embedder)
            report.embed_seconds += time.perf_counter() - began
        else:  # nothing written, and the revision another run published has its caches
            cataloged = 0
    report.chunks_in_store = store.count()
    # The catalogue just written (or checked) counts the papers without reading the store;
    # when another writer of a server published meanwhile, the store itself is counted.
    report.papers_in_store = cataloged if alone else store.paper_count()
    return report


def _publish(
    store: PaperStore,
    settings: Settings,
    embedder: Embedder,
    report: IngestReport,
    rebuild: bool,
    changes: StoreChanges | None,
    content_ids: bool,
    finished: tuple[str, str] | None,
) -> int:
    """Write this run's caches for a new revision, then publish it; returns how many papers
    the catalogue lists. BM25, the catalogue and the sentence vectors come first, then the
    revision that running engines watch: when they notice it, everything they load is
    ready. ``changes`` (None: build from the store) updates the base revision's caches;
    ``finished``: this run's mark (:meth:`PaperStore.mark_changed`)."""
    revision = new_revision()
    LexicalIndex.refresh(store, settings.cache_dir, revision, changes)
    cataloged = PaperFile.refresh(store, settings.cache_dir, revision, changes)
    began = time.perf_counter()
    report.sentences_embedded = SentenceVectors.refresh(
        store,
        settings.cache_dir,
        embedder,
        revision,
        lambda: PaperFile.papers(store, settings.cache_dir, revision),
        base=changes.base if changes else None,
        written=PaperFile.papers(
            store, settings.cache_dir, revision, changes.written if changes else ()
        ),
        paper_count=cataloged,
    )
    report.embed_seconds += time.perf_counter() - began
    if rebuild:
        store.replace_live(embedder.info, revision, content_ids=content_ids)
    else:
        store.mark_changed(revision, content_ids=content_ids, finished=finished)
        _ensure_live(store, settings, rebuild)  # a rebuild may have swapped meanwhile
    return cataloged


def _ensure_live(store: PaperStore, settings: Settings, rebuild: bool) -> None:
    """Fail when a ``--rebuild`` retired the collection this ingest wrote (a Chroma server
    only: embedded writers hold the lock), so the run never reports papers it lost."""
    if not rebuild and not store.is_live():
        raise StoreError(
            f"collection {settings.collection!r} in {settings.describe_store()} was "
            "replaced by a `--rebuild` while this ingest ran, so its writes went to the "
            "retired copy: run this ingest again"
        )
