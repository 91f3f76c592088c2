"""Deciding whether the corpus can answer a question at all ("say so plainly" when not).

Three signals, each cheap and explainable:
- the fused retrieval score of the best paper (cosine + squashed BM25, see retrieval.py);
- terms the corpus has never seen: a question about "YOLOv8" or "InstructGPT" in a corpus
  that never mentions them is about a paper that is not there. Named-looking terms
  (capitals, digits) are strong evidence; ordinary words ("hiding", "packed") are weak,
  because paraphrases use words the abstracts do not;
- exact figures: when every number the user typed ("77.4", "102") appears in the best
  paper's abstract, the paper is the one asked about, however low its cosine.

The thresholds were calibrated on eval/dev.jsonl (README, "Evaluation").
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.retrieval import PaperHit, holds_figures, query_figures
from assistant.vocabulary import Vocabulary

MIN_SCORE = 0.53  # below this nothing retrieved is relevant enough
MIN_SCORE_WITH_UNKNOWN_WORD = 0.62  # the question uses an ordinary word the corpus lacks
MIN_SCORE_WITH_UNKNOWN_NAME = 0.80  # the question names something the corpus lacks


class RelevanceGate:
    """Answer or decline, from the retrieved papers and the corpus vocabulary."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary

    def relevant(self, question: str, hits: Sequence[PaperHit]) -> bool:
        """Whether the best retrieved paper can support an answer to ``question``."""
        if not hits:
            return False
        top = hits[0]
        names, words = self.vocabulary.unknown_terms(question)
        if names and top.gate_score < MIN_SCORE_WITH_UNKNOWN_NAME:
            return False  # it names something the corpus never mentions
        if holds_figures(top.abstract, query_figures(question)):
            return True  # every figure in the question appears in the top paper
        if words and top.gate_score < MIN_SCORE_WITH_UNKNOWN_WORD:
            return False  # a weak match, with words the corpus never uses
        return top.gate_score >= MIN_SCORE
