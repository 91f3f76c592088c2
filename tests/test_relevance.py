"""The relevance gate and the corpus vocabulary (no model, no store)."""

from __future__ import annotations

import Stemmer

from assistant.hits import PaperHit
from assistant.relevance import RelevanceGate
from assistant.tuning import GateTuning
from assistant.vocabulary import Vocabulary

TUNED = GateTuning()
MIN_SCORE = TUNED.min_score
MIN_SCORE_WITH_UNKNOWN_NAME = TUNED.min_score_with_unknown_name
MIN_SCORE_WITH_UNKNOWN_WORD = TUNED.min_score_with_unknown_word

_stem = Stemmer.Stemmer("english").stemWord
VOCABULARY = Vocabulary(
    {
        _stem(w): 1
        for w in "semantic segmentation network real time road scene quantize cache".split()
    },
    documents=10,
)
GATE = RelevanceGate(VOCABULARY, TUNED)


def hit(score: float, abstract: str = "Segmentation of road scenes.") -> PaperHit:
    return PaperHit(title="T", score=score, abstract=abstract, sources=[], paper_id="p")


def test_unknown_terms_separate_names_from_ordinary_words():
    names, words = VOCABULARY.unknown_terms("How does YOLOv8 segment road scenes so swiftly?")
    assert names == ["YOLOv8"] and words == ["swiftly"]  # "segment" shares segmentation's stem
    names, words = VOCABULARY.unknown_terms("Does InstructGPT quantize the cache?")
    assert names == ["InstructGPT"] and words == []
    # A capitalised first word is not a name: sentences start with capitals.
    assert VOCABULARY.unknown_terms("Semantic segmentation networks")[0] == []


def test_no_hits_or_a_weak_best_paper_is_declined():
    assert not GATE.relevant("semantic segmentation", [])
    assert not GATE.relevant("semantic segmentation", [hit(MIN_SCORE - 0.01)])
    assert GATE.relevant("semantic segmentation", [hit(MIN_SCORE + 0.01)])


def test_a_name_the_corpus_never_mentions_raises_the_bar():
    question = "How does the Llama3 network segment road scenes?"
    assert not GATE.relevant(question, [hit(MIN_SCORE_WITH_UNKNOWN_NAME - 0.01)])
    assert GATE.relevant(question, [hit(MIN_SCORE_WITH_UNKNOWN_NAME + 0.01)])


def test_an_unknown_ordinary_word_raises_the_bar_less():
    question = "semantic segmentation for pastries"
    assert not GATE.relevant(question, [hit(MIN_SCORE_WITH_UNKNOWN_WORD - 0.01)])
    assert GATE.relevant(question, [hit(MIN_SCORE_WITH_UNKNOWN_WORD + 0.01)])


def test_every_figure_in_the_top_paper_accepts_it_despite_a_low_score():
    abstract = "It yields 77.4% mIoU at 102 FPS."
    assert GATE.relevant("which gets 77.4 at 102", [hit(0.3, abstract)])
    assert not GATE.relevant("which gets 85.2 at 102", [hit(0.3, abstract)])


def test_the_gate_reads_the_relevance_scale_not_the_ranking_score():
    """A paper ranked first on a high ranking score is still judged on its relevance."""
    ranked_high = PaperHit(
        title="T",
        score=MIN_SCORE + 0.2,
        abstract="Road scenes.",
        sources=[],
        paper_id="p",
        relevance=MIN_SCORE - 0.01,
    )
    assert not GATE.relevant("Which network segments road scenes in real time?", [ranked_high])
    ranked_high.relevance = MIN_SCORE + 0.01
    assert GATE.relevant("Which network segments road scenes in real time?", [ranked_high])
