"""The paper store: the only code that talks to Chroma (embedded on disk, or a server).

Ingest writes through :class:`PaperStore` (upserts, metadata rewrites, stale-chunk
deletion, the staging collection of a rebuild, the revision) and the query engine reads
through it (the vector store llama-index searches, the stored papers, the chunks BM25 is
built from). Keeping every call here means one place decides how records are laid out and
what a failure tells the user.

The collection's metadata records which embedding model filled it. Opening it with a
different model is refused with instructions, because mixed vector spaces would return
confident nonsense rather than an error. It also carries a revision id, renewed by every
write, so caches derived from the chunks (BM25) and running engines know when to reload,
and, once an ingest found every chunk under its paper's content id, a mark saying so
(``CONTENT_IDS_KEY``), which lets an ingest read only the chunks of the papers it writes.

Embedded Chroma keeps each process's copy of a collection's vector index (HNSW) in memory
and writes it back whole; it never re-reads what another process wrote. Hence: every
``PaperStore`` gets a Chroma system of its own (never Chroma's per-path cache), so it sees
the store as it is on disk when opened; writers hold the writer lock
(:mod:`assistant.core.writer_lock`); readers that live long reopen when the revision moves.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from assistant.core.batches import batches
from assistant.core.embeddings import EmbeddingInfo
from assistant.core.errors import AssistantError
from assistant.core.schema import ABSTRACT, CHUNK_INDEX, PAPER_ID, Paper
from assistant.core.settings import Settings

log = logging.getLogger(__name__)

REVISION_KEY = "ingest_revision"
MODEL_KEY = "embedding_model"
DIMENSION_KEY = "embedding_dimension"
STAGING_SUFFIX = "__rebuild"
RETIRED_SUFFIX = "__retired"  # the live collection a rebuild replaced; dropped by the next one
# On a staging collection: the live collection's "id:revision" when the rebuild began ("" for
# none). The swap refuses when the live collection moved since (an ingest finished meanwhile).
BASE_KEY = "rebuild_of"
# On a staging collection: the swap journal. Written (holding the revision to publish) before
# the first rename, so whoever opens the store next finishes a swap a crash cut in two.
SWAP_KEY = "rebuild_swapping"
# On the live collection while an ingest writes it: ``ingest_pending:<run>`` → what that run
# read (its paths), one key a run, so that writers of a server finishing one after another
# clear only their own. Cleared by the revision the run publishes at its end (with those of
# earlier runs of the same paths, which it completed); left behind by a run that was killed.
# A bare ``ingest_pending`` is an earlier version's single mark.
PENDING_KEY = "ingest_pending"
# On a collection: every chunk is stored under its paper's content id (no paper is left under
# an id of an earlier version), so an ingest reads only the chunks of the papers it writes.
# Set by the ingest that found so; absent on collections of earlier versions (and new ones,
# until their first ingest), which an ingest reads whole.
CONTENT_IDS_KEY = "content_ids"
# Records per Chroma metadata update or delete (an ingest's own writes: settings.write_batch).
WRITE_BATCH = 256
# Records per read: well under SQLite's 32,766 variables (Chroma asks for a page's ids in
# one statement), and tens of MB a page. Whole-store reads list the ids first and read them
# a page of ids at a time, not by ``offset``: Chroma steps over the ``offset`` records
# before each page (~3 s more at offset 900,000 of a million chunks), so offset pages cost
# the square of the store.
PAGE_SIZE = 25_000
PROBE_ID = "probe: no chunk has this id"  # what ``probe`` reads
IN_BATCH = 500  # values per ``$in`` filter (Chroma bounds the size of a filter)
VECTOR_PAGE = 1000  # vectors per read when checking that they exist
QUERY_BATCH = 256  # chunks searched with their own vectors per query call
SELF_QUERY_K = 10  # a chunk must come back among this many hits for its own vector
SELF_DISTANCE = 1e-4  # cosine distance of a vector to itself, float32 rounding included
# How widely HNSW searches. At Chroma's default (100) a search for the 60 nearest chunks
# (the dense leg's candidates) missed some on dev questions (mean recall 0.996, as low as
# 0.95), and which ones changed from one process to the next, so the same question could
# rank differently after a restart. From 300 it returned the exact 60 (a brute-force
# check) on all 80 questions measured, in the same time (~9 ms a query).
HNSW_EF_SEARCH = 400
# How densely new collections link their HNSW graph. At Chroma's defaults (16 neighbours,
# construction breadth 100) a graph of 100,000 synthetic chunks left 9 that no search with
# their own vector returns (unreachable nodes: their incoming links were pruned as later
# chunks came in; chroma-core/chroma#3580, #7758); ~0.05% at a million, so `ingest --check`
# reported them. With 32 and 200, none of 100,000; the vectors go in at half the speed (an
# ingest's time is the embedding's, ~1,000 times slower) and each costs 128 bytes more.
# Fixed when a collection is created: `python -m ingest --rebuild` gives an older one these.
HNSW_MAX_NEIGHBORS = 32
HNSW_EF_CONSTRUCTION = 200


class StoreError(AssistantError, RuntimeError):
    """The store cannot be used as configured; the message says what to do."""


class EmptyStoreError(StoreError):
    """No collection (or an empty one): ingest has not run yet."""


# What Chroma raises when the store itself fails mid-use: a damaged or full sqlite file
# (``InternalError``, or sqlite's own error), a server gone away (``httpx`` transport errors).
STORE_FAILURES: tuple[type[BaseException], ...] = (
    ChromaError,
    httpx.TransportError,
    sqlite3.Error,
)


def failure_line(settings: Settings, error: BaseException) -> str:
    """One line for a store failure a front end caught: where, what, what to do."""
    return (
        f"{settings.describe_store()} failed: {_first_line(error)} (if it persists, check "
        "the disk or the server, then run `python -m ingest --check`)"
    )


def open_client(settings: Settings, *, create_path: bool = False) -> Any:
    """A Chroma client for the configured store. Telemetry is off; no traffic leaves.

    An embedded client gets a fresh Chroma system: Chroma caches one per path and process,
    and a cached one keeps the vector index as it was when first loaded, blind to what other
    processes wrote since (a writer using it would even write that stale index back).
    """
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        headers = {}
        if settings.chroma_auth_token is not None:
            headers["Authorization"] = f"Bearer {settings.chroma_auth_token.get_secret_value()}"
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers=headers or None,
                settings=chroma_settings,
            )
        except Exception as error:  # connection refused, auth failure, bad host
            raise StoreError(
                f"cannot reach {settings.describe_store()}: {_first_line(error)}"
            ) from error
    path = Path(settings.chroma_path)
    if not create_path and (missing := settings.missing_index()):
        raise EmptyStoreError(missing)
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Drops the cache only: systems in use go on, and are freed with their last client.
        SharedSystemClient.clear_system_cache()
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as error:  # read-only directory, corrupt sqlite file, …
        raise StoreError(
            f"cannot open {settings.describe_store()}: {_first_line(error)}"
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _pending_marks(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, label)`` of every unfinished ingest's mark in a collection's metadata."""
    return [
        (key, str(value))
        for key, value in metadata.items()
        if key == PENDING_KEY or key.startswith(f"{PENDING_KEY}:")
    ]


def new_revision() -> str:
    return uuid.uuid4().hex


def _new_metadata(info: EmbeddingInfo, revision: str | None = None) -> dict[str, Any]:
    return {
        MODEL_KEY: info.name,
        DIMENSION_KEY: info.dimension,
        REVISION_KEY: revision or new_revision(),
    }


def chroma_record(node: TextNode) -> tuple[str, dict[str, Any]]:
    """The document text and flat metadata llama-index's ``ChromaVectorStore`` reads back.

    A first chunk's abstract is stored as flat metadata only, not inside the node JSON
    llama-index keeps, so search results and the BM25 corpus do not carry it twice.
    """
    abstract = node.metadata.get(ABSTRACT)
    if abstract is not None:
        lean = {key: value for key, value in node.metadata.items() if key != ABSTRACT}
        node = node.model_copy(update={"metadata": lean})
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    if abstract is not None:
        metadata[ABSTRACT] = abstract
    return node.get_content(), metadata


def metadata_matches(stored: dict[str, Any], node: TextNode) -> bool:
    """Whether a stored chunk's metadata already says what writing ``node`` would say.

    llama-index's own keys (``_node_content``, ``_node_type``) are left out: they hold the
    same fields again, serialised.
    """

    def visible(metadata: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in metadata.items() if not key.startswith("_")}

    return visible(stored) == visible(chroma_record(node)[1])


class PaperStore:
    """One Chroma collection of paper chunks, for reading or for writing."""

    def __init__(self, settings: Settings, client: Any, collection: Any):
        self.settings = settings
        self._client = client
        self._collection = collection

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, info: EmbeddingInfo | None) -> PaperStore:
        """The existing, non-empty collection, checked against the embedding model.

        ``info`` None skips the model check (``ingest --check`` reads no vectors it embeds).
        """
        client = open_client(settings)
        recover_swap(client, settings)
        try:
            collection = client.get_collection(name=settings.collection, embedding_function=None)
        except NotFoundError as error:
            raise EmptyStoreError(
                f"no collection {settings.collection!r} in {settings.describe_store()}"
                f"{_side_note(client, settings)}: run `python -m ingest` first"
            ) from error
        except Exception as error:
            raise StoreError(
                f"cannot open collection {settings.collection!r} in "
                f"{settings.describe_store()}: {_first_line(error)}"
            ) from error
        store = cls(settings, client, collection)
        if info is not None:
            store._check_embedding(info)
        if collection.count() == 0:
            raise EmptyStoreError(
                f"collection {settings.collection!r} in {settings.describe_store()} is empty: "
                "run `python -m ingest` first"
            )
        return store

    @classmethod
    def open_for_writing(
        cls, settings: Settings, info: EmbeddingInfo, *, staging: bool = False
    ) -> PaperStore:
        """The collection to write, created if missing (cosine space, model recorded).

        ``staging`` opens an empty side collection for a rebuild (leftovers of an
        interrupted one are dropped, and so is the collection the previous rebuild
        retired: engines that follow the store left it seconds after that rebuild);
        :meth:`replace_live` swaps it in when complete.
        """
        client = open_client(settings, create_path=True)
        recover_swap(client, settings)
        name = settings.collection + (STAGING_SUFFIX if staging else "")
        metadata = _new_metadata(info)
        if staging:
            live = _get_collection(client, settings.collection)
            metadata[BASE_KEY] = _identity(live)
            _delete_collection(client, name)
            if live is not None:  # never drop the only copy of the corpus
                _delete_collection(client, settings.collection + RETIRED_SUFFIX)
        try:
            collection = client.get_or_create_collection(
                name=name,
                metadata=metadata,
                configuration={
                    "hnsw": {
                        "space": "cosine",
                        "ef_search": HNSW_EF_SEARCH,
                        "max_neighbors": HNSW_MAX_NEIGHBORS,
                        "ef_construction": HNSW_EF_CONSTRUCTION,
                    }
                },
                embedding_function=None,
            )
            _widen_search(collection)  # a collection made before HNSW_EF_SEARCH was set
        except Exception as error:
            raise StoreError(
                f"cannot open collection {name!r} in {settings.describe_store()}: "
                f"{_first_line(error)}"
            ) from error
        store = cls(settings, client, collection)
        store._check_embedding(info)
        return store

    def _check_embedding(self, info: EmbeddingInfo) -> None:
        """Refuse a collection filled by another embedding model."""
        metadata = self._collection.metadata or {}
        stored_model = metadata.get(MODEL_KEY)
        stored_dimension = metadata.get(DIMENSION_KEY)
        if stored_model is None:
            return
        if stored_model != info.name or int(stored_dimension or 0) != info.dimension:
            raise StoreError(
                f"collection {self.name!r} in {self.settings.describe_store()} was built with "
                f"{stored_model} ({stored_dimension} dims) but the settings select {info.name} "
                f"({info.dimension} dims); rebuild it with `python -m ingest --rebuild`, or set "
                "ASSISTANT_COLLECTION to a new name, or switch ASSISTANT_EMBEDDING back"
            )

    # --- facts ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._collection.name

    @property
    def revision(self) -> str:
        return str((self._collection.metadata or {}).get(REVISION_KEY, ""))

    def current_revision(self) -> str:
        """This collection's revision as stored now (another writer of a server may have
        published one since this store was opened): one small metadata read."""
        return str(self._current_metadata().get(REVISION_KEY, ""))

    @property
    def loaded_revision(self) -> str:
        """Which collection (by id) and revision this store object reads."""
        return f"{self._collection.id}:{self.revision}"

    def live_revision(self) -> str:
        """The live collection's id and revision, read now: one small metadata read.

        It differs from :attr:`loaded_revision` once an ingest finished writing (new
        revision) or a rebuild swapped another collection in (new id).
        """
        try:
            live = self._client.get_collection(self.settings.collection, embedding_function=None)
        except Exception as error:  # mid-swap, server down: the caller keeps what it has
            raise StoreError(
                f"cannot read the revision of {self.settings.collection!r}: {_first_line(error)}"
            ) from error
        return _identity(live)

    def probe(self) -> None:
        """One small read of this collection: :class:`StoreError` when the store cannot
        answer (a server down, a damaged file), so a front end can say so. The read looks
        up an id no chunk has (~1 ms at any size): ``count()`` took ~60 ms at a million
        chunks, holding the GIL, and the web app probes once a second."""
        try:
            self._collection.get(ids=[PROBE_ID], include=[])
        except Exception as error:
            raise StoreError(failure_line(self.settings, error)) from error

    def is_live(self) -> bool:
        """Whether this collection is still the one the live name points at."""
        return self.live_revision().split(":")[0] == str(self._collection.id)

    def count(self) -> int:
        """Stored chunks."""
        return self._collection.count()

    def paper_count(self) -> int:
        """Stored papers (each has exactly one first chunk); no text or vectors are read."""
        return len(self._ids(where={CHUNK_INDEX: 0}))

    def unfinished_ingests(self) -> list[str]:
        """What each ingest that began writing and did not publish was reading: runs that
        were killed (and, on a server, runs under way now); sorted, each once."""
        return sorted({str(label) for _, label in _pending_marks(self._current_metadata())})

    def other_collections(self) -> list[str]:
        """Names of the rebuild's side collections present (staging, retired)."""
        names = {c if isinstance(c, str) else c.name for c in self._client.list_collections()}
        live = self.settings.collection
        return sorted(names & {live + STAGING_SUFFIX, live + RETIRED_SUFFIX})

    # --- reading -------------------------------------------------------------------
    def nearest(
        self, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """``(chunk id, cosine distance)`` of the ``k`` chunks nearest ``vector`` (among
        those ``where`` admits), nearest first. Ids and distances only: Chroma reads a hit's
        text and metadata key by key (60 hits: ~2 ms without, ~9 ms with, on the bundled
        corpus), and the engine holds both already (the BM25 corpus file)."""
        found = self._collection.query(
            query_embeddings=[list(vector)], n_results=k, where=where, include=["distances"]
        )
        return list(zip(found["ids"][0], found["distances"][0], strict=True))

    def _records(
        self, include: list[str], where: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """``(id, document, metadata)`` of every matching record in the store's order, a
        page at a time: the matching ids in one read, then their records by id."""
        return self._records_by_id(self._ids(where), include)

    def _ids(self, where: dict[str, Any] | None = None) -> list[str]:
        """The ids of every matching record, in the store's order (one read, ids only)."""
        return list(self._collection.get(include=[], where=where)["ids"])

    def papers(self) -> list[Paper]:
        """Every stored paper with its whole abstract, read from its first chunk."""
        return [paper for _, paper in self.first_chunks()]

    def first_chunks(self, ids: Sequence[str] | None = None) -> list[tuple[str, Paper]]:
        """``(chunk id, paper)`` of every paper's first chunk, in the store's order; with
        ``ids``, of those first chunks among ``ids`` only."""
        if ids is None:
            records = self._records(["metadatas"], where={CHUNK_INDEX: 0})
        else:  # by ids alone: Chroma filters ids and ``where`` together far more slowly
            records = (
                (chunk_id, None, metadata)
                for batch in batches(ids, PAGE_SIZE)
                for chunk_id, metadata in _pairs(
                    self._collection.get(ids=batch, include=["metadatas"])
                )
                if metadata.get(CHUNK_INDEX) == 0
            )
        papers = [(chunk_id, Paper.from_metadata(metadata)) for chunk_id, _, metadata in records]
        if ids is None and papers and not any(paper.abstract for _, paper in papers):
            raise StoreError(
                f"collection {self.name!r} in {self.settings.describe_store()} predates stored "
                "abstracts: run `python -m ingest` once to update it (nothing is re-embedded)"
            )
        return papers

    def chunk_nodes(self, ids: Sequence[str] | None = None) -> list[TextNode]:
        """Stored chunks (all, or those ``ids``) as llama-index nodes, text included."""
        if ids is None:
            records: Iterator[tuple[str, str | None, dict[str, Any]]] = self._records(
                ["documents", "metadatas"]
            )
        else:
            records = self._records_by_id(ids, ["documents", "metadatas"])
        nodes: list[TextNode] = []
        for node_id, text, metadata in records:
            node = metadata_dict_to_node(metadata, text=text)
            node.id_ = node_id
            nodes.append(node)
        return nodes

    def _records_by_id(
        self, ids: Sequence[str], include: list[str]
    ) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """``(id, document, metadata)`` of those of ``ids`` that are stored, in the order of
        ``ids`` (``None`` for what ``include`` leaves out), a page at a time."""
        for wanted in batches(ids, PAGE_SIZE):
            page = self._collection.get(ids=wanted, include=include)
            found = page["ids"]
            documents = page.get("documents") or [None] * len(found)
            metadatas = page.get("metadatas") or [None] * len(found)
            records = {
                chunk_id: (chunk_id, *rest) for chunk_id, *rest in zip(found, documents, metadatas)
            }
            yield from (records[chunk_id] for chunk_id in wanted if chunk_id in records)

    def chunk_metadata(self, paper_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """id → flat metadata of every stored chunk (no vectors, no text); with
        ``paper_ids``, of the chunks stored under those paper ids only (by the indexed
        ``paper_id`` metadata, ``IN_BATCH`` ids a filter, so a read costs what it returns)."""
        if paper_ids is None:
            return {chunk_id: metadata for chunk_id, _, metadata in self._records(["metadatas"])}
        unique = sorted(set(paper_ids))
        return {
            chunk_id: metadata
            for batch in batches(unique, IN_BATCH)
            for chunk_id, _, metadata in self._records(
                ["metadatas"], where={PAPER_ID: {"$in": batch}}
            )
        }

    def chunk_vectors(
        self, ids: Sequence[str]
    ) -> Iterator[tuple[str, str | None, dict[str, Any], Sequence[float]]]:
        """``(id, document, metadata, vector)`` of the given chunks, a page at a time.

        Ingest re-keys chunks stored under an older paper identity with these, so moving a
        chunk to a new id never re-embeds it; the engine scores a few named papers' chunks
        against a query with them (``HybridRetriever.similarities``).
        """
        for batch in batches(ids, PAGE_SIZE):
            page = self._collection.get(ids=batch, include=["documents", "metadatas", "embeddings"])
            yield from zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"])

    def chunk_ids(self) -> list[str]:
        """Every chunk id the store's metadata lists."""
        return self._ids()

    # --- integrity -----------------------------------------------------------------
    def missing_vectors(self, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` (stored chunks) whose vector the vector index cannot return.

        Vectors are read a page at a time; Chroma fails a whole read when one id has no
        vector ("Error finding id"), so a failing page is halved until the ids are found.
        """
        missing: list[str] = []
        for batch in batches(ids, VECTOR_PAGE):
            missing += self._unreadable(batch)
        return missing

    def _unreadable(self, ids: list[str]) -> list[str]:
        try:
            self._collection.get(ids=ids, include=["embeddings"])
            return []
        except Exception as error:
            if "error finding id" not in str(error).lower():
                raise StoreError(f"cannot read vectors: {_first_line(error)}") from error
        if len(ids) == 1:
            return ids
        middle = len(ids) // 2
        return self._unreadable(ids[:middle]) + self._unreadable(ids[middle:])

    def not_found_by_own_vector(self, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` (chunks whose vector is readable) that a search cannot return.

        A search with each chunk's own vector runs first, batched: most chunks come back
        among its first ``SELF_QUERY_K`` hits. That search is approximate (HNSW), and near
        duplicates (or identical vectors) can crowd a chunk out of its own first hits, more
        or less so from one process to the next; so a chunk it misses is searched again,
        exactly, among its own id only (:meth:`_found_by_id`), and only a chunk that search
        cannot return is reported. The verdict no longer depends on rank.
        """
        k = max(1, min(SELF_QUERY_K, self.count()))
        lost: list[str] = []
        for batch in batches(ids, QUERY_BATCH):
            page = self._collection.get(ids=batch, include=["embeddings"])
            if not page["ids"]:
                continue
            vectors = np.asarray(page["embeddings"], dtype=np.float32)
            found = self._collection.query(query_embeddings=vectors, n_results=k, include=[])
            lost += [
                chunk_id
                for chunk_id, vector, hits in zip(page["ids"], vectors, found["ids"])
                if chunk_id not in hits and not self._found_by_id(chunk_id, vector)
            ]
        return lost

    def _found_by_id(self, chunk_id: str, vector: np.ndarray) -> bool:
        """Whether a search with ``vector`` restricted to ``chunk_id`` returns that chunk
        as its own exact match (distance ~0)."""
        hits = self._collection.query(
            query_embeddings=vector[None, :], n_results=1, ids=[chunk_id], include=["distances"]
        )
        return hits["ids"][0] == [chunk_id] and hits["distances"][0][0] <= SELF_DISTANCE

    # --- writing -------------------------------------------------------------------
    def upsert_chunks(
        self, nodes: Sequence[TextNode], embeddings: Sequence[Sequence[float]] | np.ndarray
    ) -> None:
        """Write whole chunks (text, vector, metadata); rewriting one is harmless."""
        documents, metadatas = zip(*(chroma_record(node) for node in nodes))
        self._collection.upsert(
            ids=[node.id_ for node in nodes],
            embeddings=np.asarray(embeddings, dtype=np.float32),
            documents=list(documents),
            metadatas=list(metadatas),
        )

    def restore_vectors(
        self, nodes: Sequence[TextNode], embeddings: Sequence[Sequence[float]] | np.ndarray
    ) -> None:
        """Give stored chunks whose vector was lost a new one, keeping text and metadata.

        The whole record is upserted: Chroma's ``update`` with only an embedding silently
        does nothing for an id the vector index has lost.
        """
        vectors = dict(zip((node.id_ for node in nodes), np.asarray(embeddings, np.float32)))
        ids, documents, metadatas = [], [], []
        for chunk_id, text, metadata in self._records_by_id(
            list(vectors), ["documents", "metadatas"]
        ):
            ids.append(chunk_id)
            documents.append(text)
            metadatas.append(metadata)
        if ids:
            self._collection.upsert(
                ids=ids,
                embeddings=np.stack([vectors[chunk_id] for chunk_id in ids]),
                documents=documents,
                metadatas=metadatas,
            )

    def relabel(self, nodes: Sequence[TextNode]) -> None:
        """Rewrite the metadata of stored chunks (a new source file), keeping their vectors.

        The text is unchanged by construction (chunk ids hash it), so only metadata is sent.
        """
        for batch in batches(nodes, WRITE_BATCH):
            self._collection.update(
                ids=[node.id_ for node in batch],
                metadatas=[chroma_record(node)[1] for node in batch],
            )

    def delete_chunks(self, ids: Sequence[str]) -> None:
        for batch in batches(ids, WRITE_BATCH):
            self._collection.delete(ids=batch)

    def _current_metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored now (the handle's copy dates from opening,
        and a server's other writers may have published revisions since)."""
        try:
            fresh = self._client.get_collection(self.name, embedding_function=None)
        except NotFoundError:  # renamed by a swap meanwhile: the handle's copy is all there is
            return dict(self._collection.metadata or {})
        if fresh.id != self._collection.id:
            return dict(self._collection.metadata or {})
        return dict(fresh.metadata or {})

    def content_ids(self) -> bool:
        """Whether every chunk is known to be stored under its paper's content id
        (``CONTENT_IDS_KEY``, read now): an ingest then reads only the papers it writes."""
        return bool(self._current_metadata().get(CONTENT_IDS_KEY))

    def mark_content_ids(self) -> None:
        """Record that every chunk is stored under its paper's content id (an ingest that
        read the whole store found nothing left to re-key, and wrote nothing)."""
        metadata = self._current_metadata()
        if not metadata.get(CONTENT_IDS_KEY):
            metadata[CONTENT_IDS_KEY] = True
            self._collection.modify(metadata=metadata)

    def begin_ingest(self, label: str) -> str:
        """Record, before the first write, that an ingest of ``label`` is under way; returns
        the run's id, which :meth:`mark_changed` takes to clear the mark.

        A run killed before :meth:`mark_changed` leaves it behind: the app resumes its
        bundled corpus from it, and ``ingest --check`` reports it instead of "clean".
        """
        run = uuid.uuid4().hex[:12]
        metadata = self._current_metadata()
        metadata[f"{PENDING_KEY}:{run}"] = label
        self._collection.modify(metadata=metadata)
        return run

    def mark_changed(
        self,
        revision: str | None = None,
        *,
        content_ids: bool = False,
        finished: tuple[str, str] | None = None,
    ) -> str:
        """Publish a new revision: running engines reload, derived caches (BM25) rebuild.

        Pass the ``revision`` a cache was already built for, so readers find it ready.
        ``finished``: the ``(run, label)`` of the ingest publishing (:meth:`begin_ingest`):
        its mark is cleared, and so are those of earlier runs of the same label (it wrote
        all they would have). An earlier version's bare mark is cleared by any publish, as
        that version did. With ``content_ids`` it also records that they left every chunk
        under its paper's content id (``CONTENT_IDS_KEY``; a mark already there is kept
        either way).
        """
        revision = revision or new_revision()
        metadata = self._current_metadata()
        metadata.pop(PENDING_KEY, None)
        if finished is not None:
            run, label = finished
            for key, value in _pending_marks(metadata):
                if key == f"{PENDING_KEY}:{run}" or value == label:
                    metadata.pop(key)
        metadata[REVISION_KEY] = revision
        if content_ids:
            metadata[CONTENT_IDS_KEY] = True
        self._collection.modify(metadata=metadata)
        return revision

    def replace_live(
        self, info: EmbeddingInfo, revision: str | None = None, *, content_ids: bool = False
    ) -> None:
        """Swap this complete staging collection in for the live one (``--rebuild``).

        ``content_ids``: the live collection it becomes is marked as holding content ids
        only (:meth:`mark_changed`); the swap journal carries the mark too.

        The live collection is renamed ``<name>__retired``, not deleted: engines still
        reading it address it by id and keep answering until they reopen the new one. The
        next rebuild drops it.

        Refused (:class:`StoreError`, nothing swapped) when the live collection moved since
        this rebuild began: an ingest that finished meanwhile would otherwise be retired
        with it. The swap journal (``SWAP_KEY``) is written before the first rename, so a
        crash between the two renames is completed by the next open (:func:`recover_swap`).
        """
        live_name = self.settings.collection
        revision = revision or new_revision()
        base = str((self._collection.metadata or {}).get(BASE_KEY, ""))
        live = _get_collection(self._client, live_name)
        if _identity(live) != base:
            raise self._moved()
        marks = {CONTENT_IDS_KEY: True} if content_ids else {}
        journal = {**(self._collection.metadata or {}), SWAP_KEY: revision, **marks}
        self._collection.modify(metadata=journal)
        if live is not None:
            _delete_collection(self._client, live_name + RETIRED_SUFFIX)
            live.modify(name=live_name + RETIRED_SUFFIX)
        self._rename(self._collection, live_name, {**_new_metadata(info, revision), **marks})
        self._collection = self._client.get_collection(live_name, embedding_function=None)
        retired = _get_collection(self._client, live_name + RETIRED_SUFFIX)
        if live is not None and _identity(retired).split(":")[0] == str(live.id):
            if _identity(retired) != base:  # an ingest published in the last instant
                self._undo_swap(retired, journal)
                raise self._moved()

    def _moved(self) -> StoreError:
        return StoreError(
            f"collection {self.settings.collection!r} in {self.settings.describe_store()} "
            "changed while this --rebuild ran (another ingest finished meanwhile), so "
            "swapping would retire its papers; nothing was replaced: run the --rebuild again"
        )

    def _undo_swap(self, retired: Any, journal: dict[str, Any]) -> None:
        """Put the retired live collection back and this one back in staging."""
        live_name = self.settings.collection
        journal = {k: v for k, v in journal.items() if k != SWAP_KEY}
        self._collection.modify(name=live_name + STAGING_SUFFIX, metadata=journal)
        retired.modify(name=live_name)

    def _rename(self, collection: Any, name: str, metadata: dict[str, Any]) -> None:
        """Rename ``collection`` (with new metadata); a reader that finished the same swap
        first (:func:`recover_swap`) already did it, which is no failure."""
        try:
            collection.modify(name=name, metadata=metadata)
        except Exception:
            done = _get_collection(self._client, name)
            if done is None or done.id != collection.id:
                raise


def recover_swap(client: Any, settings: Settings) -> None:
    """Complete or undo a ``--rebuild`` swap that a crash cut between its two renames.

    With no live collection: a staging collection carrying the swap journal is complete,
    so it becomes live (with the revision it was to publish); otherwise the retired one is
    put back (a swap by a version that wrote no journal). Runs on every open; a live
    collection present means there is nothing to do (one metadata read).
    """
    live_name = settings.collection
    if _get_collection(client, live_name) is not None:
        return
    staging = _get_collection(client, live_name + STAGING_SUFFIX)
    metadata = dict((staging.metadata if staging is not None else None) or {})
    if staging is not None and metadata.get(SWAP_KEY):
        metadata[REVISION_KEY] = metadata.pop(SWAP_KEY)
        metadata.pop(BASE_KEY, None)
        _recover_rename(client, staging, live_name, metadata)
        log.warning("completed the swap of a --rebuild that was interrupted while swapping")
        return
    retired = _get_collection(client, live_name + RETIRED_SUFFIX)
    if retired is not None:
        _recover_rename(client, retired, live_name, None)
        log.warning("restored %r from %r: a --rebuild was interrupted", live_name, retired.name)


def _recover_rename(client: Any, collection: Any, name: str, metadata: dict | None) -> None:
    try:
        collection.modify(name=name, metadata=metadata)
    except Exception as error:  # another process recovered it first: fine
        if _get_collection(client, name) is None:
            raise StoreError(f"cannot restore collection {name!r}: {_first_line(error)}") from error


def _pairs(page: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(id, metadata)`` of a page Chroma returned."""
    return zip(page["ids"], page.get("metadatas") or [{}] * len(page["ids"]))


def _get_collection(client: Any, name: str) -> Any | None:
    """The named collection, or None when there is none."""
    try:
        return client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return None


def _identity(collection: Any | None) -> str:
    """``id:revision`` of a collection ("" for none): what followers and swaps compare."""
    if collection is None:
        return ""
    return f"{collection.id}:{(collection.metadata or {}).get(REVISION_KEY, '')}"


def _side_note(client: Any, settings: Settings) -> str:
    """Names the rebuild's side collections, if any, for a message about a missing store."""
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    side = sorted(names & {settings.collection + s for s in (STAGING_SUFFIX, RETIRED_SUFFIX)})
    return f" (side collections present: {', '.join(side)})" if side else ""


def _widen_search(collection: Any) -> None:
    """Raise the collection's HNSW search breadth to HNSW_EF_SEARCH if it is below.

    Best effort: it tunes search, writing does not depend on it, and a server whose index
    is not HNSW (distributed Chroma's SPANN) has no such setting to raise."""
    hnsw = (getattr(collection, "configuration_json", None) or {}).get("hnsw") or {}
    if not hnsw or int(hnsw.get("ef_search") or 0) >= HNSW_EF_SEARCH:
        return
    try:
        collection.modify(configuration={"hnsw": {"ef_search": HNSW_EF_SEARCH}})
    except Exception as error:  # the store stays usable with its own breadth
        log.warning("could not widen the HNSW search of %s: %s", collection.name, error)


def _delete_collection(client: Any, name: str) -> None:
    try:
        client.delete_collection(name)
    except NotFoundError:  # nothing to delete
        pass
