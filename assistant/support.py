"""Claim-level support: does the passage a sentence cites say what the sentence says?

No packaged entailment model is available offline (the ones on PyPI download weights at
run time, and the one that ships its weights cannot tell "supported" from "not mentioned"),
so support is judged with cheap, explainable signals, all taken from the claim itself:

- figures: every number the claim states ("77.4%", "102 FPS", "3x") must appear in the
  cited passage. An invented or misattributed figure is the costliest error an answer can
  make, and it is exactly what this catches;
- names: method, dataset and model names ("DDRNet", "CamVid") must appear in the cited
  paper's title or passage: a claim about paper B cited to paper A fails here;
- wording: the share of the claim's content words (idf-weighted, stemmed) found in the
  passage. Low overlap means the passage is about something else.

Verdicts: ``supported`` (figures and names present, most wording found), ``partial`` (no
contradiction, but the passage covers the claim only in part) and ``unsupported``. The
supporting span is the passage sentence that shares the most with the claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer import Verdict
from assistant.text.figures import claim_figures
from assistant.text.sentences import plain, split_sentences
from assistant.text.words import names_in
from assistant.tuning import SupportTuning
from assistant.vocabulary import Vocabulary


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    span: str | None  # the passage sentence that supports the claim best


class SupportChecker:
    """Judges one claim against one cited source (its title and the passage shown)."""

    def __init__(self, vocabulary: Vocabulary, tuning: SupportTuning | None = None):
        self.vocabulary = vocabulary
        self.tuning = tuning or SupportTuning()

    def judge(self, claim: str, title: str, passage: str) -> Judgement:
        claim = plain(claim)
        source = f"{title}. {passage}"
        folded_source = source.casefold()
        span = self._best_sentence(claim, passage)
        tuning = self.tuning
        if claim_figures(claim) - claim_figures(source.replace(",", "")):
            return Judgement("unsupported", span)
        missing_names = [n for n in names_in(claim) if not self._mentions(folded_source, n)]
        overlap = self._overlap(claim, source)
        if missing_names:
            partial = overlap >= tuning.partial_with_missing_name
            return Judgement("partial" if partial else "unsupported", span)
        if overlap >= tuning.supported_overlap:
            return Judgement("supported", span)
        return Judgement("partial" if overlap >= tuning.partial_overlap else "unsupported", span)

    def _mentions(self, folded_source: str, name: str) -> bool:
        """A name counts as present whole, or as a stem ("DDRNets" for "DDRNet")."""
        folded = name.casefold()
        return folded in folded_source or folded.rstrip("s") in folded_source

    def _overlap(self, claim: str, source: str) -> float:
        terms = self.vocabulary.terms(claim)
        if not terms:
            return 1.0  # nothing to check beyond figures and names
        return self.vocabulary.share(terms, self.vocabulary.terms(source))

    def _best_sentence(self, claim: str, passage: str) -> str | None:
        sentences = split_sentences(passage) or ([passage] if passage else [])
        if not sentences:
            return None
        terms = self.vocabulary.terms(claim)
        return max(sentences, key=lambda s: self.vocabulary.share(terms, self.vocabulary.terms(s)))
