"""Ingest end to end with the real model and a real embedded Chroma."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant.core.store import StoreError, open_client
from ingest import BUNDLED_PAPERS
from ingest.chunking import embedded_text
from ingest.pipeline import NothingToIngest, ingest
from tests.conftest import (
    ROOT,
    SMALL_WRITE_BATCH,
    clean_env,
    ddrnet_page,
    make_settings,
    run_module,
    write_jsonl,
)

ABSTRACT = (
    "Sparse mixtures of experts route each token to a few expert networks. "
    "We show that routing with learned temperature improves perplexity by four points "
    "on language modelling benchmarks while keeping the compute budget fixed."
)


def stored(settings) -> dict:
    collection = open_client(settings).get_collection(settings.collection)
    return collection.get(include=["metadatas", "documents"])


def test_bundled_corpus_ingest_counts_and_chunk_limits(corpus_store, embedder):
    settings, report = corpus_store
    assert report.papers == 348 and report.papers_in_store == 348
    assert report.duplicates_merged == 48
    assert report.chunks_embedded == report.chunks_total == report.chunks_in_store
    data = stored(settings)
    metadatas = data["metadatas"]
    assert len({m["paper_id"] for m in metadatas}) == 348
    # Every chunk fits the model's window (measured with its own tokenizer) and starts with
    # its paper's title.
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    longest = 0
    for metadata, document in zip(metadatas, data["documents"]):
        node = metadata_dict_to_node(metadata, text=document)
        text = embedded_text(node)
        assert text.startswith(metadata["title"] + "\n\n")
        longest = max(longest, embedder.count_tokens(text))
        assert {"paper_id", "title", "chunk_index", "sources"} <= metadata.keys()
    assert longest <= embedder.chunk_tokens == 254
    # More chunks than papers: most abstracts exceed the 256-piece window.
    assert report.chunks_total > 500
    merged = [m for m in metadatas if m["title"] == "Discrete Key-Value Bottleneck"]
    assert merged and all(len(m["sources"].split("; ")) == 3 for m in merged)
    assert all(m.get("listing_date") in (None, "Mar 12", "Mar 14") for m in metadatas)
    collection = open_client(settings).get_collection(settings.collection)
    assert collection.metadata["embedding_model"] == "local:all-MiniLM-L6-v2"
    assert collection.metadata["embedding_dimension"] == 384


def test_reingest_unchanged_corpus_embeds_nothing(corpus_store, embedder):
    settings, first = corpus_store
    began = time.perf_counter()
    again = ingest([BUNDLED_PAPERS], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == 0 and again.chunks_deleted == 0
    assert again.chunks_unchanged == first.chunks_total
    assert again.chunks_in_store == first.chunks_in_store
    assert time.perf_counter() - began < 30


def test_changed_abstract_replaces_that_papers_chunks(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    records = [
        {"title": "Routing Experts", "abstract": ABSTRACT},
        {"title": "Other Paper", "abstract": ABSTRACT.replace("experts", "heads")},
    ]
    source = write_jsonl(tmp_path / "p.jsonl", records)
    ingest([source], settings, progress=False, embedder=embedder)
    before = stored(settings)
    records[0]["abstract"] = "A completely new abstract about graph neural networks. " * 3
    write_jsonl(source, records)
    report = ingest([source], settings, progress=False, embedder=embedder)
    after = stored(settings)
    assert report.chunks_embedded == 1 and report.chunks_deleted == 1
    texts = [
        d for d, m in zip(after["documents"], after["metadatas"]) if m["title"] == "Routing Experts"
    ]
    assert texts and all("graph neural networks" in t for t in texts)
    assert len(after["ids"]) == len(before["ids"])
    # A second file listing the same paper relabels its chunks without re-embedding.
    write_jsonl(tmp_path / "q.jsonl", [records[1]])
    report = ingest([tmp_path], settings, progress=False, embedder=embedder)
    assert report.chunks_embedded == 0 and report.chunks_relabelled == 1
    other = [m for m in stored(settings)["metadatas"] if m["title"] == "Other Paper"]
    assert other[0]["sources"] == "p.jsonl; q.jsonl"


def test_rebuild_starts_afresh(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}])
    ingest([tmp_path / "a.jsonl"], settings, progress=False, embedder=embedder)
    write_jsonl(tmp_path / "b.jsonl", [{"title": "Paper B", "abstract": ABSTRACT}])
    report = ingest(
        [tmp_path / "b.jsonl"], settings, progress=False, embedder=embedder, rebuild=True
    )
    assert report.papers_in_store == 1
    assert {m["title"] for m in stored(settings)["metadatas"]} == {"Paper B"}
    # The replaced collection is kept, renamed, for engines still reading it; the next
    # rebuild drops it.
    names = {c.name for c in open_client(settings).list_collections()}
    assert names == {settings.collection, settings.collection + "__retired"}
    ingest([tmp_path / "a.jsonl"], settings, progress=False, embedder=embedder, rebuild=True)
    names = {c.name for c in open_client(settings).list_collections()}
    assert names == {settings.collection, settings.collection + "__retired"}
    retired = open_client(settings).get_collection(settings.collection + "__retired")
    assert {m["title"] for m in retired.get(include=["metadatas"])["metadatas"]} == {"Paper B"}


def test_bad_input_never_touches_the_store(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}])
    ingest([tmp_path / "a.jsonl"], settings, progress=False, embedder=embedder)
    before = stored(settings)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,summary\nx,y\n")
    with pytest.raises(NothingToIngest) as failure:
        ingest([bad], settings, progress=False, embedder=embedder, rebuild=True)
    assert "CSV header lacks column(s)" in str(failure.value.problems[0])
    assert stored(settings) == before


def test_other_embedding_model_is_a_clear_error(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    client = open_client(settings, create_path=True)
    client.create_collection(
        settings.collection,
        metadata={"embedding_model": "openai:text-embedding-3-small", "embedding_dimension": 1536},
        embedding_function=None,
    )
    write_jsonl(tmp_path / "a.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}])
    with pytest.raises(
        StoreError, match=r"built with openai:text-embedding-3-small \(1536 dims\).*--rebuild"
    ):
        ingest([tmp_path / "a.jsonl"], settings, progress=False, embedder=embedder)


def cli_env(tmp_path: Path) -> dict[str, str]:
    return clean_env(chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache")


def test_cli_reports_bad_files_and_exit_codes(tmp_path: Path):
    env = cli_env(tmp_path)
    (tmp_path / "empty.txt").write_text("")
    result = run_module("ingest", str(tmp_path / "empty.txt"), env=env)
    assert result.returncode == 1
    assert "error: empty.txt: file is empty" in result.stderr
    assert "Traceback" not in result.stderr
    good = write_jsonl(
        tmp_path / "mixed.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}, {"title": "B"}]
    )
    result = run_module("ingest", str(good), "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    assert "skipped: mixed.jsonl:2: record 'B' has no abstract; skipped" in result.stderr
    for label in (
        "files",
        "papers",
        "chunks embedded",
        "chunks unchanged",
        "seconds",
        "papers/second",
    ):
        assert label in result.stdout
    # --quiet: the summary and the problems, nothing else (no progress bars, no warnings).
    assert [line for line in result.stderr.splitlines() if not line.startswith("skipped: ")] == []
    assert "\r" not in result.stdout + result.stderr


def test_kill_9_mid_ingest_then_rerun_is_consistent(tmp_path: Path, embedder):
    """One listing page (48 chunks) written 16 at a time: the kill lands between
    two writes."""
    env = cli_env(tmp_path) | {"ASSISTANT_WRITE_BATCH": str(SMALL_WRITE_BATCH)}
    corpus = ddrnet_page(tmp_path / "papers")
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(corpus)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    seen = b""
    first_write = re.compile(rb"embedding.*?\| *%d/\d+" % SMALL_WRITE_BATCH, re.DOTALL)
    deadline = time.time() + 240
    while not first_write.search(seen) and time.time() < deadline:  # one step is written
        byte = process.stderr.read(1)
        if not byte:
            break
        seen += byte
    assert first_write.search(seen), seen[-500:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    settings = make_settings(tmp_path)
    partial = stored(settings)
    report = ingest([corpus], settings, progress=False, embedder=embedder)
    assert 0 < len(partial["ids"]) < report.chunks_total
    assert report.chunks_unchanged == len(partial["ids"])
    data = stored(settings)
    keys = Counter((m["paper_id"], m["chunk_index"]) for m in data["metadatas"])
    assert max(keys.values()) == 1  # no duplicates
    assert len({m["paper_id"] for m in data["metadatas"]}) == report.papers  # nothing lost
    assert len(data["ids"]) == report.chunks_total
