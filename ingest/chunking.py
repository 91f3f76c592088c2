"""Papers → llama-index ``TextNode`` chunks that fit the embedding model's window.

all-MiniLM-L6-v2 silently truncates at 256 word pieces and most abstracts are longer, so
chunks are measured with the model's own tokenizer. Each chunk's embedded text starts with
its paper's title (``Title\\n\\nchunk``), so every chunk is retrievable on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode, TextNode

from ingest.records import Paper

CHUNK_OVERLAP_TOKENS = 32
# Metadata that the chunk carries in the store but never feeds to the model.
_HIDDEN_KEYS = [
    "paper_id",
    "chunk_index",
    "sources",
    "listing_date",
    "authors",
    "categories",
    "update_date",
    "url",
]
SOURCE_SEPARATOR = "; "


def paper_metadata(paper: Paper) -> dict[str, str | int]:
    """Flat, Chroma-compatible metadata (no None values, no lists)."""
    metadata: dict[str, str | int] = {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "sources": SOURCE_SEPARATOR.join(paper.sources),
    }
    for name in ("listing_date", "authors", "categories", "update_date", "url"):
        value = getattr(paper, name)
        if value:
            metadata[name] = value
    return metadata


def chunk_id(paper_id: str, index: int, embedded_text: str) -> str:
    """Deterministic id from paper identity and content: unchanged chunks keep their id."""
    digest = hashlib.sha256(f"{paper_id}\x1f{index}\x1f{embedded_text}".encode()).hexdigest()
    return f"{paper_id}:{index}:{digest[:16]}"


def make_splitter(tokenize: Callable[[str], list], chunk_tokens: int) -> SentenceSplitter:
    return SentenceSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=min(CHUNK_OVERLAP_TOKENS, chunk_tokens // 4),
        tokenizer=tokenize,
        include_prev_next_rel=False,
    )


def chunk_papers(
    papers: Sequence[Paper], tokenize: Callable[[str], list], chunk_tokens: int
) -> list[TextNode]:
    """Split every abstract; the title is metadata that the splitter budgets for."""
    splitter = make_splitter(tokenize, chunk_tokens)
    nodes: list[TextNode] = []
    for paper in papers:
        document = Document(
            text=paper.abstract,
            metadata=paper_metadata(paper),
            excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
            excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
            metadata_template="{value}",
            text_template="{metadata_str}\n\n{content}",
        )
        pieces = splitter.get_nodes_from_documents([document])
        for index, piece in enumerate(pieces):
            piece.metadata["chunk_index"] = index
            piece.excluded_embed_metadata_keys = list(_HIDDEN_KEYS)
            piece.excluded_llm_metadata_keys = list(_HIDDEN_KEYS)
            piece.metadata_template = "{value}"
            piece.text_template = "{metadata_str}\n\n{content}"
            piece.id_ = chunk_id(paper.paper_id, index, embedded_text(piece))
            piece.relationships = {}
            nodes.append(piece)
    return nodes


def embedded_text(node: TextNode) -> str:
    """Exactly what the embedding model sees: ``Title\\n\\nchunk text``."""
    return node.get_content(metadata_mode=MetadataMode.EMBED)
