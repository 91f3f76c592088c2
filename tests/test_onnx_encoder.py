"""The local model through ONNX Runtime: the same vectors and word pieces as
sentence-transformers, one export per machine, and starts that never import torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.core.embeddings import _load_sentence_transformer, local_model_path
from assistant.core.onnx_encoder import OnnxSentenceEncoder, OnnxUnsupported, pipeline_of
from tests.conftest import ROOT, clean_env

TEXTS = [
    "Which network reaches 77.4% mIoU at 102 FPS on Cityscapes?",
    "knowledge distillation",
    "Transformers (Vaswani et al., 2017) use self-attention; e.g. BERT-style pre-training.",
    # Longer than the model's 256-token window: truncated the same way.
    " ".join(["Graph neural networks aggregate messages from neighbours."] * 60),
    "",
]


@pytest.fixture(scope="module")
def reference():
    return _load_sentence_transformer(local_model_path(), "all-MiniLM-L6-v2", "cpu", 16)


def test_vectors_and_word_pieces_match_sentence_transformers(embedder, reference):
    """The store's vectors were written by whichever runtime ingested them: queries from the
    other must land in the same place (cosine 1 - 1e-6), and chunk budgets must not move."""
    assert type(embedder.model).__name__ == "LocalEmbedding"
    assert embedder.info == reference.info
    assert embedder.chunk_tokens == reference.chunk_tokens == 254
    ours = np.array(embedder.model.get_text_embedding_batch(TEXTS))
    theirs = np.array(reference.model.get_text_embedding_batch(TEXTS))
    assert np.abs(ours - theirs).max() < 1e-5
    query = embedder.model.get_query_embedding(TEXTS[0])
    assert np.abs(np.array(query) - theirs[0]).max() < 1e-5
    for text in TEXTS:
        assert embedder.tokenize(text) == list(reference.tokenize(text))
    assert embedder.count_tokens(TEXTS[3]) > 256  # counted whole, not truncated


def test_the_export_is_made_once_and_published_whole(tmp_path: Path):
    cache = tmp_path / "models"
    first = OnnxSentenceEncoder(Path(local_model_path()), cache)
    (graph,) = cache.glob("*.onnx")
    assert graph.name.startswith("model-")
    written = graph.stat().st_mtime_ns
    (cache / ".export-leftover.onnx").write_bytes(b"half a file")  # a killed exporter's
    second = OnnxSentenceEncoder(Path(local_model_path()), cache)
    assert graph.stat().st_mtime_ns == written  # reused, not exported again
    assert [p.name for p in cache.glob("[!.]*.onnx")] == [graph.name]  # not the leftover
    assert np.array_equal(first.encode(TEXTS[:2]), second.encode(TEXTS[:2]))


def test_other_pooling_is_left_to_sentence_transformers(tmp_path: Path):
    model = tmp_path / "cls-pooled"
    shutil.copytree(local_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(OnnxUnsupported):
        pipeline_of(model)
    assert pipeline_of(Path(local_model_path())) == (256, True)


def test_an_engine_start_and_a_question_never_import_torch(corpus_store):
    """What makes the app and the CLI start in seconds: no torch, transformers or
    sentence-transformers on a CPU machine once the export exists, and no tiktoken (the
    default text splitter of a llama-index index loads its vocabulary; the engine splits
    nothing)."""
    settings, _ = corpus_store
    script = (
        "import sys\n"
        "from assistant.engine import Assistant\n"
        "answer = Assistant.from_settings().ask('Which network reaches 77.4% mIoU?')\n"
        "assert answer.citations, answer.text\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'tiktoken'}\n"
        "print('heavy:', sorted(heavy & set(sys.modules)))\n"
    )
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir, device="cpu")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "heavy: []" in done.stdout
