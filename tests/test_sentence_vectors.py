"""Abstract sentences are embedded once, at ingest (issue 21): an extractive answer embeds
only its question; a store ingested before they were kept still answers, and the next
ingest stores them; ``ingest --check`` notices vectors out of step with the store."""

from __future__ import annotations

import json
import shutil
from collections import Counter

from assistant.core.sentence_split import quotable_sentences
from assistant.core.sentence_vectors import INDEX, SentenceVectors
from assistant.core.store import PaperStore
from assistant.engine import Assistant
from ingest.check import check_store
from ingest.pipeline import ingest
from tests.conftest import ddrnet_page, make_settings

QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"


def corpus_sentences(settings) -> list[str]:
    store = PaperStore.open(settings, None)
    return list(
        dict.fromkeys(s for paper in store.papers() for s in quotable_sentences(paper.abstract))
    )


def test_ingest_stores_one_vector_per_sentence(corpus_store, embedder):
    settings, report = corpus_store
    store = PaperStore.open(settings, embedder.info)
    vectors = SentenceVectors.load(store, settings.cache_dir, embedder.info)
    sentences = corpus_sentences(settings)
    assert vectors is not None
    assert len(vectors) == len(sentences) == report.sentences_embedded
    assert set(vectors.sentences) == set(sentences)


def test_an_extractive_answer_embeds_only_its_question(assistant, monkeypatch):
    model_type = type(assistant.embedder.model)
    embedded: Counter[str] = Counter()
    query_embedding = model_type._get_query_embedding
    text_embeddings = model_type._get_text_embeddings

    def count_query(self, query):
        embedded[query] += 1
        return query_embedding(self, query)

    def count_texts(self, texts):
        embedded.update(texts)
        return text_embeddings(self, texts)

    monkeypatch.setattr(model_type, "_get_query_embedding", count_query)
    monkeypatch.setattr(model_type, "_get_text_embeddings", count_texts)
    assert assistant.sentence_vectors is not None
    answer = assistant.ask(QUESTION)
    assert answer.answered and answer.backend == "extractive"
    # one text embedded once: the search query (the question's searched words), no sentence
    assert list(embedded.values()) == [1] and next(iter(embedded)) in QUESTION, embedded


def test_a_store_without_sentence_vectors_answers_and_ingest_stores_them(tmp_path, embedder):
    """One listing page (DDRNet among its 24 papers): the sentences of the whole bundled
    corpus would be minutes of embedding on two cores for the same behaviour."""
    settings = make_settings(tmp_path)
    listing = ddrnet_page(tmp_path / "papers")
    ingest([listing], settings, progress=False, embedder=embedder)
    store = PaperStore.open(settings, embedder.info)
    current = Assistant.from_settings(settings, embedder=embedder)
    assert current.sentence_vectors is not None
    shutil.rmtree(SentenceVectors.root(settings.cache_dir, store))  # an earlier version's
    old = Assistant.from_settings(settings, embedder=embedder)
    assert old.sentence_vectors is None
    answer = old.ask(QUESTION)
    assert answer.citations[0].title.startswith("Deep Dual-resolution Networks")
    assert answer.text == current.ask(QUESTION).text
    assert any("no sentence vectors" in note for note in check_store(settings).notes)

    report = ingest([listing], settings, progress=False, embedder=embedder)
    assert report.chunks_embedded == 0  # nothing changed: only the sentences are embedded
    assert report.sentences_embedded == len(corpus_sentences(settings))
    again = Assistant.from_settings(settings, embedder=embedder)
    assert again.sentence_vectors is not None
    assert again.ask(QUESTION).text == answer.text
    assert check_store(settings).clean


def test_check_notices_sentence_vectors_out_of_step(store_copy, embedder):
    store = PaperStore.open(store_copy, embedder.info)
    index_file = SentenceVectors.folder(store_copy.cache_dir, store) / INDEX
    index = json.loads(index_file.read_text())
    index["sentences"][0] = "A sentence no stored abstract holds."
    index_file.write_text(json.dumps(index))
    report = check_store(store_copy)
    assert any("out of step" in problem for problem in report.problems), report.lines()


def test_damaged_sentence_vectors_are_not_used(store_copy, assistant, embedder):
    store = PaperStore.open(store_copy, embedder.info)
    vectors_file = SentenceVectors.folder(store_copy.cache_dir, store) / "vectors.npy"
    vectors_file.write_bytes(vectors_file.read_bytes()[:-16])
    engine = Assistant.from_settings(store_copy, embedder=embedder)
    assert engine.sentence_vectors is None
    assert engine.ask(QUESTION).text == assistant.ask(QUESTION).text
    assert any("checksum" in problem for problem in check_store(store_copy).problems)


def test_vectors_of_an_unpublished_revision_leave_the_live_ones_in_place(store_copy, embedder):
    """An ingest killed after persisting the vectors of its revision, before publishing it:
    engines keep reading the live revision's vectors, and nothing was embedded again."""
    store = PaperStore.open(store_copy, embedder.info)
    live = SentenceVectors.folder(store_copy.cache_dir, store)
    assert SentenceVectors.refresh(store, store_copy.cache_dir, embedder, "unpublished") == 0
    assert live.is_dir() and (live.parent / "unpublished").is_dir()
    engine = Assistant.from_settings(store_copy, embedder=embedder)
    assert engine.sentence_vectors is not None
    assert len(engine.sentence_vectors) == len(corpus_sentences(store_copy))
