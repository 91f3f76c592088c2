"""Fusion of the dense and BM25 rankings into one paper ranking (no model, no store)."""

from __future__ import annotations

import pytest

from assistant.retrieval import fuse
from assistant.text.figures import holds_figures, query_figures
from assistant.text.phrasing import search_text
from assistant.tuning import RetrievalTuning
from tests.units import catalog, dense_hit, lexical_hit, paper

TUNED = RetrievalTuning()
BM25_HALF, LEXICAL_WEIGHT, FIGURE_BONUS = TUNED.bm25_half, TUNED.lexical_weight, TUNED.figure_bonus
RELEVANCE_BM25_HALF = TUNED.relevance_bm25_half
RELEVANCE_LEXICAL_WEIGHT = TUNED.relevance_lexical_weight

PAPERS = catalog(
    paper("a", "Alpha"),
    paper("b", "Beta", "Beta reaches 77.4% mIoU at 102 FPS on Cityscapes."),
    paper("c", "Gamma"),
)


def test_the_fusion_weights_are_arguments():
    """pyserini-style: the knobs are passed in, so a variant needs no code change."""
    dense, lexical = [dense_hit("a", 0.9), dense_hit("b", 0.5)], [lexical_hit("b", 5.0)]
    assert [h.paper_id for h in fuse(PAPERS, dense, lexical, k=2)] == ["a", "b"]
    lexical_first = RetrievalTuning(lexical_weight=2.0)
    assert [h.paper_id for h in fuse(PAPERS, dense, lexical, 2, tuning=lexical_first)] == [
        "b",
        "a",
    ]


def test_dense_only_ranks_by_cosine_and_collapses_chunks_to_papers():
    hits = fuse(
        PAPERS,
        [dense_hit("a", 0.9, "a1"), dense_hit("c", 0.7), dense_hit("a", 0.6, "a2")],
        [],
        k=10,
    )
    assert [h.paper_id for h in hits] == ["a", "c"]
    assert hits[0].score == pytest.approx(0.9)
    assert hits[0].dense_similarity == pytest.approx(0.9)
    assert hits[0].passages == ["a1", "a2"]  # a paper is as good as its best chunk


def test_bm25_lead_keeps_its_size_and_lexical_only_papers_get_the_dense_floor():
    hits = fuse(PAPERS, [dense_hit("a", 0.6), dense_hit("c", 0.5)], [lexical_hit("b", 20.0)], k=3)
    assert hits[0].paper_id == "b"
    lexical = LEXICAL_WEIGHT * 20.0 / (20.0 + BM25_HALF)
    assert hits[0].score == pytest.approx(0.5 + lexical)  # the last dense candidate's cosine
    assert hits[0].dense_similarity == 0.0 and hits[0].lexical_score == 20.0


def test_a_paper_holding_every_figure_gets_the_bonus():
    figures = query_figures("Which work reaches 77.4% mIoU at 102 FPS with 3 branches?")
    assert figures == ["77.4", "102"]  # single digits are too common to count
    hits = fuse(PAPERS, [dense_hit("a", 0.6), dense_hit("b", 0.55)], [], k=2, figures=figures)
    assert [h.paper_id for h in hits] == ["b", "a"]
    assert hits[0].score == pytest.approx(0.55 + FIGURE_BONUS)


def test_figures_must_stand_as_numbers_of_their_own():
    assert holds_figures("reaches 77.4% mIoU", ["77.4"])
    assert not holds_figures("reaches 177.45% mIoU", ["77.4"])
    assert not holds_figures("anything", [])


def test_passages_merge_without_repeats_and_unknown_papers_are_skipped():
    hits = fuse(
        PAPERS,
        [dense_hit("a", 0.8, "shared"), dense_hit("zzz", 0.99)],
        [lexical_hit("a", 3.0, "shared"), lexical_hit("a", 2.0, "lexical only")],
        k=10,
    )
    assert [h.paper_id for h in hits] == ["a"]  # "zzz" was stored after the catalogue loaded
    assert hits[0].passages == ["shared", "lexical only"]


def test_ties_break_by_title_and_k_truncates():
    hits = fuse(PAPERS, [dense_hit("c", 0.5), dense_hit("a", 0.5), dense_hit("b", 0.4)], [], k=2)
    assert [h.title for h in hits] == ["Alpha", "Gamma"]


def test_relevance_stays_on_its_fixed_scale_whatever_the_ranking_weights():
    """The ranking may favour exact wording more; the relevance gate's thresholds compare a
    score on the fixed scale they were calibrated on (cosine + 0.5 · s / (s + 5))."""
    hits = fuse(PAPERS, [dense_hit("a", 0.6), dense_hit("c", 0.64)], [lexical_hit("a", 12.0)], k=2)
    assert [h.paper_id for h in hits] == ["a", "c"]
    top = hits[0]
    assert top.score == pytest.approx(0.6 + LEXICAL_WEIGHT * 12.0 / (12.0 + BM25_HALF))
    fixed = 0.6 + RELEVANCE_LEXICAL_WEIGHT * 12.0 / (12.0 + RELEVANCE_BM25_HALF)
    assert top.relevance == pytest.approx(fixed) and top.gate_score == top.relevance
    assert (RELEVANCE_LEXICAL_WEIGHT, RELEVANCE_BM25_HALF) == (0.5, 5.0)
    assert hits[1].gate_score == pytest.approx(0.64)  # no BM25: cosine on both scales


@pytest.mark.parametrize(
    ("query", "searched"),
    [
        ("Which papers study binary neural networks?", "study binary neural networks?"),
        ("Is there work that trains sparse autoencoders?", "trains sparse autoencoders?"),
        ("are there any papers on graph transformers", "graph transformers"),
        ("List the methods that prune attention heads", "prune attention heads"),
        ("Which method compresses VGG16 to 8.7MB?", "compresses VGG16 to 8.7MB?"),
        # not a request for papers, or only stopwords left once it is dropped: as asked
        (
            "How do papers on pruning measure sparsity?",
            "How do papers on pruning measure sparsity?",
        ),
        ("Which methods?", "Which methods?"),
        ("Which papers are there?", "Which papers are there?"),
    ],
)
def test_an_opening_request_for_papers_is_not_searched(query, searched):
    assert search_text(query) == searched
