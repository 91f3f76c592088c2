"""LLM verify: with an LLM backend, one more call through the same endpoint checks the
claims the verify step's detectors found supported (``llm_verifier.LLMVerifier``), once the
draft is complete. Its verdicts only ever lower a claim: a failed, late or malformed check
leaves the claims it was to confirm *unverified*, never supported, and the detectors'
partial and unsupported verdicts stand whatever it says.

Whether the answer stands was decided before, on the detectors' verdicts alone (the verify
step's "no claim supported" rule): an unreliable verifier cannot swap an answer for the
extractive one, and an answer the detectors reject costs no extra call. The extractive
answerer's drafts, and a fallback's, are never sent.
"""

from __future__ import annotations

from collections.abc import Iterator

from assistant.answer import LLMCheck, StreamEvent
from assistant.llm_verifier import LLMVerifier
from assistant.pipeline.state import QueryState
from assistant.pipeline.steps.base import Step


class LLMVerify(Step):
    name = "llm_verify"

    def __init__(self, verifier: LLMVerifier | None):
        """``verifier``: None when the pass is off (``ASSISTANT_VERIFY_WITH_LLM=false``)."""
        self.verifier = verifier

    def run(self, state: QueryState) -> Iterator[StreamEvent]:
        answerer, screened = state.answerer, state.screened
        drafted = state.failure is None and screened is not None
        if drafted and answerer is not None and answerer.generative:
            if self.verifier is None:
                state.llm_check = LLMCheck("off")
            else:
                state.claims, state.llm_check = self.verifier.verify(
                    state.claims, screened.citations
                )
        yield from ()
