"""Opening the Chroma collection: embedded on disk by default, a Chroma server when configured.

The collection's metadata records which embedding model filled it. Opening it with a
different model is refused with instructions, because mixed vector spaces would return
confident nonsense rather than an error.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from assistant.embeddings import EmbeddingInfo
from assistant.settings import Settings

REVISION_KEY = "ingest_revision"
MODEL_KEY = "embedding_model"
DIMENSION_KEY = "embedding_dimension"


class StoreError(RuntimeError):
    """The store cannot be used as configured; the message says what to do."""


class EmptyStoreError(StoreError):
    """No collection (or an empty one): ingest has not run yet."""


def open_client(settings: Settings, *, create_path: bool = False) -> Any:
    """A Chroma client for the configured store. Telemetry is off; no traffic leaves."""
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
    if not path.exists() and not create_path:
        raise EmptyStoreError(
            f"no index at {path}: run `python -m ingest` first (or set ASSISTANT_CHROMA_PATH)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as error:  # read-only directory, corrupt sqlite file, …
        raise StoreError(
            f"cannot open {settings.describe_store()}: {_first_line(error)}"
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def check_embedding(collection: Any, info: EmbeddingInfo, settings: Settings) -> None:
    """Refuse a collection filled by another embedding model."""
    metadata = collection.metadata or {}
    stored_model = metadata.get(MODEL_KEY)
    stored_dimension = metadata.get(DIMENSION_KEY)
    if stored_model is None:
        return
    if stored_model != info.name or int(stored_dimension or 0) != info.dimension:
        raise StoreError(
            f"collection {collection.name!r} in {settings.describe_store()} was built with "
            f"{stored_model} ({stored_dimension} dims) but the settings select {info.name} "
            f"({info.dimension} dims); rebuild it with `python -m ingest --rebuild`, or set "
            "ASSISTANT_COLLECTION to a new name, or switch ASSISTANT_EMBEDDING back"
        )


def collection_metadata(info: EmbeddingInfo, revision: str | None = None) -> dict[str, Any]:
    return {
        MODEL_KEY: info.name,
        DIMENSION_KEY: info.dimension,
        REVISION_KEY: revision or uuid.uuid4().hex,
    }


def get_or_create_collection(
    client: Any, name: str, info: EmbeddingInfo, settings: Settings
) -> Any:
    """The collection for writing; created with cosine space and the model recorded."""
    try:
        collection = client.get_or_create_collection(
            name=name,
            metadata=collection_metadata(info),
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
    except Exception as error:
        raise StoreError(
            f"cannot open collection {name!r} in {settings.describe_store()}: {_first_line(error)}"
        ) from error
    check_embedding(collection, info, settings)
    return collection


def open_collection_for_query(settings: Settings, info: EmbeddingInfo) -> Any:
    """The existing, non-empty collection for reading, checked against the embedding model."""
    client = open_client(settings)
    try:
        collection = client.get_collection(name=settings.collection, embedding_function=None)
    except Exception as error:
        if "does not exist" in str(error) or "not found" in str(error).lower():
            raise EmptyStoreError(
                f"no collection {settings.collection!r} in {settings.describe_store()}: "
                "run `python -m ingest` first"
            ) from error
        raise StoreError(
            f"cannot open collection {settings.collection!r} in {settings.describe_store()}: "
            f"{_first_line(error)}"
        ) from error
    check_embedding(collection, info, settings)
    if collection.count() == 0:
        raise EmptyStoreError(
            f"collection {settings.collection!r} in {settings.describe_store()} is empty: "
            "run `python -m ingest` first"
        )
    return collection


def iter_records(collection: Any, include: list[str], page_size: int = 5000):
    """Every stored record, fetched a page at a time to bound memory spikes.

    Yields ``(id, document, metadata)``; ``document`` is None unless "documents" is included.
    """
    offset = 0
    while True:
        page = collection.get(include=include, limit=page_size, offset=offset)
        ids = page["ids"]
        if not ids:
            return
        documents = page.get("documents") or [None] * len(ids)
        yield from zip(ids, documents, page["metadatas"])
        if len(ids) < page_size:  # a short page is the last one
            return
        offset += len(ids)


def bump_revision(collection: Any) -> str:
    """Mark the collection changed, so caches derived from it (BM25) rebuild once."""
    revision = uuid.uuid4().hex
    metadata = dict(collection.metadata or {})
    metadata[REVISION_KEY] = revision
    collection.modify(metadata=metadata)
    return revision


def revision_of(collection: Any) -> str:
    return str((collection.metadata or {}).get(REVISION_KEY, ""))
