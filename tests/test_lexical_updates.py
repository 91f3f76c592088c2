"""An ingest updates the previous revision's BM25 index instead of rebuilding it (issue
21): only the chunks it wrote are read and tokenised, the index scores as a full build
would, and a missing or damaged previous index means a full build, as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from assistant.core import lexical
from assistant.core.lexical import LexicalIndex
from assistant.core.store import PaperStore
from ingest.check import check_store
from ingest.pipeline import ingest
from tests.conftest import make_settings, write_jsonl

ABSTRACT = (
    "Sparse mixtures of experts route each token to a few expert networks. "
    "We show that routing with learned temperature improves perplexity by {n} points."
)


def scores_by_term(index: LexicalIndex) -> dict[str, dict[str, float]]:
    """term → {chunk id: score}: the score matrix, whatever the row and term ids."""
    bm25 = index._retriever.bm25
    indptr, rows, data = (np.asarray(bm25.scores[k]) for k in ("indptr", "indices", "data"))
    ids = sorted(index.chunk_ids())
    order = list(index._chunk_ids)
    assert sorted(order) == ids
    return {
        term: {
            order[r]: float(d)
            for r, d in zip(rows[indptr[i] : indptr[i + 1]], data[indptr[i] : indptr[i + 1]])
        }
        for term, i in bm25.vocab_dict.items()
        if i < len(indptr) - 1
    }


def spy_builds(monkeypatch) -> list[int]:
    """The sizes of the full builds made (``LexicalIndex.build``)."""
    sizes: list[int] = []
    build = LexicalIndex.build.__func__

    def spy(cls, nodes, top_k=lexical.DEFAULT_TOP_K):
        sizes.append(len(nodes))
        return build(cls, nodes, top_k)

    monkeypatch.setattr(LexicalIndex, "build", classmethod(spy))
    return sizes


def records(count: int) -> list[dict]:
    return [
        {"title": f"Routing Experts {n}", "abstract": ABSTRACT.format(n=n)} for n in range(count)
    ]


def test_an_ingest_updates_the_previous_index(tmp_path: Path, embedder, monkeypatch):
    settings = make_settings(tmp_path)
    (tmp_path / "in").mkdir()
    papers = records(8)
    source = write_jsonl(tmp_path / "in" / "p.jsonl", papers)
    ingest([source], settings, progress=False, embedder=embedder)
    builds = spy_builds(monkeypatch)
    tokenised: list[int] = []
    tokenize = lexical._tokenize
    monkeypatch.setattr(
        lexical, "_tokenize", lambda nodes: tokenised.append(len(nodes)) or tokenize(nodes)
    )

    papers[3]["abstract"] = "A completely new abstract about graph neural networks. " * 3
    papers += [{"title": "Quantised Codebooks", "abstract": "Discrete image tokens at 8B."}]
    write_jsonl(source, papers)
    report = ingest([source], settings, progress=False, embedder=embedder)
    assert report.chunks_deleted == 1 and report.chunks_embedded == 2
    write_jsonl(tmp_path / "in" / "q.jsonl", [papers[5]])  # relabels paper 5's chunk
    report = ingest([tmp_path / "in"], settings, progress=False, embedder=embedder)
    assert report.chunks_relabelled == 1
    assert builds == [] and tokenised == [2, 1]  # what each ingest wrote, nothing else

    store = PaperStore.open(settings, None)
    index = LexicalIndex.persisted(store, settings.cache_dir)
    full = LexicalIndex.build(store.chunk_nodes())
    assert index is not None and index.chunk_ids() == full.chunk_ids()
    assert scores_by_term(index) == scores_by_term(full)
    assert index.term_frequencies() == full.term_frequencies()
    relabelled = next(e for e in index._corpus if e["title"] == "Routing Experts 5")
    assert relabelled["sources"] == "p.jsonl; q.jsonl"
    assert check_store(settings).clean


def test_without_an_intact_previous_index_an_ingest_builds_it_whole(
    tmp_path: Path, embedder, monkeypatch
):
    settings = make_settings(tmp_path)
    papers = records(4)
    source = write_jsonl(tmp_path / "p.jsonl", papers)
    ingest([source], settings, progress=False, embedder=embedder)
    store = PaperStore.open(settings, None)
    matrix = LexicalIndex.folder(settings.cache_dir, store) / "data.csc.index.npy"
    raw = bytearray(matrix.read_bytes())
    raw[-5] ^= 0x40
    matrix.write_bytes(bytes(raw))
    builds = spy_builds(monkeypatch)
    write_jsonl(source, [*papers, {"title": "Another Paper", "abstract": ABSTRACT.format(n=9)}])
    ingest([source], settings, progress=False, embedder=embedder)
    assert builds == [5]
    assert check_store(settings).clean

    shutil.rmtree(LexicalIndex.folder(settings.cache_dir, PaperStore.open(settings, None)).parent)
    write_jsonl(source, [*papers, {"title": "A Third Paper", "abstract": ABSTRACT.format(n=7)}])
    ingest([source], settings, progress=False, embedder=embedder)
    assert builds == [5, 6]
    assert check_store(settings).clean
