"""Deciding whether the corpus can answer a question at all ("say so plainly" when not).

Three signals, each cheap and explainable:
- the fused retrieval score of the best paper (cosine + squashed BM25, see retrieval.py);
- terms the corpus has never seen: a question about "YOLOv8" or "InstructGPT" in a corpus
  that never mentions them is about a paper that is not there. Named-looking terms
  (capitals, digits) are strong evidence; ordinary words ("hiding", "packed") are weak,
  because paraphrases use words the abstracts do not;
- exact figures: when every number the user typed ("77.4", "102") appears in the best
  paper's abstract, the paper is the one asked about, however low its cosine.

The thresholds are :class:`~assistant.tuning.GateTuning` fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.hits import PaperHit
from assistant.text.figures import holds_figures, query_figures
from assistant.tuning import GateTuning
from assistant.vocabulary import Vocabulary


class RelevanceGate:
    """Answer or decline, from the retrieved papers and the corpus vocabulary."""

    def __init__(self, vocabulary: Vocabulary, tuning: GateTuning | None = None):
        self.vocabulary = vocabulary
        self.tuning = tuning or GateTuning()

    def relevant(self, question: str, hits: Sequence[PaperHit]) -> bool:
        """Whether the best retrieved paper can support an answer to ``question``."""
        if not hits:
            return False
        top, tuning = hits[0], self.tuning
        names, words = self.vocabulary.unknown_terms(question)
        if names and top.gate_score < tuning.min_score_with_unknown_name:
            return False  # it names something the corpus never mentions
        if holds_figures(top.abstract, query_figures(question)):
            return True  # every figure in the question appears in the top paper
        if words and top.gate_score < tuning.min_score_with_unknown_word:
            return False  # a weak match, with words the corpus never uses
        return top.gate_score >= tuning.min_score
