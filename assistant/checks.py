"""The checks every draft answer passes, from any answerer; findings, never wording.

While it streams (:func:`screen`):
1. the leak guard stops an answer that starts reciting the answerer's instructions;
2. the citation rewriter keeps only ``[n]`` markers that point at a retrieved paper
   (repairing malformed ones) and renumbers the cited ones 1, 2, 3… by first use.
Once it is complete (:func:`judge_claims`):
3. every claim (a sentence, or a list item) is checked against each passage it cites
   (``support.SupportChecker``): which of its citations support it, its verdict and the
   supporting span.
The compose step turns these findings into the answer the user reads (citations that do
not support their claim removed, a factual claim nothing supports marked, the rest
renumbered).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from assistant.answer import Citation, TextPiece, Verdict
from assistant.answerers import Answerer, Draft
from assistant.citations import CitationRewriter, marker_numbers, markers_in, tidy
from assistant.hits import PaperHit
from assistant.leak_guard import LeakGuard, PromptLeak
from assistant.support import Reason, SupportChecker
from assistant.text.figures import claim_figures
from assistant.text.sentences import claim_units, plain
from assistant.text.words import names_in

__all__ = [
    "ClaimCheck",
    "EmptyAnswer",
    "PromptLeak",
    "Screened",
    "UnsupportedAnswer",
    "judge_claims",
    "screen",
    "without_markers",
]


class EmptyAnswer(RuntimeError):
    """The answerer wrote nothing."""


class UnsupportedAnswer(RuntimeError):
    """No claim of the answer is supported by the passage it cites."""


@dataclass
class Screened:
    """A draft that passed the streaming checks: its text (markers renumbered by first
    use) and its citations (``citations[n-1]`` is marker ``[n]``)."""

    text: str
    citations: list[Citation]


@dataclass
class ClaimCheck:
    """The finding on one claim of an answer.

    ``unit`` is the claim as it stands in the text; ``kept`` the citation numbers that
    support it (the others are to be removed); ``words`` the claim without markup."""

    unit: str
    words: str
    verdict: Verdict
    kept: list[int] = field(default_factory=list)
    span: str | None = None
    reason: Reason | None = None


def screen(
    draft: Draft, answerer: Answerer, hits: Sequence[PaperHit]
) -> Generator[str, None, Screened]:
    """Yield the draft's text as it passes the streaming checks; return it screened.

    Raises :class:`PromptLeak` when it recites the answerer's instructions and
    :class:`EmptyAnswer` when nothing is left."""
    guard = LeakGuard(answerer.system_prompt) if answerer.system_prompt else None
    rewriter = CitationRewriter(len(hits))
    shown: list[str] = []
    for piece in draft.pieces:
        if guard is not None:
            guard.check(piece)
        clean = rewriter.feed(piece)
        if clean:
            shown.append(clean)
            yield clean
    tail = rewriter.finish()
    if tail:
        shown.append(tail)
        yield tail
    text = "".join(shown)
    if not text.strip():
        raise EmptyAnswer("empty answer")
    return Screened(
        text=tidy(text) if rewriter.dropped else text.strip(),
        citations=[
            Citation.from_hit(number, hits[original - 1], draft.passages[original - 1])
            for number, original in enumerate(rewriter.order, start=1)
        ],
    )


def as_events(pieces: Generator[str, None, Screened]) -> Generator[TextPiece, None, Screened]:
    """The screened text pieces as stream events; returns what the screen returns."""
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:
            return done.value
        yield TextPiece(piece)


def drain(pieces: Generator[str, None, Screened]) -> Screened:
    """Screen a draft that is shown whole later (the fallback), without streaming it."""
    while True:
        try:
            next(pieces)
        except StopIteration as done:
            return done.value


def judge_claims(
    text: str, citations: Sequence[Citation], checker: SupportChecker
) -> list[tuple[str, ClaimCheck | None]]:
    """The text cut into its pieces, each claim with its finding (None: not a claim —
    framing like "From the abstracts:", or the space between sentences)."""
    judged: list[tuple[str, ClaimCheck | None]] = []
    for unit, is_claim in claim_units(text):
        judged.append((unit, _check_claim(unit, citations, checker) if is_claim else None))
    return judged


def _check_claim(
    unit: str, citations: Sequence[Citation], checker: SupportChecker
) -> ClaimCheck | None:
    numbers = [n for marker in markers_in(unit) for n in marker_numbers(marker)]
    words = plain(unit)
    factual = bool(claim_figures(words) or names_in(words))
    if not numbers:
        if not factual or words.endswith(":"):
            return None  # framing ("From the abstracts: …"), nothing to check
        return ClaimCheck(unit, words, "unsupported", reason=Reason("uncited"))
    judgements = {}
    for number in dict.fromkeys(numbers):
        if 1 <= number <= len(citations):
            source = citations[number - 1]
            judgements[number] = checker.judge(unit, source.title, source.passage)
    keep = [n for n, j in judgements.items() if j.verdict != "unsupported"]
    if not keep:
        first = next(iter(judgements.values()), None)
        return ClaimCheck(
            unit,
            words,
            "unsupported",
            span=first.span if first else None,
            reason=first.reason if first else Reason("uncited"),
        )
    verdict = "supported" if any(judgements[n].verdict == "supported" for n in keep) else "partial"
    best = next(n for n in keep if judgements[n].verdict == verdict)
    return ClaimCheck(
        unit, words, verdict, kept=keep, span=judgements[best].span, reason=judgements[best].reason
    )


def without_markers(unit: str, kept: Sequence[int]) -> str:
    """The claim with the markers of sources not in ``kept`` removed (tidied if any was)."""
    rewritten = unit
    for marker in reversed(markers_in(unit)):
        numbers = [n for n in marker_numbers(marker) if n in kept]
        replacement = "".join(f"[{n}]" for n in numbers)
        rewritten = rewritten[: marker.start()] + replacement + rewritten[marker.end() :]
    return tidy(rewritten) if rewritten != unit else rewritten
