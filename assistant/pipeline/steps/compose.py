"""Compose: the one writer of what the user reads.

Every sentence the engine writes itself comes from here, worded by ``prompts/``: declines,
premise replies and cautions, the notice above a fallback, the mark on a claim that is not
(fully) supported or could not be verified. It also applies the verification's findings to
the draft (citations that do not support their claim removed, the rest renumbered) and
builds the :class:`Answer`, once.

Two steps live here: :class:`Caution`, which shows a premise caution before the answer
streams, and :class:`Compose`, the last step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from assistant.answer import Answer, Citation, Claim, PremiseIssue, StreamEvent, TextPiece
from assistant.answerers import Answerer
from assistant.checks import UnsupportedAnswer, without_markers
from assistant.citations import rewrite_citations
from assistant.leak_guard import PromptLeak
from assistant.markup import literal
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step
from assistant.premises import PremiseFinding
from assistant.prompts import load_prompt, render
from assistant.tuning import AnswerTuning


def issue(finding: PremiseFinding) -> PremiseIssue:
    """A premise finding in words (``prompts/premise_<rule>.txt``)."""
    values = dict(finding.values)
    if finding.rule == "unknown_names":
        values["names"] = ", ".join(values["names"])
    elif finding.rule == "missing_figures":
        values["figures"] = _either(values["figures"])
    elif finding.rule in ("split_wording", "rest_by_words"):
        values["words"] = ", ".join(values["words"])
    if finding.rule == "split_wording":
        others = list(values["others"])
        values["others"] = ", ".join(f"“{title}”" for title in others)
        values["verb"] = "does" if len(others) == 1 else "do"
    elif finding.rule == "rest_by_phrase":
        values["phrases"] = ", ".join(f"“{phrase}”" for phrase in values["phrases"])
    return PremiseIssue(finding.kind, render(f"premise_{finding.rule}", **values))


def _either(items: Sequence[str]) -> str:
    """ "85.2%", "85.2% or 300 FPS", "a, b or c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def caution_text(findings: Sequence[PremiseFinding]) -> str:
    return render("premise_caution", issues=" ".join(literal(issue(f).message) for f in findings))


class Caution(Step):
    """A combination no single paper covers: say so before the answer streams."""

    name = "caution"

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        if state.cautions:
            yield TextPiece(caution_text(state.cautions) + "\n\n")


class Compose(Step):
    """The answer the user reads, from the state's findings and draft."""

    name = "compose"
    runs_when_settled = True

    def __init__(self, answerer: Answerer, tuning: AnswerTuning, tuning_hash: str):
        """``answerer``: the configured one (its backend is reported on the engine's own
        replies, and it describes its own failures)."""
        self.answerer = answerer
        self.tuning = tuning
        self.tuning_hash = tuning_hash

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        if state.settled is not None:
            answer = self._reply(state)
            answer.backend, answer.model = self.answerer.backend, self.answerer.model
            yield TextPiece(answer.text)
        else:
            answer = self._drafted(state)
            if answer.notice:
                yield TextPiece(f"\n\n> ⚠️ {answer.notice}\n\n{answer.text}")
            if state.cautions:
                answer.text = f"{caution_text(state.cautions)}\n\n{answer.text}"
                answer.premise_issues = [issue(f) for f in state.cautions]
        answer.query = state.query
        answer.filters = state.filters
        answer.tuning_hash = self.tuning_hash
        answer.seconds = time.perf_counter() - state.began
        state.answer = answer

    # --- replies the engine writes itself ---------------------------------------------
    def _reply(self, state: QueryState) -> Answer:
        settled = state.settled
        assert settled is not None
        related = list(state.hits[: self.tuning.related_when_declining])
        issues = [issue(f) for f in settled.findings]
        if settled.kind == "no_match":
            filters = state.filters.describe() if state.filters else ""
            return Answer(text=render("no_match", filters=literal(filters)), answered=False)
        if settled.kind in ("not_found", "llm_declined"):
            lines = [load_prompt("not_found"), *(literal(i.message) for i in issues)]
            return Answer(
                text="\n".join(lines), related=related, answered=False, premise_issues=issues
            )
        lines = [load_prompt("premise_intro"), *(f"- {literal(i.message)}" for i in issues)]
        top, reported = settled.subject, settled.reported
        if top is not None and reported and any(i.kind == "figures" for i in issues):
            lines.append(f"- **{literal(top.title)}**: {literal(reported)} [1]")
            return Answer(
                text="\n".join(lines),
                citations=[Citation.from_hit(1, top, reported)],
                related=[hit for hit in state.hits if hit is not top],
                claims=[Claim(f"{top.title}: {reported}", "supported", [1], span=reported)],
                premise_issues=issues,
            )
        lines.append(load_prompt("premise_closest"))
        return Answer(text="\n".join(lines), related=related, answered=False, premise_issues=issues)

    # --- a drafted answer, with the verification applied ------------------------------
    def _drafted(self, state: QueryState) -> Answer:
        screened, answerer = state.screened, state.answerer
        assert screened is not None and answerer is not None
        citations = screened.citations
        pieces: list[str] = []
        claims: list[Claim] = []
        marks = {
            "unsupported": load_prompt("unsupported_mark"),
            "partial": load_prompt("partial_mark"),
            "unverified": load_prompt("unverified_mark"),
        }
        for unit, check in state.claims:
            if check is None:
                pieces.append(unit)
                continue
            rewritten = without_markers(unit, check.kept)
            if check.verdict in marks:
                rewritten = _marked(rewritten, marks[check.verdict])
            pieces.append(rewritten)
            reason = (
                render(f"reason_{check.reason.code}", **check.reason.values)
                if check.reason
                else None
            )
            claims.append(Claim(check.words, check.verdict, list(check.kept), check.span, reason))
        # Renumber: a source whose every citation was dropped is no longer cited.
        text, order = rewrite_citations("".join(pieces), len(citations))
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
            related=[hit for hit in state.hits if hit.paper_id not in cited_ids],
            answered=bool(kept),
            notice=self._notice(state.failure) if state.failure is not None else None,
            backend=answerer.backend,
            model=answerer.model,
            claims=claims,
            llm_check=state.llm_check,
        )

    def _notice(self, failure: BaseException) -> str:
        """Why the LLM's answer was replaced, above the extractive answer."""
        if isinstance(failure, PromptLeak):
            problem = load_prompt("leak_notice")
        elif isinstance(failure, UnsupportedAnswer):
            problem = load_prompt("unsupported_notice")
        else:
            problem = self.answerer.describe_failure(failure)
        return render("llm_fallback", problem=problem)


def _marked(unit: str, mark: str) -> str:
    """Put a verdict's mark before the claim's closing punctuation."""
    body = unit.rstrip()
    trailing = unit[len(body) :]
    stop = body[-1] if body and body[-1] in ".!?;:" else ""
    body = body[: len(body) - len(stop)].rstrip()
    return f"{body} {mark}{stop}{trailing}"
