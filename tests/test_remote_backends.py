"""Remote backends over real HTTP: OpenAI-compatible embeddings and the `openai` LLM backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.core.embeddings import EmbeddingConfigError
from assistant.core.settings import Settings
from assistant.core.store import StoreError, open_client
from assistant.engine import Assistant
from devtools.fake_openai import EMBEDDING_DIMENSION, Reply
from ingest.pipeline import ingest
from tests.conftest import make_settings

PAPERS = [
    {
        "title": "Graph Transformers for Molecules",
        "abstract": "Graph transformers with positional encodings predict molecular properties and "
        "outperform message passing networks on quantum chemistry benchmarks.",
    },
    {
        "title": "Speech Separation with Recurrent Networks",
        "abstract": "We separate overlapping speakers in single channel audio recordings with a "
        "recurrent network and report gains in signal to distortion ratio.",
    },
    {
        "title": "Sparse Mixture of Experts Routing",
        "abstract": "Routing tokens to experts with learned temperatures stabilises the training of "
        "sparse mixture of experts language models at scale.",
    },
]


def test_openai_compatible_embeddings_end_to_end(tmp_path: Path, fake_llm):
    source = tmp_path / "papers.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in PAPERS))
    settings = make_settings(
        tmp_path,
        embedding="openai-compatible",
        embedding_base_url=fake_llm.base_url,
        embedding_model="fake-embed",
    )
    report = ingest([source], settings, progress=False)
    assert report.embedding_model == "openai-compatible:fake-embed"
    assert report.papers_in_store == 3 and report.chunks_embedded == 3
    collection = open_client(settings).get_collection(settings.collection)
    assert collection.metadata["embedding_dimension"] == EMBEDDING_DIMENSION
    engine = Assistant.from_settings(settings)
    hits = engine.search("molecular properties with graph transformers", k=3)
    assert hits[0].title == "Graph Transformers for Molecules"
    # The same store opened with the local model is refused, not silently mixed.
    with pytest.raises(StoreError, match="built with openai-compatible:fake-embed"):
        Assistant.from_settings(settings.with_overrides(embedding="local", embedding_model=None))
    with pytest.raises(EmbeddingConfigError, match="not a local sentence-transformers directory"):
        Assistant.from_settings(settings.with_overrides(embedding="local"))


def test_openai_backend_with_key_from_openai_api_key(assistant, fake_llm, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    # A fresh Settings reads the environment: OPENAI_API_KEY stands in for the LLM key.
    settings = Settings(
        _env_file=None,
        chroma_path=assistant.settings.chroma_path,
        cache_dir=assistant.settings.cache_dir,
        llm="openai",
        llm_base_url=fake_llm.base_url,
    )
    assert settings.llm_model == "gpt-4o-mini"  # OpenAI's default model, resolved once
    engine = Assistant(settings, assistant.embedder, assistant.retriever)
    # the answer, then the verification pass's verdict: both calls carry the key
    verdict = '{"verdicts": [{"claim": 1, "verdict": "entailed", "span": "DDRNets"}]}'
    fake_llm.script(Reply("It is DDRNet [1]."), Reply(verdict))
    answer = engine.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    assert answer.text == "It is DDRNet [1]." and answer.backend == "openai"
    assert answer.claims[0].verdict == "supported" and answer.llm_check.status == "done"
    assert answer.citations[0].title.startswith("Deep Dual-resolution Networks")
    assert [h["Authorization"] for h in fake_llm.headers] == ["Bearer sk-from-env"] * 2
    assert [r["model"] for r in fake_llm.requests] == ["gpt-4o-mini"] * 2
    explicit = settings.with_overrides(llm_api_key=SecretStr("sk-explicit"))
    assert explicit.llm_key == "sk-explicit"
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "sk-own")  # the project's own variable wins
    assert Settings(_env_file=None).llm_key == "sk-own"
