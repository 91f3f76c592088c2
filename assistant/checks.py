"""The checks every draft answer passes, from any answerer.

While it streams:
1. the leak guard stops an answer that starts reciting the answerer's instructions;
2. the citation rewriter keeps only ``[n]`` markers that point at a retrieved paper
   (repairing malformed ones) and renumbers the cited ones 1, 2, 3… by first use.
Once it is complete:
3. every claim (a sentence, or a list item) is checked against each passage it cites
   (``support.SupportChecker``): citations that do not support their claim are removed, a
   factual claim left with no support is marked ``[unsupported]`` in the text, and each
   claim's verdict and supporting span are kept on the answer.
The result is an :class:`Answer` whose every citation is a retrieved paper that supports
the sentence it stands on, as far as these checks can tell.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence

from assistant.answer import Answer, Citation, Claim
from assistant.answerers import Answerer, Draft
from assistant.citations import (
    CitationRewriter,
    marker_numbers,
    markers_in,
    rewrite_citations,
    tidy,
)
from assistant.leak_guard import LeakGuard, PromptLeak
from assistant.prompts import load_prompt, render
from assistant.retrieval import PaperHit
from assistant.support import SupportChecker, figures_in, names_in, plain

UNSUPPORTED_MARK = "[unsupported]"
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# A sentence ends at . ! or ? (with the markers that follow it) before a capital.
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[\d+\])*(?=\s+[A-Z(\"'*])")


class EmptyAnswer(RuntimeError):
    """The answerer wrote nothing."""


class UnsupportedAnswer(RuntimeError):
    """No claim of the answer is supported by the passage it cites."""


def checked(
    draft: Draft,
    answerer: Answerer,
    hits: Sequence[PaperHit],
    checker: SupportChecker,
    *,
    require_support: bool = False,
) -> Generator[str, None, Answer]:
    """Yield the draft's text as it passes the streaming checks; return the checked answer.

    With ``require_support``, an answer none of whose claims is supported raises
    :class:`UnsupportedAnswer` (the engine then falls back to the extractive answer).
    """
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
    text = tidy(text) if rewriter.dropped else text.strip()
    citations = [
        Citation.from_hit(number, hits[original - 1], draft.passages[original - 1])
        for number, original in enumerate(rewriter.order, start=1)
    ]
    answer = supported_answer(text, citations, hits, answerer, checker)
    if require_support and not any(claim.verdict == "supported" for claim in answer.claims):
        raise UnsupportedAnswer("no claim is supported by the passage it cites")
    return answer


def failure_notice(error: BaseException, answerer: Answerer) -> str:
    """The notice shown above the extractive answer that replaces a failed one."""
    if isinstance(error, PromptLeak):
        problem = load_prompt("leak_notice")
    elif isinstance(error, UnsupportedAnswer):
        problem = load_prompt("unsupported_notice")
    else:
        problem = answerer.describe_failure(error)
    return render("llm_fallback", problem=problem)


def supported_answer(
    text: str,
    citations: list[Citation],
    hits: Sequence[PaperHit],
    answerer: Answerer,
    checker: SupportChecker,
) -> Answer:
    """Check each claim against its citations; drop the unsupporting ones; renumber."""
    pieces: list[str] = []
    claims: list[Claim] = []
    for unit, is_claim in _units(text):
        if not is_claim:
            pieces.append(unit)
            continue
        claim, rewritten = _check_claim(unit, citations, checker)
        pieces.append(rewritten)
        if claim is not None:
            claims.append(claim)
    text = "".join(pieces)
    # Renumber: a source whose every citation was dropped is no longer cited.
    text, order = rewrite_citations(text, len(citations))
    renumber = {original: new for new, original in enumerate(order, start=1)}
    kept = [citations[original - 1] for original in order]
    for new, citation in enumerate(kept, start=1):
        citation.number = new
    for claim in claims:
        claim.citations = [renumber[n] for n in claim.citations if n in renumber]
    cited_ids = {citation.paper_id for citation in kept}
    return Answer(
        text=text,
        citations=kept,
        related=[hit for hit in hits if hit.paper_id not in cited_ids],
        answered=bool(kept),
        backend=answerer.backend,
        model=answerer.model,
        claims=claims,
    )


def _units(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_claim): list items whole, other lines by sentence.

    Joining the pieces gives the text back unchanged.
    """
    units: list[tuple[str, bool]] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        ending = line[len(body) :]
        if _LIST_ITEM.match(body) or not body.strip():
            units.append((body, bool(body.strip())))
        else:
            start = 0
            for end in _SENTENCE_END.finditer(body):
                spaces = len(body[end.end() :]) - len(body[end.end() :].lstrip())
                units.append((body[start : end.end()], True))
                units.append((body[end.end() : end.end() + spaces], False))
                start = end.end() + spaces
            units.append((body[start:], True))
        if ending:
            units.append((ending, False))
    return units


def _check_claim(
    unit: str, citations: Sequence[Citation], checker: SupportChecker
) -> tuple[Claim | None, str]:
    """(the claim's verdict, its text with unsupporting markers removed and, when nothing
    supports a factual claim, the unsupported mark)."""
    markers = markers_in(unit)
    numbers = [n for marker in markers for n in marker_numbers(marker)]
    words = plain(unit)
    factual = bool(figures_in(words) or names_in(words))
    if not numbers:
        if not factual or words.endswith(":"):
            return None, unit  # framing ("From the abstracts: …"), nothing to check
        return Claim(words, "unsupported"), _mark(unit)
    verdicts = {}
    spans = {}
    for number in dict.fromkeys(numbers):
        if 1 <= number <= len(citations):
            source = citations[number - 1]
            judgement = checker.judge(unit, source.title, source.passage)
            verdicts[number], spans[number] = judgement.verdict, judgement.span
    keep = [n for n, verdict in verdicts.items() if verdict != "unsupported"]
    rewritten = unit
    for marker in reversed(markers):  # drop the markers of unsupporting sources
        kept = [n for n in marker_numbers(marker) if n in keep]
        replacement = "".join(f"[{n}]" for n in kept)
        rewritten = rewritten[: marker.start()] + replacement + rewritten[marker.end() :]
    rewritten = tidy(rewritten) if rewritten != unit else rewritten
    if not keep:
        return Claim(words, "unsupported"), _mark(rewritten)
    verdict = "supported" if "supported" in (verdicts[n] for n in keep) else "partial"
    best = next((n for n in keep if verdicts[n] == verdict), keep[0])
    return Claim(words, verdict, citations=keep, span=spans[best]), rewritten


def _mark(unit: str) -> str:
    """Put the unsupported mark before the claim's closing punctuation."""
    body = unit.rstrip()
    trailing = unit[len(body) :]
    stop = body[-1] if body and body[-1] in ".!?;:" else ""
    body = body[: len(body) - len(stop)].rstrip()
    return f"{body} {UNSUPPORTED_MARK}{stop}{trailing}"
