"""The result types of the Python API: what ``ask``, ``chat`` and ``stream`` return, and
the typed events of an answer's stream (``Assistant.events``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.citations import format_sources
from assistant.filters import SearchFilters
from assistant.hits import PaperHit
from assistant.markup import literal


@dataclass
class Citation:
    """A cited paper: ``number`` is the ``[n]`` used in the answer text."""

    number: int
    title: str
    paper_id: str
    passage: str
    score: float
    abstract: str = ""

    @classmethod
    def from_hit(cls, number: int, hit: PaperHit, passage: str) -> Citation:
        return cls(number, hit.title, hit.paper_id, passage, hit.score, hit.abstract)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "paper_id": self.paper_id,
            "passage": self.passage,
            "score": round(self.score, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(
            int(data["number"]),
            str(data["title"]),
            str(data["paper_id"]),
            str(data.get("passage") or ""),
            float(data.get("score") or 0.0),
        )


# ``unverified``: the deterministic checks found the claim supported, but the LLM
# verification that was to confirm it failed (timed out, malformed) or gave no usable verdict.
Verdict = Literal["supported", "partial", "unsupported", "unverified"]
LLMCheckStatus = Literal["off", "skipped", "done", "failed"]
PremiseKind = Literal["figures", "absent_paper", "uncovered"]


@dataclass
class Claim:
    """One sentence of an answer and whether the passages it cites support it.

    ``citations`` are the ``[n]`` numbers kept on it (unsupporting ones were dropped);
    ``span`` is the passage text that supports it best, when one does.
    """

    text: str
    verdict: Verdict
    citations: list[int] = field(default_factory=list)
    span: str | None = None
    reason: str | None = None  # why it is not (fully) supported, in the reader's words

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "verdict": self.verdict,
            "citations": self.citations,
            "span": self.span,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        return cls(
            str(data["text"]),
            data["verdict"],
            [int(n) for n in data.get("citations") or []],
            data.get("span"),
            data.get("reason"),
        )


@dataclass(frozen=True)
class LLMCheck:
    """Whether the LLM verification pass ran on an LLM's answer.

    ``status``: ``off`` (``ASSISTANT_VERIFY_WITH_LLM=false``), ``skipped`` (no claim was left
    for it to check), ``done`` (verdicts came back; a claim it gave none for is unverified)
    or ``failed`` (every claim sent is unverified); ``problem``: why it failed, as a code
    (``timeout``, ``malformed``, ``call_failed``), never a message from the server."""

    status: LLMCheckStatus
    claims: int = 0  # claims sent to it
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "claims": self.claims, "problem": self.problem}


@dataclass
class PremiseIssue:
    """Something the question takes for granted that the indexed papers do not bear out.

    ``kind``: ``figures`` (numbers the matched paper does not report), ``absent_paper`` (a
    paper named or quoted that is not indexed), ``uncovered`` (a combination or domain no
    indexed paper covers).
    """

    kind: PremiseKind
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PremiseIssue:
        return cls(data["kind"], str(data["message"]))


@dataclass
class Answer:
    """An answer whose every ``[n]`` marker refers to ``citations[n-1]``."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    related: list[PaperHit] = field(default_factory=list)  # retrieved, not cited
    answered: bool = True  # False: the corpus does not hold the answer
    notice: str | None = None  # e.g. "the LLM failed; extractive fallback"
    backend: str | None = None  # None until the engine fills it in
    model: str | None = None
    query: str = ""  # the stand-alone query that was searched
    seconds: float = 0.0
    claims: list[Claim] = field(default_factory=list)  # per-sentence support verdicts
    premise_issues: list[PremiseIssue] = field(default_factory=list)
    filters: SearchFilters | None = None  # what the search was limited to, if anything
    tuning_hash: str | None = None  # the tuning values that produced it (Tuning.hash)
    llm_check: LLMCheck | None = None  # the LLM verification pass (None: not an LLM's answer)

    @property
    def footer_markdown(self) -> str:
        """The sources list (and, when declining, the possibly related papers); titles are
        corpus text, shown literally."""
        parts = []
        sources = format_sources([c.title for c in self.citations])
        if sources:
            parts.append(sources)
        if not self.answered and self.related:
            parts.append(
                "**Possibly related**\n"
                + "\n".join(f"- {literal(hit.title)}" for hit in self.related)
            )
        return "\n\n".join(parts)

    @property
    def markdown(self) -> str:
        """Notice, answer text, then the footer: the whole answer as one markdown text, in
        which corpus text never acts as markup."""
        parts = [f"> ⚠️ {self.notice}"] if self.notice else []
        parts.append(self.text)
        if self.footer_markdown:
            parts.append(self.footer_markdown)
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "answered": self.answered,
            "citations": [c.to_dict() for c in self.citations],
            "related": [
                {"title": h.title, "paper_id": h.paper_id, "score": round(h.score, 6)}
                for h in self.related
            ],
            "notice": self.notice,
            "backend": self.backend,
            "model": self.model,
            "query": self.query,
            "seconds": round(self.seconds, 4),
            "claims": [claim.to_dict() for claim in self.claims],
            "premise_issues": [issue.to_dict() for issue in self.premise_issues],
            "filters": self.filters.to_dict() if self.filters else None,
            "tuning_hash": self.tuning_hash,
            "llm_check": self.llm_check.to_dict() if self.llm_check else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The answer back from :meth:`to_dict` (e.g. kept in the browser with a saved
        conversation): everything it wrote, so the export reads the same; related papers
        come back as title, paper id and score (``to_dict`` keeps no more of them).
        Raises ``KeyError``, ``TypeError`` or ``ValueError`` on data it did not write."""
        filters = data.get("filters")
        return cls(
            text=str(data["text"]),
            citations=[Citation.from_dict(c) for c in data.get("citations") or []],
            related=[
                PaperHit(str(h["title"]), float(h.get("score") or 0.0), "", [], str(h["paper_id"]))
                for h in data.get("related") or []
            ],
            answered=bool(data.get("answered", True)),
            notice=data.get("notice"),
            backend=data.get("backend"),
            model=data.get("model"),
            query=str(data.get("query") or ""),
            seconds=float(data.get("seconds") or 0.0),
            claims=[Claim.from_dict(c) for c in data.get("claims") or []],
            premise_issues=[PremiseIssue.from_dict(i) for i in data.get("premise_issues") or []],
            filters=SearchFilters.coerce(filters) if filters else None,
            tuning_hash=data.get("tuning_hash"),
        )


@dataclass(frozen=True)
class TextPiece:
    """Answer text as it arrives (an LLM's streamed piece, or a reply shown whole)."""

    text: str


@dataclass(frozen=True)
class FinalAnswer:
    """The checked answer, the last event of every stream."""

    answer: Answer


StreamEvent = TextPiece | FinalAnswer


def final_answer(events: Iterable[StreamEvent | str | Answer]) -> Answer:
    """Run a stream of events to its end and return the answer it ends with."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, FinalAnswer):
            final = event.answer
        elif isinstance(event, Answer):  # the plain form of ``Assistant.stream``
            final = event
    if final is None:
        raise RuntimeError("the stream produced no answer")
    return final
