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

import re
from dataclasses import dataclass

from assistant.answer import Verdict
from assistant.extractive import split_sentences
from assistant.markup import from_literal
from assistant.vocabulary import STOPWORDS, Vocabulary

SUPPORTED_OVERLAP = 0.5
PARTIAL_OVERLAP = 0.25

# "77.4", "102", "3x", "5%": numbers of two or more characters, or any number with a unit.
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*(?=\s*(?:%|x\b|×))|\d+(?:[.,]\d+)+|\d{2,}")
_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-/][A-Za-z0-9]+)*\b")
_MARKUP = re.compile(r"\*\*|__|\\(?=[\[\]])|^\s*[-*]\s+|\[\d+(?:\s*[,;]\s*\d+)*\]", re.MULTILINE)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    span: str | None  # the passage sentence that supports the claim best


def plain(claim: str) -> str:
    """The claim's words without markdown, character references or citation markers."""
    return " ".join(_MARKUP.sub(" ", from_literal(claim)).split())


def figures_in(text: str) -> set[str]:
    return {figure.replace(",", "") for figure in _FIGURE.findall(text)}


def names_in(text: str) -> set[str]:
    """Terms that look like names: inner capitals or digits (DDRNet, GPT-4), or a capital
    word that does not start a sentence (Cityscapes)."""
    names = set()
    for match in _NAME.finditer(text):
        term = match.group()
        if term.lower() in STOPWORDS:
            continue
        starts_sentence = match.start() == 0 or text[: match.start()].rstrip().endswith(
            (".", "?", "!", ":")
        )
        if (
            any(c.isupper() for c in term[1:])
            or (any(c.isdigit() for c in term) and any(c.isalpha() for c in term))
            or (term[0].isupper() and not starts_sentence and len(term) > 2)
        ):
            names.add(term)
    return names


class SupportChecker:
    """Judges one claim against one cited source (its title and the passage shown)."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary

    def judge(self, claim: str, title: str, passage: str) -> Judgement:
        claim = plain(claim)
        source = f"{title}. {passage}"
        folded_source = source.casefold()
        span = self._best_sentence(claim, passage)
        if figures_in(claim) - figures_in(source.replace(",", "")):
            return Judgement("unsupported", span)
        missing_names = [n for n in names_in(claim) if not self._mentions(folded_source, n)]
        overlap = self._overlap(claim, source)
        if missing_names:
            return Judgement("partial" if overlap >= 0.75 else "unsupported", span)
        if overlap >= SUPPORTED_OVERLAP:
            return Judgement("supported", span)
        return Judgement("partial" if overlap >= PARTIAL_OVERLAP else "unsupported", span)

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
