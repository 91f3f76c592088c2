"""The pipeline on the real engine: each turn embeds each distinct text once and never
runs the same search twice; tuned values are settings, stamped on every answer."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assistant.answer import FinalAnswer, TextPiece
from assistant.retrieval import HybridRetriever
from assistant.tuning import Tuning, TuningError
from tests.conftest import clean_env, run_module

DDRNET_ANSWER = (
    "DDRNet-23-slim yields 77.4% mIoU at 102 FPS [1].\n\n**Sources**\n"
    "[1] Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of "
    "Road Scenes"
)
HISTORY = [("Which work reaches 77.4% mIoU at 102 FPS?", DDRNET_ANSWER)]


@pytest.fixture
def counted(assistant, monkeypatch):
    """Counts every text the embedding model embeds and every hybrid search, per call."""
    model_type = type(assistant.embedder.model)
    embedded: Counter[str] = Counter()
    searched: Counter[str] = Counter()
    query_embedding = model_type._get_query_embedding
    text_embeddings = model_type._get_text_embeddings
    search = HybridRetriever.search

    def count_query(self, query):
        embedded[query] += 1
        return query_embedding(self, query)

    def count_texts(self, texts):
        embedded.update(texts)
        return text_embeddings(self, texts)

    def count_search(self, query, *args, **kwargs):
        searched[query] += 1
        return search(self, query, *args, **kwargs)

    monkeypatch.setattr(model_type, "_get_query_embedding", count_query)
    monkeypatch.setattr(model_type, "_get_text_embeddings", count_texts)
    monkeypatch.setattr(HybridRetriever, "search", count_search)

    def turn(question, history=None):
        embedded.clear()
        searched.clear()
        answer = assistant.chat(question, history or [])
        return answer, dict(embedded), dict(searched)

    return turn


@pytest.mark.parametrize(
    "question, history, answered",
    [
        ("Which work reaches 77.4% mIoU at 102 FPS?", [], True),  # a plain question
        ("On which datasets did they evaluate it?", HISTORY, True),  # a follow-up
        # a new subject inside a conversation: its own search decides, and is the search
        (
            "Which paper pretrains by reconstructing images after hiding 75% of their patches?",
            HISTORY,
            True,
        ),
        ("What is the tallest mountain in Africa?", HISTORY, False),  # declined
    ],
)
def test_a_turn_embeds_each_text_once_and_never_repeats_a_search(
    counted, question, history, answered
):
    answer, embedded, searched = counted(question, history)
    assert answer.answered is answered
    assert embedded and max(embedded.values()) == 1, embedded
    assert searched and max(searched.values()) == 1, searched


def test_events_are_typed_and_end_with_the_answer(assistant):
    events = list(assistant.events("Which work reaches 77.4% mIoU at 102 FPS?"))
    assert isinstance(events[-1], FinalAnswer)
    assert all(isinstance(event, TextPiece) for event in events[:-1])
    assert "".join(e.text for e in events[:-1]) == events[-1].answer.text
    # the plain stream carries the same: text pieces, then the Answer
    parts = list(assistant.stream("Which work reaches 77.4% mIoU at 102 FPS?"))
    assert parts[-1].text == events[-1].answer.text and isinstance(parts[0], str)


def test_every_answer_carries_the_hash_of_its_tuning(assistant):
    answer = assistant.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    assert answer.tuning_hash == Tuning().hash == assistant.tuning.hash
    assert answer.to_dict()["tuning_hash"] == Tuning().hash


def test_a_tuned_value_changes_the_answer_and_the_hash(assistant):
    """The gate's floor raised past every score: the same question is declined."""
    strict = assistant.with_tuning(Tuning().with_assignment("gate.min_score=5"))
    answer = strict.ask("How can the key-value cache be quantized down to one bit per channel?")
    assert not answer.answered
    assert answer.tuning_hash == strict.tuning.hash != Tuning().hash
    assert assistant.ask(
        "How can the key-value cache be quantized down to one bit per channel?"
    ).answered


def test_a_tuning_file_with_other_retrieval_values_gives_an_engine(assistant, tmp_path):
    """``with_settings(tuning_file=…)`` whose retrieval values differ ranks with them (it
    raised ValueError: the new tuning was checked against the old retriever)."""
    path = tmp_path / "tuning.json"
    path.write_text(json.dumps({"retrieval": {"lexical_weight": 0.0}}), encoding="utf-8")
    tuned = assistant.with_settings(tuning_file=path)
    assert tuned.retriever.tuning.lexical_weight == 0.0 != assistant.retriever.tuning.lexical_weight
    answer = tuned.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    assert answer.tuning_hash == Tuning.load(path).hash != Tuning().hash
    assert assistant.with_settings(tuning_file=None).retriever is assistant.retriever


def test_tuning_files_and_overrides_are_checked(tmp_path):
    path = tmp_path / "tuning.json"
    path.write_text(json.dumps({"premises": {"rest_gap": 0.2}}), encoding="utf-8")
    tuned = Tuning.load(path)
    assert tuned.premises.rest_gap == 0.2 and tuned.gate == Tuning().gate
    assert tuned.hash != Tuning().hash and Tuning.load(None).hash == Tuning().hash
    assert Tuning().with_assignment("premises.rest_gap=0.2") == tuned
    for bad in ("premises.nope=1", "nogroup.x=1", "premises.rest_gap", "gate.min_score=abc"):
        with pytest.raises(TuningError):
            Tuning().with_assignment(bad)
    with pytest.raises(TuningError, match="abc': gate.min_score: Input should be a valid number"):
        Tuning().with_assignment("gate.min_score=abc")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TuningError, match="tuning.json"):
        Tuning.load(path)


def test_eval_runs_a_variant_and_reports_its_hash(corpus_store, tmp_path):
    settings, _ = corpus_store
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps(
            {
                "type": "single",
                "question": "How can the key-value cache be quantized down to one bit per channel?",
                "gold": [
                    "KV Cache is 1 Bit Per Channel: Efficient Large Language Model Inference "
                    "with Coupled Quantization"
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)

    def evaluate(*extra: str) -> dict:
        done = run_module("assistant.eval", str(cases), "--json", *extra, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)[0]

    default, strict = evaluate(), evaluate("--set", "gate.min_score=5")
    assert default["tuning_hash"] == Tuning().hash
    assert strict["tuning_hash"] == Tuning().with_assignment("gate.min_score=5").hash
    assert default["answerable wrongly declined"] == 0.0
    assert strict["answerable wrongly declined"] == 1.0
    refused = run_module("assistant.eval", str(cases), "--set", "gate.nope=1", env=env)
    assert refused.returncode == 2 and "gate.nope" in refused.stderr
