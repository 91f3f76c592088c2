"""The dense leg's candidates are the exact nearest chunks, the same in every process."""

from __future__ import annotations

import json

import numpy as np

from assistant.core.embeddings import EmbeddingInfo
from assistant.core.store import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_MAX_NEIGHBORS,
    PaperStore,
    _widen_search,
    open_client,
)
from assistant.tuning import RetrievalTuning
from tests.conftest import ROOT, make_settings

CANDIDATE_CHUNKS = RetrievalTuning().candidate_chunks


def test_dense_candidates_are_the_exact_nearest_chunks(corpus_store, embedder):
    """At Chroma's default search breadth some of the 60 nearest chunks go missing (and
    which ones changes between processes); compared here with a brute-force search."""
    settings, _ = corpus_store
    collection = open_client(settings).get_collection(settings.collection)
    hnsw = collection.configuration_json["hnsw"]
    assert hnsw["ef_search"] == HNSW_EF_SEARCH
    assert (hnsw["max_neighbors"], hnsw["ef_construction"]) == (
        HNSW_MAX_NEIGHBORS,
        HNSW_EF_CONSTRUCTION,
    )
    stored = collection.get(include=["embeddings"])
    vectors = np.asarray(stored["embeddings"])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [case["question"] for case in map(json.loads, lines) if "question" in case]
    assert len(questions) >= 40
    ids = np.asarray(stored["ids"])
    for question in questions[:40]:
        query = np.asarray(embedder.model.get_query_embedding(question))
        similarity = vectors @ (query / np.linalg.norm(query))
        cut = np.sort(similarity)[-CANDIDATE_CHUNKS]  # the 60th best similarity
        found = collection.query(query_embeddings=[query.tolist()], n_results=CANDIDATE_CHUNKS)
        found_ids = set(found["ids"][0])
        # every chunk clearly inside the 60 is found, and nothing clearly outside (a tie at
        # the 60th place may go either way: Chroma scores in float32)
        assert set(ids[similarity > cut + 1e-5]) <= found_ids, question
        assert found_ids <= set(ids[similarity >= cut - 1e-5]), question


def test_a_collection_made_with_the_default_breadth_is_widened_by_the_next_ingest(tmp_path):
    settings = make_settings(tmp_path)
    client = open_client(settings, create_path=True)
    client.create_collection(settings.collection, configuration={"hnsw": {"space": "cosine"}})
    assert client.get_collection(settings.collection).configuration_json["hnsw"]["ef_search"] < (
        HNSW_EF_SEARCH
    )
    PaperStore.open_for_writing(settings, EmbeddingInfo("any-model", 3))
    hnsw = open_client(settings).get_collection(settings.collection).configuration_json["hnsw"]
    assert hnsw["ef_search"] == HNSW_EF_SEARCH and hnsw["space"] == "cosine"


class _Collection:
    """A collection as a Chroma server may report it: its own index, or a refusal."""

    name = "papers"

    def __init__(self, configuration: dict | None, refuse: bool = False):
        self.configuration_json = configuration
        self.refuse = refuse
        self.modified: list[dict] = []

    def modify(self, configuration: dict) -> None:
        if self.refuse:
            raise ValueError("Trying to update HNSW config but schema has SPANN")
        self.modified.append(configuration)


def test_widening_is_best_effort(caplog):
    """A server index that is not HNSW (distributed Chroma's SPANN) has nothing to widen,
    and a refused update leaves the store usable, with a warning."""
    spann = _Collection({"spann": {"search_nprobe": 64}})
    _widen_search(spann)
    assert spann.modified == []
    _widen_search(_Collection(None))
    refusing = _Collection({"hnsw": {"ef_search": 100}}, refuse=True)
    _widen_search(refusing)
    assert "could not widen the HNSW search of papers" in caplog.text
    narrow = _Collection({"hnsw": {"ef_search": 100}})
    _widen_search(narrow)
    assert narrow.modified == [{"hnsw": {"ef_search": HNSW_EF_SEARCH}}]


def test_the_dense_leg_gives_llama_indexs_chroma_hits_from_the_bm25_corpus(corpus_store, embedder):
    """The dense leg asks Chroma for ids and distances only and reads each hit from the BM25
    index's corpus file: its hits (order, scores, text, metadata) are still exactly those of
    llama-index's retriever over the ``ChromaVectorStore``, filtered or not; a hit the BM25
    index lacks (stored after its revision) is read from Chroma."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import QueryBundle
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.core.lexical import LexicalIndex
    from assistant.core.schema import PAPER_ID
    from assistant.engine import Assistant
    from assistant.retrieval import HybridRetriever

    settings, _ = corpus_store
    engine = Assistant.from_settings(settings, embedder=embedder)
    ours = engine.retriever
    collection = open_client(settings).get_collection(settings.collection)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection),
        embed_model=embedder.model,
        transformations=[embedder.model],
    )

    def reference(bundle: QueryBundle, allowed: list[str] | None = None) -> list:
        filters = None
        if allowed is not None:
            only = MetadataFilter(key=PAPER_ID, value=sorted(allowed), operator=FilterOperator.IN)
            filters = MetadataFilters(filters=[only])
        top_k = ours.candidate_chunks
        return index.as_retriever(similarity_top_k=top_k, filters=filters).retrieve(bundle)

    def described(hits: list) -> list:
        return [(h.node.node_id, h.score, h.node.get_content(), h.node.metadata) for h in hits]

    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [case["question"] for case in map(json.loads, lines) if "question" in case]
    nodes = engine.store.chunk_nodes()
    for question in questions[:12]:
        bundle = QueryBundle(question, embedding=embedder.model.get_query_embedding(question))
        expected = reference(bundle)
        assert described(ours.dense_retrieve(bundle)) == described(expected), question
        allowed = {hit.node.metadata[PAPER_ID] for hit in expected[10:30]}
        assert described(ours.dense_retrieve(bundle, allowed)) == described(
            reference(bundle, sorted(allowed))
        ), question
        # The BM25 index without the best hit's paper: that hit comes from Chroma.
        missing = expected[0].node.metadata[PAPER_ID]
        partial = LexicalIndex.build([n for n in nodes if n.metadata[PAPER_ID] != missing])
        behind = HybridRetriever(engine.store, embedder, partial, engine.catalog, ours.tuning)
        assert described(behind.dense_retrieve(bundle)) == described(expected), question


def test_a_named_papers_similarity_is_what_chroma_finds_among_its_chunks(corpus_store, embedder):
    """The premise checks ask how near a question's words are to a paper they name, however
    far from the dense candidates: computed from the paper's stored vectors, it equals the
    best cosine Chroma's search restricted to that paper reports (which walks the HNSW
    graph past every other chunk); a paper the BM25 index lacks is still searched in
    Chroma."""
    from assistant.core.lexical import LexicalIndex
    from assistant.core.schema import PAPER_ID
    from assistant.engine import Assistant
    from assistant.retrieval import HybridRetriever

    settings, _ = corpus_store
    engine = Assistant.from_settings(settings, embedder=embedder)
    ours = engine.retriever
    nodes = engine.store.chunk_nodes()
    papers = sorted({node.metadata[PAPER_ID] for node in nodes})
    several_chunks = [p for p in papers if len(ours.lexical.chunks_of([p])[p]) > 1]
    assert several_chunks, "the bundled corpus has papers of more than one chunk"
    named = papers[::25] + several_chunks[:5]

    def chroma_best(vector: list[float], paper_id: str) -> float:
        hits = ours.store.nearest(vector, 10, {PAPER_ID: {"$in": [paper_id]}})
        return 1.0 - min(distance for _, distance in hits)

    for text in ("graph neural networks for molecules", "speech recognition", "77.4% mIoU"):
        vector = embedder.model.get_query_embedding(text)
        found = ours.similarities(vector, named)
        assert found.keys() == set(named)
        for paper_id in named:
            assert abs(found[paper_id] - chroma_best(vector, paper_id)) < 1e-5, (text, paper_id)
        near = ours.nearest_papers(text, include=named[:3], vector=vector)
        assert all(abs(near[p] - found[p]) < 1e-5 for p in named[:3])
        # a paper the BM25 index does not list yet: Chroma's restricted search answers
        partial = LexicalIndex.build([n for n in nodes if n.metadata[PAPER_ID] != named[0]])
        behind = HybridRetriever(engine.store, embedder, partial, engine.catalog, ours.tuning)
        assert abs(behind.similarities(vector, named[:1])[named[0]] - found[named[0]]) < 1e-5
