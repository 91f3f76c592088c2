"""Paper identity across files, formats, runs and versions: real files, real model, real Chroma.

A paper is its title (``paper_id`` hashes the title key). Ids that files bring are only
unique within each file, so files never replace each other's papers; one paper listed by
a listing page and a JSON file is stored once with both sources; and a store written by
earlier versions, which keyed records by their own ids, is re-keyed on the next ingest
without re-embedding anything.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from assistant.core.schema import Paper
from assistant.core.store import PaperStore, open_client
from assistant.engine import Assistant
from ingest.chunking import chunk_papers, embedded_text
from ingest.parsers import parse_paths
from ingest.pipeline import ingest
from ingest.records import paper_id_for
from tests.conftest import make_settings


def abstract(topic: str) -> str:
    return (
        f"We study {topic} and propose a simple method for it. Experiments on three "
        f"benchmarks show that the method improves over strong baselines for {topic} "
        "while keeping the compute budget fixed."
    )


def stored(settings, *include: str) -> dict:
    collection = open_client(settings).get_collection(settings.collection)
    return collection.get(include=["metadatas", *include])


def first_chunks(settings) -> dict[str, dict]:
    """title → metadata of each stored paper's first chunk (fails on a duplicate title)."""
    firsts = [m for m in stored(settings)["metadatas"] if m["chunk_index"] == 0]
    titles = Counter(m["title"] for m in firsts)
    assert max(titles.values()) == 1, titles
    return {m["title"]: m for m in firsts}


def assert_one_paper_per_identity(settings) -> None:
    metadatas = stored(settings)["metadatas"]
    assert all(m["paper_id"] == paper_id_for(m["title"]) for m in metadatas)
    keys = Counter((m["paper_id"], m["chunk_index"]) for m in metadatas)
    assert max(keys.values()) == 1


def test_inside_one_file_an_id_names_one_paper_and_a_paper_has_one_id(tmp_path: Path):
    path = tmp_path / "lab.jsonl"
    records = [
        {"id": "7", "title": "Sparse Expert Routing", "abstract": abstract("routing")},
        {"id": "8", "title": "Graph Pooling Operators", "abstract": abstract("pooling")},
        {"id": "7", "title": "Speech Enhancement", "abstract": abstract("speech")},
        {"id": "9", "title": "Graph pooling operators", "abstract": abstract("pooling")},
        {"id": "7", "title": "Sparse expert routing!", "abstract": abstract("routing")},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = parse_paths([path])
    assert [str(p) for p in result.problems] == [
        'lab.jsonl:3: id "7" is also used by line 1 for another title; skipped',
        "lab.jsonl:4: title 'Graph pooling operators' is also used by line 2 with id \"8\"; "
        "skipped",
    ]
    # The same record twice (same id, same title) is one paper listed twice, not a conflict.
    assert [(p.title, p.external_id) for p in result.papers] == [
        ("Sparse Expert Routing", "7"),
        ("Graph Pooling Operators", "8"),
    ]
    assert result.duplicates_merged == 1


def test_ids_from_different_files_never_replace_each_other(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    lab_a = tmp_path / "lab_a.csv"
    lab_a.write_text(
        "id,title,abstract\n"
        f'1,Sparse Expert Routing,"{abstract("sparse expert routing")}"\n'
        f'2,Graph Pooling Operators,"{abstract("graph pooling")}"\n'
    )
    lab_b = tmp_path / "lab_b.csv"
    lab_b.write_text(
        "id,title,abstract\n"
        f'1,Speech Enhancement with Diffusion,"{abstract("speech enhancement")}"\n'
        f'2,Tabular Data Augmentation,"{abstract("tabular augmentation")}"\n'
    )
    ingest([lab_a], settings, progress=False, embedder=embedder)
    report = ingest([lab_b], settings, progress=False, embedder=embedder)
    assert report.chunks_deleted == 0
    assert report.papers_in_store == 4
    papers = first_chunks(settings)
    assert set(papers) == {
        "Sparse Expert Routing",
        "Graph Pooling Operators",
        "Speech Enhancement with Diffusion",
        "Tabular Data Augmentation",
    }
    # Each keeps its own file's id, as a field, and its own source.
    assert papers["Sparse Expert Routing"]["external_id"] == "1"
    assert papers["Sparse Expert Routing"]["sources"] == "lab_a.csv"
    assert papers["Speech Enhancement with Diffusion"]["external_id"] == "1"
    assert papers["Speech Enhancement with Diffusion"]["sources"] == "lab_b.csv"
    assert_one_paper_per_identity(settings)


def test_one_paper_from_a_listing_and_from_json_is_stored_once(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    full = abstract("key-value cache quantization") + " Code is available online."
    listing = tmp_path / "listing.txt"  # listing pages cut abstracts short
    listing.write_text(
        f"Mar 12\n\nKV Cache Quantization at One Bit\n\n{full[:150]}…\n\n"
        f"Vision Transformers Need Registers\n\n{abstract('vision transformers')}\n"
    )
    ingest([listing], settings, progress=False, embedder=embedder)
    records = tmp_path / "papers.jsonl"  # another format, another run, its own id
    records.write_text(
        json.dumps(
            {"id": "2402.01234", "title": "KV cache quantization at one bit", "abstract": full}
        )
        + "\n"
    )
    report = ingest([records], settings, progress=False, embedder=embedder)
    assert report.papers_in_store == 2
    paper = first_chunks(settings)["KV Cache Quantization at One Bit"]  # the first listing's
    assert paper["sources"] == "listing.txt; papers.jsonl"
    assert paper["abstract"] == full  # the longer abstract wins
    assert paper["external_id"] == "2402.01234" and paper["listing_date"] == "Mar 12"
    assert_one_paper_per_identity(settings)
    hits = Assistant.from_settings(settings).search("KV cache quantization at one bit", k=2)
    assert [h.title for h in hits].count(paper["title"]) == 1

    # Re-reading the listing alone keeps what the JSON file said: nothing changes.
    again = ingest([listing], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == again.chunks_deleted == 0
    assert first_chunks(settings)[paper["title"]]["sources"] == "listing.txt; papers.jsonl"


def write_legacy_store(settings, embedder, papers: list[Paper]) -> dict[str, np.ndarray]:
    """Chunks exactly as versions before content identity wrote them (ids as given).

    Returns embedded text → vector, to check that re-keying reuses them.
    """
    nodes = chunk_papers(papers, embedder.tokenize, embedder.chunk_tokens)
    vectors = embedder.model.get_text_embedding_batch([embedded_text(n) for n in nodes])
    store = PaperStore.open_for_writing(settings, embedder.info)
    store.upsert_chunks(nodes, vectors)
    store.mark_changed()
    return {embedded_text(n): np.asarray(v) for n, v in zip(nodes, vectors)}


def test_a_store_with_old_ids_is_rekeyed_on_the_next_ingest_without_reembedding(
    tmp_path: Path, embedder
):
    settings = make_settings(tmp_path)
    routing, pooling, speech = (
        "Sparse Expert Routing",
        "Graph Pooling Operators",
        "Speech Enhancement with Diffusion",
    )
    legacy = [
        # JSON records were stored under their own ids …
        Paper(routing, abstract("routing"), "2301.00001", ["old.jsonl"]),
        Paper(speech, abstract("speech"), "7", ["lab.csv"], authors="A. Author"),
        # … so the same paper from a listing page (title hash) was stored a second time.
        Paper(pooling, abstract("pooling"), paper_id_for(pooling), ["listing.txt"]),
        Paper(pooling, abstract("pooling"), "2301.00002", ["old.jsonl"]),
    ]
    before = write_legacy_store(settings, embedder, legacy)
    listing = tmp_path / "listing.txt"
    listing.write_text(f"{pooling}\n\n{abstract('pooling')}\n")

    report = ingest([listing], settings, progress=False, embedder=embedder)

    assert report.chunks_embedded == 0  # every vector was reused
    assert report.papers_rekeyed == 2 and report.chunks_rekeyed == 2
    assert report.papers_in_store == 3
    assert_one_paper_per_identity(settings)
    papers = first_chunks(settings)
    assert set(papers) == {routing, pooling, speech}
    assert papers[pooling]["sources"] == "listing.txt; old.jsonl"
    assert papers[speech]["sources"] == "lab.csv" and papers[speech]["authors"] == "A. Author"
    assert papers[routing]["external_id"] == "2301.00001"  # the old id, kept as a field
    data = stored(settings, "documents", "embeddings")
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    for metadata, document, vector in zip(data["metadatas"], data["documents"], data["embeddings"]):
        text = embedded_text(metadata_dict_to_node(metadata, text=document))
        assert np.allclose(vector, before[text], atol=1e-6)
    hits = Assistant.from_settings(settings).search(pooling, k=3)
    assert [h.title for h in hits].count(pooling) == 1

    again = ingest([listing], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == again.chunks_deleted == again.papers_rekeyed == 0
