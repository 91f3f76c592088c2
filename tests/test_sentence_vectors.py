"""Abstract sentences are embedded once, at ingest (issue 21): an extractive answer embeds
only its question; a store ingested before they were kept still answers, and the next
ingest stores them; an ingest of a few papers embeds and splits only theirs (a new segment,
the others linked); ``ingest --check`` notices vectors out of step with the store."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from assistant.core import sentence_vectors
from assistant.core.revision_folders import file_record
from assistant.core.sentence_split import quotable_sentences
from assistant.core.sentence_vectors import INDEX, SentenceVectors
from assistant.core.store import PaperStore
from assistant.engine import Assistant
from ingest.check import check_store
from ingest.pipeline import ingest
from tests.conftest import ddrnet_page, make_settings, write_jsonl

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
    assert all(sentence in vectors for sentence in sentences)
    assert "A sentence no stored abstract holds." not in vectors
    assert len(vectors.segments) == 1 and vectors.total_rows == len(sentences)


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
    """Vectors persisted for the live revision without one stored paper's sentences."""
    store = PaperStore.open(store_copy, embedder.info)
    folder = SentenceVectors.folder(store_copy.cache_dir, store)
    vectors = SentenceVectors.read(folder)
    lacking = [paper.abstract for paper in list(store.papers())[1:]]
    kept, embedded = SentenceVectors.build(lacking, embedder, vectors)
    assert embedded == 0 and len(kept) < len(vectors)
    kept.persist(folder)
    report = check_store(store_copy)
    assert any("out of step" in problem for problem in report.problems), report.lines()


def test_damaged_sentence_vectors_are_not_used(store_copy, assistant, embedder):
    store = PaperStore.open(store_copy, embedder.info)
    vectors_file = SentenceVectors.folder(store_copy.cache_dir, store) / "segment-0000.npy"
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


def routing_papers(count: int, unit: str = "batch") -> list[dict]:
    return [
        {
            "title": f"Routing Experts {n}",
            "abstract": f"Sparse mixtures of experts route token {unit} {n} to few experts. "
            f"Learned temperatures improve perplexity by {n}.5 points on the benchmark.",
        }
        for n in range(count)
    ]


def stored_vectors(settings, embedder) -> SentenceVectors:
    store = PaperStore.open(settings, embedder.info)
    vectors = SentenceVectors.load(store, settings.cache_dir, embedder.info)
    assert vectors is not None
    return vectors


def test_an_ingest_of_a_few_papers_splits_and_embeds_only_theirs(tmp_path, embedder, monkeypatch):
    settings = make_settings(tmp_path)
    (tmp_path / "in").mkdir()
    papers = routing_papers(6)
    source = write_jsonl(tmp_path / "in" / "p.jsonl", papers)
    ingest([source], settings, progress=False, embedder=embedder)
    before = stored_vectors(settings, embedder)
    split: list[str] = []
    quotable = sentence_vectors.quotable_sentences
    monkeypatch.setattr(
        sentence_vectors, "quotable_sentences", lambda text: split.append(text) or quotable(text)
    )

    papers[2]["abstract"] = "Routing collapses without a balancing loss. The fix costs 3 ms."
    papers.append({"title": "Quantised Codebooks", "abstract": "Discrete image tokens at 8B."})
    write_jsonl(source, papers)
    report = ingest([source], settings, progress=False, embedder=embedder)

    assert sorted(split) == sorted([papers[2]["abstract"], papers[6]["abstract"]])
    after = stored_vectors(settings, embedder)
    new = [s for p in papers[2::4] for s in quotable(p["abstract"])]
    assert report.sentences_embedded == len(new) == after.total_rows - before.total_rows
    assert len(after.segments) == 2
    first_segment = [Path(segment.filename) for segment in (before.segments[0], after.segments[0])]
    assert first_segment[0] != first_segment[1]
    assert first_segment[0].stat().st_ino == first_segment[1].stat().st_ino  # linked
    monkeypatch.undo()
    assert all(sentence in after for sentence in corpus_sentences(settings))
    assert all(
        np.array_equal(after.rows([s])[0], before.rows([s])[0])
        for s in quotable(papers[0]["abstract"])
    )
    report = check_store(settings)
    assert report.clean, report.lines()
    # paper 2's old sentences keep their rows until a full build
    assert any("since removed or rewritten" in note for note in report.notes), report.lines()


def test_rows_of_rewritten_abstracts_give_way_to_a_full_build(tmp_path, embedder):
    settings = make_settings(tmp_path)
    (tmp_path / "in").mkdir()
    papers = routing_papers(4)
    source = write_jsonl(tmp_path / "in" / "p.jsonl", papers)
    ingest([source], settings, progress=False, embedder=embedder)
    live = len(stored_vectors(settings, embedder))
    for round_, stale in enumerate([False, True]):  # each round rewrites 4 sentences
        papers = routing_papers(4, unit=f"group {round_}")
        write_jsonl(source, papers)
        ingest([source], settings, progress=False, embedder=embedder)
        vectors = stored_vectors(settings, embedder)
        assert len(vectors.segments) == 2 + round_
        assert vectors.total_rows == live + len(papers) * (round_ + 1)
        assert vectors.too_stale(len(papers)) is stale  # 16 rows > 1.5 × 8 live
    # the next ingest finds too many rows and builds whole: live rows only
    papers[0]["abstract"] += " A last sentence about expert capacity factors."
    write_jsonl(source, papers)
    ingest([source], settings, progress=False, embedder=embedder)
    vectors = stored_vectors(settings, embedder)
    assert len(vectors.segments) == 1 and vectors.total_rows == live + 1
    assert check_store(settings).clean


def test_vectors_of_the_earlier_layout_are_read_and_reused(tmp_path, embedder):
    """Layout 1 (one ``vectors.npy``, the sentences' texts in ``index.json``): an engine
    uses it as it is; the next ingest rebuilds it in the new layout, embedding nothing
    it already held."""
    settings = make_settings(tmp_path)
    (tmp_path / "in").mkdir()
    papers = routing_papers(3)
    source = write_jsonl(tmp_path / "in" / "p.jsonl", papers)
    ingest([source], settings, progress=False, embedder=embedder)
    store = PaperStore.open(settings, embedder.info)
    folder = SentenceVectors.folder(settings.cache_dir, store)
    current = stored_vectors(settings, embedder)
    sentences = corpus_sentences(settings)
    shutil.rmtree(folder)
    folder.mkdir()
    np.save(folder / "vectors.npy", np.stack(current.rows(sentences)))
    index = {
        "model": embedder.info.name,
        "dimension": embedder.info.dimension,
        **file_record(folder / "vectors.npy"),
        "sentences": sentences,
    }
    (folder / INDEX).write_text(json.dumps(index))

    engine = Assistant.from_settings(settings, embedder=embedder)
    assert engine.sentence_vectors is not None and len(engine.sentence_vectors) == len(sentences)
    assert check_store(settings).clean
    papers.append({"title": "Quantised Codebooks", "abstract": "Discrete image tokens at 8B."})
    write_jsonl(source, papers)
    report = ingest([source], settings, progress=False, embedder=embedder)
    assert report.sentences_embedded == 1
    store = PaperStore.open(settings, embedder.info)  # the new revision
    index = json.loads((SentenceVectors.folder(settings.cache_dir, store) / INDEX).read_text())
    assert index["layout"] == 2 and index["sentences"] == len(sentences) + 1
