"""The dense leg's candidates are the exact nearest chunks, the same in every process."""

from __future__ import annotations

import json

import numpy as np

from assistant.core.embeddings import EmbeddingInfo
from assistant.core.store import HNSW_EF_SEARCH, PaperStore, open_client
from assistant.retrieval import CANDIDATE_CHUNKS
from tests.conftest import ROOT, make_settings


def test_dense_candidates_are_the_exact_nearest_chunks(corpus_store, embedder):
    """At Chroma's default search breadth some of the 60 nearest chunks go missing (and
    which ones changes between processes); compared here with a brute-force search."""
    settings, _ = corpus_store
    collection = open_client(settings).get_collection(settings.collection)
    assert collection.configuration_json["hnsw"]["ef_search"] == HNSW_EF_SEARCH
    stored = collection.get(include=["embeddings"])
    vectors = np.asarray(stored["embeddings"])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [case["question"] for case in map(json.loads, lines) if "question" in case]
    assert len(questions) >= 40
    for question in questions[:40]:
        query = np.asarray(embedder.model.get_query_embedding(question))
        nearest = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:CANDIDATE_CHUNKS]
        found = collection.query(query_embeddings=[query.tolist()], n_results=CANDIDATE_CHUNKS)
        assert set(found["ids"][0]) == {stored["ids"][i] for i in nearest}, question


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
