"""The BM25 half of hybrid retrieval, persisted beside the vector store.

BM25 is built from the very chunks stored in Chroma, once per ingest revision, and saved to
disk; queries load it once and never rebuild it. A store changed by another machine (a
shared Chroma server) carries a new revision id, which triggers one rebuild here.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import Stemmer
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.store import iter_records, revision_of

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG

# Keep decimals ("77.4") and short alphanumerics ("8B", "3D") as single tokens: users type
# exact figures and acronyms and expect them to match.
TOKEN_PATTERN = r"(?u)\d+(?:[.,]\d+)+|\b\w\w+\b|\b\d\b"


def iter_stored_nodes(collection: Any) -> list[TextNode]:
    """Every chunk in the collection as a llama-index node."""
    nodes: list[TextNode] = []
    for node_id, text, metadata in iter_records(collection, ["documents", "metadatas"]):
        node = metadata_dict_to_node(metadata, text=text)
        node.id_ = node_id
        nodes.append(node)
    return nodes


def bm25_dir(cache_dir: Path, collection_name: str) -> Path:
    return Path(cache_dir) / "bm25" / collection_name


def build_bm25(nodes: list[TextNode], top_k: int) -> BM25Retriever:
    return BM25Retriever.from_defaults(
        nodes=nodes,
        stemmer=Stemmer.Stemmer("english"),
        language="en",
        similarity_top_k=top_k,
        token_pattern=TOKEN_PATTERN,
    )


def refresh_bm25(collection: Any, cache_dir: Path, top_k: int = 50) -> BM25Retriever:
    """Build the index for the collection's current revision and persist it atomically."""
    revision = revision_of(collection)
    root = bm25_dir(cache_dir, collection.name)
    nodes = iter_stored_nodes(collection)
    retriever = build_bm25(nodes, top_k)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    retriever.persist(str(staging))
    target = root / revision
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    for old in root.iterdir():  # older revisions and abandoned staging folders
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return retriever


def ensure_bm25(collection: Any, cache_dir: Path) -> None:
    """Build the persisted index for this revision if it is missing; never loads it."""
    if not (bm25_dir(cache_dir, collection.name) / revision_of(collection)).is_dir():
        try:
            refresh_bm25(collection, cache_dir)
        except OSError as error:  # read-only cache: the engine builds it in memory instead
            log.warning("cannot persist BM25 index under %s (%s)", cache_dir, error)


def load_bm25(collection: Any, cache_dir: Path, top_k: int = 50) -> BM25Retriever:
    """The persisted index for this revision, or a fresh build when it is missing or stale."""
    target = bm25_dir(cache_dir, collection.name) / revision_of(collection)
    if target.is_dir():
        try:
            retriever = BM25Retriever.from_persist_dir(str(target), show_progress=False)
            retriever.similarity_top_k = top_k
            return retriever
        except Exception as error:  # a damaged cache is rebuilt, never fatal
            log.warning("BM25 cache at %s unreadable (%s); rebuilding", target, error)
    try:
        return refresh_bm25(collection, cache_dir, top_k)
    except OSError as error:  # read-only cache directory: keep the index in memory only
        log.warning("cannot persist BM25 index under %s (%s); using it in memory", cache_dir, error)
        return build_bm25(iter_stored_nodes(collection), top_k)
