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

import re
from collections.abc import Iterable, Sequence

import Stemmer

from assistant.retrieval import PaperHit, holds_figures, query_figures

MIN_SCORE = 0.53  # below this nothing retrieved is relevant enough
MIN_SCORE_WITH_UNKNOWN_WORD = 0.62  # the question uses an ordinary word the corpus lacks
MIN_SCORE_WITH_UNKNOWN_NAME = 0.80  # the question names something the corpus lacks

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves paper papers work works method methods model models study studies corpus
    approach use used using give tell show""".split()
)


class Vocabulary:
    """The terms the corpus uses: tells which words of a question it has never seen."""

    def __init__(self, terms: Iterable[str]):
        self.terms = frozenset(terms)
        self._stemmer = Stemmer.Stemmer("english")

    def _known(self, part: str) -> bool:
        lowered = part.lower()
        return lowered in self.terms or self._stemmer.stemWord(lowered) in self.terms

    def unknown_terms(self, question: str) -> tuple[list[str], list[str]]:
        """(named-looking terms, ordinary words) of the question absent from the corpus."""
        names, words = [], []
        for match in _WORD.finditer(question):
            term = match.group()
            if term.lower() in _STOPWORDS:
                continue
            parts = [p for p in term.split("-") if len(p) >= 2]
            if not parts or any(self._known(p) for p in parts):
                continue
            first_word = match.start() == 0 or question[: match.start()].rstrip().endswith(
                (".", "?", "!")
            )
            named = (
                any(c.isdigit() for c in term)
                or any(c.isupper() for c in term[1:])
                or (term[0].isupper() and not first_word)
            )
            (names if named else words).append(term)
        return names, words


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
        if names and top.score < MIN_SCORE_WITH_UNKNOWN_NAME:
            return False  # it names something the corpus never mentions
        if holds_figures(top.abstract, query_figures(question)):
            return True  # every figure in the question appears in the top paper
        if words and top.score < MIN_SCORE_WITH_UNKNOWN_WORD:
            return False  # a weak match, with words the corpus never uses
        return top.score >= MIN_SCORE
