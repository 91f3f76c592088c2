"""Papers → llama-index ``TextNode`` chunks that fit the embedding model's window.

all-MiniLM-L6-v2 silently truncates at 256 word pieces and most abstracts are longer, so
chunks are measured with the model's own tokenizer. Each chunk's embedded text starts with
its paper's title (``Title\\n\\nchunk``), so every chunk is retrievable on its own. The
first chunk also carries the whole abstract (hidden from the model), so the query side
reads abstracts back exactly as they were ingested.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode, TextNode
from tqdm import tqdm

from assistant.core.schema import ABSTRACT, CHUNK_INDEX, HIDDEN_KEYS, Paper

CHUNK_OVERLAP_TOKENS = 32
_TEMPLATE = {"metadata_template": "{value}", "text_template": "{metadata_str}\n\n{content}"}


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
    papers: Sequence[Paper],
    tokenize: Callable[[str], list],
    chunk_tokens: int,
    progress: bool = False,
) -> list[TextNode]:
    """Split every abstract; the title is metadata that the splitter budgets for.

    It costs a few milliseconds a paper (the tokenizer runs over every sentence), linear in
    the papers, and well below embedding them; ``progress`` shows a bar on stderr, since on
    a file of 100,000 papers that is still minutes.
    """
    splitter = make_splitter(tokenize, chunk_tokens)
    hidden = list(HIDDEN_KEYS)
    nodes: list[TextNode] = []
    for paper in tqdm(papers, desc="chunking", unit="paper", disable=not progress, leave=False):
        document = Document(
            text=paper.abstract,
            metadata=paper.metadata(),
            excluded_embed_metadata_keys=hidden,
            excluded_llm_metadata_keys=hidden,
            **_TEMPLATE,
        )
        for index, piece in enumerate(splitter.get_nodes_from_documents([document])):
            piece.metadata[CHUNK_INDEX] = index
            if index == 0:
                piece.metadata[ABSTRACT] = paper.abstract
            piece.excluded_embed_metadata_keys = hidden
            piece.excluded_llm_metadata_keys = hidden
            piece.metadata_template = _TEMPLATE["metadata_template"]
            piece.text_template = _TEMPLATE["text_template"]
            piece.id_ = chunk_id(paper.paper_id, index, embedded_text(piece))
            piece.relationships = {}
            nodes.append(piece)
    return nodes


def embedded_text(node: TextNode) -> str:
    """Exactly what the embedding model sees: ``Title\\n\\nchunk text``."""
    return node.get_content(metadata_mode=MetadataMode.EMBED)
