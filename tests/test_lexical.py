"""The BM25 index on a real (small) corpus: its phrase lookup; the build, an update
from the tokenised corpus, and the persisted files read back."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.core import lexical
from assistant.core.bm25_matrix import bm25_index
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


def test_retrieval_gives_llama_index_bm25_retrievers_hits_and_scores():
    """Its own pick of the best rows (``top_rows``) ranks as bm25s does where scores
    differ: the same chunks with the same scores, best first (zero scores left out)."""
    reference = BM25Retriever.from_defaults(
        nodes=NODES,
        stemmer=Stemmer.Stemmer("english"),
        language="en",
        similarity_top_k=len(NODES),
        token_pattern=lexical.TOKEN_PATTERN,
    )
    built = LexicalIndex.build(NODES)
    queries = ["graph neural networks", "differentiable search", "state space", "cities", "x"]
    for query in queries:
        hits = reference.retrieve(query)
        expected = {(hit.node.node_id, hit.score) for hit in hits if hit.score > 0}
        found = built.retrieve(QueryBundle(query), len(NODES))
        assert {(hit.node.node_id, hit.score) for hit in found} == expected, query
        assert [hit.score for hit in found] == sorted((s for _, s in expected), reverse=True)


def test_the_best_rows_are_the_highest_scores_ties_by_row():
    """Against a full sort, on score arrays as BM25 makes them: mostly 0, many ties."""
    rng = np.random.default_rng(3)
    for size, k in [(1, 1), (5, 10), (1000, 60), (20000, 60), (20000, 1), (300, 300)]:
        scores = rng.choice([0.0, 0.0, 0.0, 1.5, 2.25, 3.0], size=size).astype(np.float32)
        scores[rng.integers(0, size, size=min(size, 7))] = rng.random(min(size, 7)) * 9
        expected = sorted(range(size), key=lambda row: (-scores[row], row))[:k]
        assert lexical.top_rows(scores, k) == expected, (size, k)
    assert lexical.top_rows(np.zeros(0, dtype=np.float32), 5) == []
    assert lexical.top_rows(np.ones(3, dtype=np.float32), 0) == []


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


def test_a_papers_chunks_and_a_chunks_node_are_found_by_id(monkeypatch):
    """Rows are found through hashed ids; equal hashes (forced here) are told apart."""
    built = LexicalIndex.build(NODES)
    assert built.chunks_of(["gm", "rt", "nowhere"]) == {"gm": ["gm:0", "gm:1"], "rt": ["rt:0"]}
    assert set(built.nodes(["gm:1", "rt:0", "nowhere:0"])) == {"gm:1", "rt:0"}
    assert built.nodes(["gm:1"])["gm:1"].get_content() == NODES[-2].get_content()
    monkeypatch.setattr(lexical, "hash", lambda value: 7, raising=False)  # every id collides
    colliding = LexicalIndex.build(NODES)
    assert colliding.chunks_of(["gm", "rt"]) == {"gm": ["gm:0", "gm:1"], "rt": ["rt:0"]}
    assert colliding.mask({"rt"}).tolist() == [0.0] * (len(NODES) - 1) + [1.0]
    assert list(colliding.nodes(["rt:0", "gm:0"])) == ["rt:0", "gm:0"]


def resident_kib(path: Path) -> int | None:
    """KiB of ``path`` this process has mapped and resident (None: not mapped at all)."""
    resident, mapped, current = 0, False, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's first line
            current = line.endswith(str(path))
            mapped |= current
        elif current and line.startswith("Rss:"):
            resident += int(head[1])
    return resident if mapped else None


def test_a_persisted_index_is_read_back_memory_mapped(tmp_path):
    built = LexicalIndex.build(NODES)
    built.persist(tmp_path / "revision")
    loaded = LexicalIndex.read(tmp_path / "revision")
    assert loaded is not None and len(loaded) == len(NODES)
    assert isinstance(loaded._corpus, lexical._FileLines)
    assert isinstance(loaded._retriever.bm25.scores["data"], np.memmap)
    for query in QUERIES:
        assert hits(loaded, query) == hits(built, query)
        mine = loaded.retrieve(QueryBundle(query), 10)
        theirs = built.retrieve(QueryBundle(query), 10)
        assert [h.node.metadata for h in mine] == [h.node.metadata for h in theirs]
    assert loaded.chunk_ids() == built.chunk_ids()


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's smaps")
def test_loading_an_index_leaves_its_files_out_of_resident_memory(tmp_path):
    """The checks at load scan the score matrix and the term ids whole, through mappings of
    their own; the index's mappings stay untouched until a query reads its postings, and
    ``corpus.jsonl`` is read, never mapped (a mapped file's pages count in the process's
    resident memory: at a million chunks, 0.8 GB more after 100 searches)."""
    folder = tmp_path / "revision"
    LexicalIndex.build(NODES).persist(folder)
    loaded = LexicalIndex.read(folder)
    assert loaded is not None
    for name in (lexical.TOKENS, lexical.SCORE_DATA, lexical.SCORE_INDICES):
        assert resident_kib(folder / name) == 0, name  # mapped, no page read through it
    assert loaded.retrieve(QueryBundle(QUERIES[0]), 10)
    assert resident_kib(folder / lexical.CORPUS) is None
    assert resident_kib(folder / lexical.SCORE_DATA) > 0  # the postings the query read
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


# --- the score matrix computed from the flat arrays, bit for bit bm25s's own -------------
def random_corpus(seed: int, documents: int, terms: int, longest: int):
    """(flat, offsets, vocabulary): Zipf-like term ids (a few terms in most documents,
    repeated within them), lengths 0 to ``longest`` (empty documents among them)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, longest + 1, documents)
    flat = ((rng.zipf(1.3, int(lengths.sum())) - 1) % terms).astype(np.int32)
    offsets = np.zeros(documents + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return flat, offsets, {f"t{i}": i for i in range(terms)}


def bundled_corpus():
    ids, vocabulary = lexical._tokenize(NODES)
    return (*lexical._flatten(ids), vocabulary)


CORPORA = {
    "bundled": bundled_corpus,
    "random": lambda: random_corpus(7, 2_000, 500, 60),
    "short": lambda: random_corpus(8, 300, 40, 3),  # most documents empty or a term or two
    "one document": lambda: random_corpus(9, 1, 50, 60),
}


@pytest.mark.parametrize("corpus", CORPORA)
def test_the_matrix_from_flat_arrays_is_bm25s_index_bit_for_bit(corpus):
    flat, offsets, vocabulary = CORPORA[corpus]()
    assert (np.diff(offsets) == 0).any() or corpus in ("bundled", "one document")
    documents = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    reference = bm25s.BM25()
    reference.index((documents, dict(vocabulary)), show_progress=False)
    built = bm25_index(flat, offsets, vocabulary)
    for key in ("data", "indices", "indptr"):
        mine, theirs = built.scores[key], reference.scores[key]
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), key
    assert built.scores["num_docs"] == reference.scores["num_docs"] == len(documents)
    assert built.vocab_dict == reference.vocab_dict and "" in built.vocab_dict
    # every other attribute BM25.index sets (or leaves) is the same too
    theirs = {k: v for k, v in vars(reference).items() if k != "scores"}
    assert {k: v for k, v in vars(built).items() if k != "scores"} == theirs


def test_a_matrix_from_flat_arrays_is_saved_and_loaded_by_bm25s(tmp_path):
    flat, offsets, vocabulary = random_corpus(10, 200, 80, 30)
    built = bm25_index(flat, offsets, vocabulary)
    built.save(str(tmp_path), show_progress=False)
    loaded = bm25s.BM25.load(str(tmp_path), mmap=True, show_progress=False)
    query = [["t0", "t3", "t17"]]
    for mine, theirs in zip(
        built.retrieve(query, k=10, show_progress=False),
        loaded.retrieve(query, k=10, show_progress=False),
        strict=True,
    ):
        assert np.array_equal(mine, theirs)


WORDS = [f"{a}{b}" for a in ("graph", "token", "scene", "audio") for b in ("ing", "er", "ly")]


def random_node(rng: np.random.Generator, pid: str, chunk: int) -> TextNode:
    text = " ".join(rng.choice(WORDS, int(rng.integers(0, 12))))
    return node(pid, f"Paper {pid}", text, chunk)


def test_random_updates_score_as_full_builds():
    """Rows removed here and there, rewritten in place (one twice), added, and a new chunk
    removed in the same update: the kept rows' ids are copied in runs (``_take_rows``)."""
    rng = np.random.default_rng(11)
    nodes = [random_node(rng, f"p{i // 3}", i % 3) for i in range(120)]
    index = LexicalIndex.build(nodes)
    for _ in range(3):
        removed = {nodes[i].id_ for i in rng.choice(len(nodes), 15, replace=False)}
        rewritten = [
            random_node(rng, nodes[i].metadata["paper_id"], int(nodes[i].id_.split(":")[1]))
            for i in rng.choice(len(nodes), 10, replace=False)
        ]
        again = random_node(rng, rewritten[0].metadata["paper_id"], int(rewritten[0].id_[-1]))
        added = [random_node(rng, f"new{len(nodes) + i}", 0) for i in range(8)]
        written = [*rewritten, again, *added]  # the last write of a chunk counts
        removed.add(added[-1].id_)
        index = index.updated(written, removed)
        by_id = {n.id_: n for n in written}
        nodes = [by_id.get(n.id_, n) for n in nodes] + added
        nodes = [n for n in nodes if n.id_ not in removed]
        full = LexicalIndex.build(nodes)
        assert index._chunk_ids == full._chunk_ids
        assert postings(index) == postings(full)
        assert index.term_frequencies() == full.term_frequencies()


def test_common_rows_of_two_postings_lists_are_their_intersection():
    rng = np.random.default_rng(5)
    for size_a, size_b in [(0, 5), (5, 0), (1, 1), (30, 2000), (2000, 30), (5000, 5000)]:
        a = np.unique(rng.integers(0, 10_000, size_a)).astype(np.int32)
        b = np.unique(rng.integers(0, 10_000, size_b)).astype(np.int32)
        assert lexical._common_rows(a, b).tolist() == np.intersect1d(a, b).tolist()
    assert lexical._common_rows(np.array([9]), np.array([1, 2, 3])).tolist() == []
