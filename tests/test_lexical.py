"""The BM25 index's phrase lookup, on a real (small, in-memory) index."""

from __future__ import annotations

from llama_index.core.schema import TextNode

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
