"""Ingest: parse → validate → chunk → embed only what is new → write → remove what is stale.

Safety rules this module keeps:
- Everything is parsed and validated before the store is touched, so bad input cannot
  damage what is stored.
- Chunk ids are derived from paper identity and content, and new chunks are written in
  batches with ``upsert``: a run killed at any point (even ``kill -9``) leaves only whole
  chunks, and the next run writes what is missing without duplicating anything.
- A paper's outdated chunks are deleted only after its new chunks are written, so a paper
  is never absent from the store.
- ``--rebuild`` fills a staging collection and swaps it in at the end; the old collection
  serves until the new one is complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import node_to_metadata_dict
from tqdm import tqdm

from assistant.embeddings import Embedder, build_embedder
from assistant.lexical import ensure_bm25
from assistant.settings import Settings
from assistant.store import (
    bump_revision,
    collection_metadata,
    get_or_create_collection,
    iter_records,
    open_client,
)
from ingest.chunking import chunk_papers, embedded_text
from ingest.parsers import parse_paths
from ingest.records import Problem

WRITE_BATCH = 256  # chunks per embed-and-upsert step: the unit a kill -9 can interrupt
STAGING_SUFFIX = "__rebuild"


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
    chunks_relabelled: int = 0
    chunks_deleted: int = 0
    papers_in_store: int = 0
    chunks_in_store: int = 0
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
            f"chunks relabelled {self.chunks_relabelled} (metadata only, not re-embedded)",
            f"chunks removed   {self.chunks_deleted} (outdated versions)",
            f"in store         {self.papers_in_store} papers, {self.chunks_in_store} chunks",
            f"seconds          {self.seconds:.2f} (embedding {self.embed_seconds:.2f})",
            f"papers/second    {self.papers_per_second:.1f}",
        ]


def _stored_chunks(collection: Any) -> dict[str, dict[str, Any]]:
    """id → metadata of every stored chunk (metadata only: no vectors, no text)."""
    return {chunk_id: metadata for chunk_id, _, metadata in iter_records(collection, ["metadatas"])}


def _chroma_record(node: TextNode) -> tuple[str, dict[str, Any]]:
    """The document text and flat metadata llama-index's ChromaVectorStore reads back."""
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    return node.get_content(), metadata


def _visible_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if not k.startswith("_")}


def upsert_chunks(
    collection: Any, nodes: Sequence[TextNode], embeddings: Sequence[Sequence[float]]
) -> None:
    documents, metadatas = zip(*(_chroma_record(node) for node in nodes))
    collection.upsert(
        ids=[node.id_ for node in nodes],
        embeddings=np.asarray(embeddings, dtype=np.float32),
        documents=list(documents),
        metadatas=list(metadatas),
    )


def _embed_and_write(
    collection: Any,
    embedder: Embedder,
    nodes: Sequence[TextNode],
    progress: bool,
    on_batch: Callable[[int, int], None] | None,
) -> float:
    """Embed ``nodes`` and upsert them batch by batch; returns seconds spent embedding."""
    embed_seconds = 0.0
    with tqdm(
        total=len(nodes), desc="embedding", unit="chunk", disable=not progress, leave=False
    ) as bar:
        for start in range(0, len(nodes), WRITE_BATCH):
            batch = nodes[start : start + WRITE_BATCH]
            began = time.perf_counter()
            vectors = embedder.model.get_text_embedding_batch([embedded_text(n) for n in batch])
            embed_seconds += time.perf_counter() - began
            upsert_chunks(collection, batch, vectors)
            bar.update(len(batch))
            if on_batch:
                on_batch(start + len(batch), len(nodes))
    return embed_seconds


def _relabel(collection: Any, nodes: Sequence[TextNode]) -> None:
    """Rewrite metadata (e.g. a new source file) of unchanged chunks, keeping their vectors.

    The text is unchanged by construction (the id hashes it), so only metadata is sent.
    """
    for start in range(0, len(nodes), WRITE_BATCH):
        batch = nodes[start : start + WRITE_BATCH]
        collection.update(
            ids=[node.id_ for node in batch],
            metadatas=[_chroma_record(node)[1] for node in batch],
        )


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Bring the store up to date with ``paths``; see the module docstring for guarantees."""
    began = time.perf_counter()
    parsed = parse_paths(paths)
    if not parsed.papers:
        raise NothingToIngest(parsed.problems)

    client = open_client(settings, create_path=True)  # fail fast, before loading the model
    embedder = embedder or build_embedder(settings)
    nodes = chunk_papers(parsed.papers, embedder.tokenize, embedder.chunk_tokens)
    report = IngestReport(
        files=len(parsed.files),
        papers=len(parsed.papers),
        duplicates_merged=parsed.duplicates_merged,
        chunks_total=len(nodes),
        problems=parsed.problems,
        store=settings.describe_store(),
        embedding_model=embedder.info.name,
    )

    if rebuild:
        target_name = settings.collection + STAGING_SUFFIX
        try:
            client.delete_collection(target_name)  # leftovers of an interrupted rebuild
        except Exception:
            pass
    else:
        target_name = settings.collection
    collection = get_or_create_collection(client, target_name, embedder.info, settings)

    stored = _stored_chunks(collection)
    wanted = {node.id_: node for node in nodes}
    # Length-sorted batches carry little padding: embedding runs at the model's bare speed.
    new_nodes = sorted(
        (node for node in nodes if node.id_ not in stored), key=lambda n: len(embedded_text(n))
    )
    relabel = [
        node
        for node in nodes
        if node.id_ in stored
        and _visible_metadata(stored[node.id_]) != _visible_metadata(_chroma_record(node)[1])
    ]
    ingested_papers = {node.metadata["paper_id"] for node in nodes}
    stale = [
        chunk_id
        for chunk_id, metadata in stored.items()
        if chunk_id not in wanted and metadata.get("paper_id") in ingested_papers
    ]

    report.embed_seconds = _embed_and_write(collection, embedder, new_nodes, progress, on_batch)
    _relabel(collection, relabel)
    if stale:  # only now that every paper's new chunks are safely written
        collection.delete(ids=stale)
    report.chunks_embedded = len(new_nodes)
    report.chunks_unchanged = len(nodes) - len(new_nodes)
    report.chunks_relabelled = len(relabel)
    report.chunks_deleted = len(stale)

    if rebuild:
        try:
            client.delete_collection(settings.collection)
        except Exception:
            pass  # there was nothing to replace
        collection.modify(name=settings.collection, metadata=collection_metadata(embedder.info))
        collection = client.get_collection(settings.collection, embedding_function=None)
    elif new_nodes or relabel or stale:
        bump_revision(collection)

    ensure_bm25(collection, settings.resolved_cache_dir)  # built once per revision
    report.chunks_in_store = collection.count()
    stale_ids = set(stale)
    report.papers_in_store = len(
        ingested_papers | {m.get("paper_id") for cid, m in stored.items() if cid not in stale_ids}
    )
    report.seconds = time.perf_counter() - began
    return report
