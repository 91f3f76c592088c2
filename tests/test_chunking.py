"""Chunking and the stored paper record (no model, no store)."""

from __future__ import annotations

from assistant.core.schema import ABSTRACT, Paper
from assistant.core.store import chroma_record, metadata_matches
from ingest.chunking import chunk_papers, embedded_text

SENTENCES = [f"Sentence number {i} says something about segmentation networks." for i in range(30)]
PAPER = Paper(
    title="A Title of Five Words",
    abstract=" ".join(SENTENCES),
    paper_id="p1",
    sources=["a.txt", "b.jsonl"],
    listing_date="Mar 12",
)


def words(text: str) -> list[str]:
    return text.split()


def test_chunks_fit_the_window_and_cover_the_abstract_in_order():
    nodes = chunk_papers([PAPER], words, chunk_tokens=40)
    assert len(nodes) > 3
    assert all(len(words(embedded_text(n))) <= 40 for n in nodes)
    assert all(embedded_text(n).startswith("A Title of Five Words\n\n") for n in nodes)
    assert [n.metadata["chunk_index"] for n in nodes] == list(range(len(nodes)))
    joined = " ".join(n.get_content() for n in nodes)
    positions = [joined.find(s) for s in SENTENCES]
    assert -1 not in positions and positions == sorted(positions)


def test_only_the_first_chunk_carries_the_whole_abstract_hidden_from_the_model():
    nodes = chunk_papers([PAPER], words, chunk_tokens=40)
    assert nodes[0].metadata[ABSTRACT] == PAPER.abstract
    assert all(ABSTRACT not in n.metadata for n in nodes[1:])
    assert PAPER.abstract not in embedded_text(nodes[0])


def test_the_stored_record_reads_back_the_paper_as_written():
    first = chunk_papers([PAPER], words, chunk_tokens=40)[0]
    document, metadata = chroma_record(first)
    assert document == first.get_content()
    assert PAPER.abstract not in metadata["_node_content"]  # stored once, as flat metadata
    assert Paper.from_metadata(metadata) == PAPER
    assert metadata_matches(metadata, first)
    moved = chunk_papers([Paper(**{**PAPER.__dict__, "sources": ["c.csv"]})], words, 40)[0]
    assert moved.id_ == first.id_ and not metadata_matches(metadata, moved)


def test_ids_are_stable_and_follow_the_content():
    again = chunk_papers([PAPER], words, chunk_tokens=40)
    assert [n.id_ for n in again] == [n.id_ for n in chunk_papers([PAPER], words, 40)]
    edited = Paper(**{**PAPER.__dict__, "abstract": PAPER.abstract.replace("number 0", "No. 0")})
    assert chunk_papers([edited], words, 40)[0].id_ != again[0].id_
