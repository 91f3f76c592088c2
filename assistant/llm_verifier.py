"""The LLM verification pass: one batched call, through the answering LLM's own endpoint,
on the claims the deterministic checks (``support.SupportChecker``) found supported.

The detectors decide first and can always veto: a claim they found partial or unsupported
is never sent, so no LLM verdict can make it supported. Each claim they found supported is
sent with the passages it cites (``prompts/verify_*.txt``, claims numbered 1…n), and the
model answers with JSON, one verdict per claim and the passage span behind it:

- ``entailed`` → supported, the quoted span its support;
- ``partial`` → partial;
- ``contradicted`` / ``not_mentioned`` → unsupported, its citations removed;
- no usable verdict → *unverified*, never supported: the call failed, passed its time box
  (``ASSISTANT_VERIFY_TIMEOUT``, a whole-call deadline), or sent something other than the
  JSON asked for (the whole reply: every claim sent is unverified); or the reply gave this
  claim no verdict (its number missing, or two different ones), or an ``entailed`` /
  ``partial`` verdict quoting words its passages do not contain (that claim alone).

Code fences around the JSON are tolerated; anything else about its form is not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from llama_index.core.llms import LLM, ChatMessage, MessageRole
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.answer import Citation, LLMCheck
from assistant.answerers import numbered_sources
from assistant.checks import ClaimCheck
from assistant.core.settings import Settings
from assistant.llm import LLMOutputTooLong, chat_within
from assistant.prompts import load_prompt, render
from assistant.support import Reason
from assistant.tuning import AnswerTuning

log = logging.getLogger(__name__)

Judged = list[tuple[str, ClaimCheck | None]]


class MalformedVerdicts(ValueError):
    """The reply is not the JSON the verification prompt asks for."""


class LLMVerdict(BaseModel):
    """One entry of the reply: the claim's number, the verdict, the quoted span."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    claim: int
    verdict: Literal["entailed", "contradicted", "not_mentioned", "partial"]
    span: str = ""


class LLMVerdicts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    verdicts: list[LLMVerdict]


def parse_verdicts(reply: str) -> list[LLMVerdict]:
    """The verdicts of a reply: ``{"verdicts": [...]}`` (or the bare list), optionally in a
    code fence; anything else raises :class:`MalformedVerdicts`."""
    try:
        data = json.loads(_unfenced(reply))
    except ValueError:
        raise MalformedVerdicts("not JSON") from None
    if isinstance(data, list):
        data = {"verdicts": data}
    try:
        return list(LLMVerdicts.model_validate(data).verdicts)
    except ValidationError:
        raise MalformedVerdicts("not the verdicts asked for") from None


def _unfenced(reply: str) -> str:
    """The text inside the first ```…``` fence (a ``json`` tag dropped), else the reply."""
    text = reply.strip()
    if "```" not in text:
        return text
    _, _, rest = text.partition("```")
    body, _, _ = rest.partition("```")
    tag, newline, remainder = body.partition("\n")
    if newline and tag.strip().lower() in ("", "json"):
        body = remainder
    return body.strip()


def found_span(span: str, passages: Sequence[str]) -> str | None:
    """The span as it stands in one of the passages (spaces and case aside; quotes and a
    closing full stop around it ignored), or None when none contains it."""
    wanted = " ".join(span.split()).strip("\"'“”‘’").rstrip(".").strip()
    if not wanted:
        return None
    for passage in passages:
        text = " ".join(passage.split())
        start = text.lower().find(wanted.lower())
        if start >= 0:
            return text[start : start + len(wanted)]
    return None


@dataclass(frozen=True)
class _Sent:
    """A claim as sent: its place among the judged pieces and its cited passages."""

    index: int
    check: ClaimCheck
    passages: list[str]


class LLMVerifier:
    """Checks an answer's detector-supported claims with one call to ``llm``."""

    def __init__(self, llm: LLM, settings: Settings, tuning: AnswerTuning):
        self.llm = llm
        self.settings = settings
        self.tuning = tuning
        self.seconds = settings.verify_timeout
        self.system_prompt = load_prompt("verify_system")

    def verify(self, judged: Judged, citations: Sequence[Citation]) -> tuple[Judged, LLMCheck]:
        """The judged claims with the LLM's verdicts applied, and how the pass went."""
        sent = [
            _Sent(index, check, [citations[n - 1].passage for n in check.kept])
            for index, (_, check) in enumerate(judged)
            if check is not None and check.verdict == "supported" and check.kept
        ]
        if not sent:
            return judged, LLMCheck("skipped")
        try:
            verdicts: dict[int, LLMVerdict | None] = {}
            for verdict in parse_verdicts(self._ask(sent, citations)):
                if verdicts.get(verdict.claim, verdict) != verdict:
                    verdicts[verdict.claim] = None  # two different verdicts: none
                else:
                    verdicts[verdict.claim] = verdict
        except Exception as error:  # whatever failed, nothing sent may stay supported
            problem = _problem(error)
            log.warning("LLM verification failed: %s", problem)
            settled = {item.index: _unverified(item.check, "llm_unavailable") for item in sent}
            return _replaced(judged, settled), LLMCheck("failed", len(sent), problem)
        settled = {
            item.index: _settle(item, verdicts.get(number))
            for number, item in enumerate(sent, start=1)
        }
        return _replaced(judged, settled), LLMCheck("done", len(sent))

    def _ask(self, sent: Sequence[_Sent], citations: Sequence[Citation]) -> str:
        cited = sorted({n for item in sent for n in item.check.kept})
        sources = numbered_sources(
            self.settings,
            self.tuning,
            [(n, citations[n - 1].title, citations[n - 1].passage) for n in cited],
        )
        claims = "\n".join(
            render(
                "verify_claim",
                id=number,
                cited="".join(f"[{n}]" for n in item.check.kept),
                claim=item.check.words,
            )
            for number, item in enumerate(sent, start=1)
        )
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=self.system_prompt),
            ChatMessage(
                role=MessageRole.USER,
                content=render("verify_claims", sources=sources, claims=claims, count=len(sent)),
            ),
        ]
        response = chat_within(self.llm, messages, self.seconds, temperature=0.0)
        return response.message.content or ""


def _settle(item: _Sent, verdict: LLMVerdict | None) -> ClaimCheck:
    """One detector-supported claim with the LLM's verdict on it."""
    check = item.check
    if verdict is None:
        return _unverified(check, "llm_no_verdict")
    span = found_span(verdict.span, item.passages)
    if verdict.verdict in ("entailed", "partial"):
        if span is None:  # support it cannot show is no support
            return _unverified(check, "llm_span_absent")
        if verdict.verdict == "entailed":
            return replace(check, span=span, reason=None)
        return replace(check, verdict="partial", span=span, reason=Reason("llm_partial"))
    return replace(
        check,
        verdict="unsupported",
        kept=[],
        span=span or check.span,
        reason=Reason(f"llm_{verdict.verdict}"),
    )


def _unverified(check: ClaimCheck, code: str) -> ClaimCheck:
    return replace(check, verdict="unverified", reason=Reason(code))


def _replaced(judged: Judged, settled: dict[int, ClaimCheck]) -> Judged:
    return [(unit, settled.get(index, check)) for index, (unit, check) in enumerate(judged)]


def _problem(error: Exception) -> str:
    """Why the call gave nothing usable, as a code (never the server's own words)."""
    import openai

    if isinstance(error, MalformedVerdicts):
        return "malformed"
    if isinstance(error, LLMOutputTooLong):
        return "too_long"
    if isinstance(error, TimeoutError | openai.APITimeoutError):
        return "timeout"
    return "call_failed"
