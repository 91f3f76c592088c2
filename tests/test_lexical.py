"""The BM25 index on a real (small) corpus: its phrase lookup; the build, an update
from the tokenised corpus, and the persisted files read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import Stemmer
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.core import lexical
from assistant.core.lexical import LexicalIndex
from assistant.vocabulary import Vocabulary

TEXTS = {
    "gm": ("Graph Mamba", "State space models for graph neural networks."),
    "gc": ("Deep GCNs", "Why graph neural networks degrade with depth."),
    "gx": ("Graph search", "A neural search over a graph of cities."),  # both words, apart
    "ds": ("Differentiable Search", "Differentiable architecture search for images."),
}


def index() -> LexicalIndex:
    nodes = [
        TextNode(text=abstract, id_=f"{pid}:0", metadata={"paper_id": pid, "title": title})
        for pid, (title, abstract) in TEXTS.items()
    ]
    return LexicalIndex.build(nodes, top_k=10)


def test_papers_using_a_phrase_are_found_from_the_postings_of_its_words(monkeypatch):
    terms = Vocabulary({}, 4).terms
    lexicon = index()
    assert lexicon.papers_with_phrase("graph", "neural", terms, limit=10) == {"gm", "gc"}
    assert lexicon.papers_with_phrase("differenti", "architectur", terms, 10) == {"ds"}
    assert lexicon.papers_with_phrase("graph", "unknownterm", terms, 10) == set()
    # more papers than asked for, or more chunks holding both words than it reads: common
    assert lexicon.papers_with_phrase("graph", "neural", terms, limit=1) is None
    monkeypatch.setattr(lexical, "PHRASE_SCAN_LIMIT", 2)
    assert lexicon.papers_with_phrase("graph", "neural", terms, limit=10) is None


# --- the tokenised corpus, persisted, and updates from it (issue 21) -----------------------
def node(pid: str, title: str, abstract: str, chunk: int = 0) -> TextNode:
    return TextNode(
        text=abstract,
        id_=f"{pid}:{chunk}",
        metadata={"paper_id": pid, "title": title},
        excluded_embed_metadata_keys=["paper_id"],
        metadata_template="{value}",
        text_template="{metadata_str}\n\n{content}",
    )


NODES = [node(pid, title, abstract) for pid, (title, abstract) in TEXTS.items()] + [
    node("gm", "Graph Mamba", "Selective scans over graph nodes ordered by degree.", 1),
    node("rt", "Real-time segmentation", "77.4% mIoU at 102 FPS on Cityscapes with 8B."),
]


def postings(index: LexicalIndex) -> dict[str, tuple[list[int], list[float]]]:
    """term → (rows, scores): the score matrix, whatever ids the terms have."""
    bm25 = index._retriever.bm25
    indptr, rows, data = (np.asarray(bm25.scores[k]) for k in ("indptr", "indices", "data"))
    return {
        term: (rows[indptr[i] : indptr[i + 1]].tolist(), data[indptr[i] : indptr[i + 1]].tolist())
        for term, i in bm25.vocab_dict.items()
        if i < len(indptr) - 1
    }


def hits(index: LexicalIndex, query: str) -> list[tuple[str, float]]:
    return [(h.node.node_id, h.score) for h in index.retrieve(QueryBundle(query), 10)]


QUERIES = ["graph neural networks", "77.4 mIoU 8B", "differentiable search", "degree"]


def test_the_build_is_llama_index_bm25_retriever():
    reference = BM25Retriever.from_defaults(
        nodes=NODES,
        stemmer=Stemmer.Stemmer("english"),
        language="en",
        similarity_top_k=10,
        token_pattern=lexical.TOKEN_PATTERN,
    )
    built = LexicalIndex.build(NODES)
    assert built._retriever.bm25.vocab_dict == reference.bm25.vocab_dict
    for key in ("data", "indices", "indptr"):
        assert np.array_equal(built._retriever.bm25.scores[key], reference.bm25.scores[key])


def test_an_update_scores_as_a_full_build_and_tokenises_only_what_was_written(monkeypatch):
    base = LexicalIndex.build(NODES)
    rewritten = node("gc", "Deep GCNs", "Oversmoothing of deep graph convolutions explained.")
    added = [node("vq", "Vector quantisation", "Codebooks for discrete image tokens at 8B.")]
    tokenised: list[str] = []
    tokenize = lexical._tokenize
    monkeypatch.setattr(
        lexical,
        "_tokenize",
        lambda nodes: tokenised.extend(n.id_ for n in nodes) or tokenize(nodes),
    )
    updated = base.updated([rewritten, *added], removed={"ds:0"})
    assert tokenised == ["gc:0", "vq:0"]
    expected = [n for n in NODES if n.id_ != "ds:0"]
    expected = [rewritten if n.id_ == "gc:0" else n for n in expected] + added
    full = LexicalIndex.build(expected)
    assert updated.chunk_ids() == full.chunk_ids() and len(updated) == len(expected)
    assert postings(updated) == postings(full)
    assert updated.term_frequencies() == full.term_frequencies()
    assert "differenti" not in updated.term_frequencies()[0]  # only the removed chunk had it
    for query in QUERIES:
        assert hits(updated, query) == hits(full, query)
    assert updated.mask({"vq"}).tolist() == [0.0] * (len(expected) - 1) + [1.0]


def test_a_persisted_index_is_read_back_memory_mapped(tmp_path):
    built = LexicalIndex.build(NODES)
    built.persist(tmp_path / "revision")
    loaded = LexicalIndex.read(tmp_path / "revision")
    assert loaded is not None and len(loaded) == len(NODES)
    assert isinstance(loaded._corpus, lexical._MappedLines)
    assert isinstance(loaded._retriever.bm25.scores["data"], np.memmap)
    for query in QUERIES:
        assert hits(loaded, query) == hits(built, query)
        mine = loaded.retrieve(QueryBundle(query), 10)
        theirs = built.retrieve(QueryBundle(query), 10)
        assert [h.node.metadata for h in mine] == [h.node.metadata for h in theirs]
    assert loaded.chunk_ids() == built.chunk_ids()
    updated = loaded.updated([], removed={"gm:1"})  # from the files
    assert postings(updated) == postings(LexicalIndex.build([n for n in NODES if n.id_ != "gm:1"]))


def test_an_index_of_the_older_layout_counts_as_damaged(tmp_path):
    LexicalIndex.build(NODES).persist(tmp_path / "revision")
    checksums = tmp_path / "revision" / lexical.CHECKSUMS
    digests = json.loads(checksums.read_text())
    for name in (lexical.TOKENS, lexical.TOKEN_OFFSETS, lexical.CHUNKS):
        (tmp_path / "revision" / name).unlink()
        digests.pop(name)
    checksums.write_text(json.dumps(digests))
    with pytest.raises(lexical.DamagedIndex, match="older layout"):
        LexicalIndex.read(tmp_path / "revision")
