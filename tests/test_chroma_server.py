"""The same settings that point at the embedded store point at a real Chroma server."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.settings import Settings
from devtools.chroma_server import ChromaServer
from ingest.pipeline import ingest
from tests.conftest import DDRNET_PAGE_PAPERS, ddrnet_page

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("chroma-server")
    with ChromaServer(root / "data") as running:
        yield running, root


def test_ingest_and_answer_through_a_chroma_server(server, embedder):
    """One listing page (24 papers, DDRNet's among them): what goes through the
    server is the same for any number of papers."""
    running, root = server
    corpus = ddrnet_page(root / "papers")
    settings = Settings(
        _env_file=None,
        chroma_host="127.0.0.1",
        chroma_port=running.port,
        cache_dir=root / "cache",
        chroma_path=root / "must-not-be-created",
    )
    report = ingest([corpus], settings, progress=False, embedder=embedder)
    assert (
        report.papers_in_store == DDRNET_PAGE_PAPERS
        and report.chunks_in_store == report.chunks_total
    )
    assert report.store == f"Chroma server http://127.0.0.1:{running.port}"
    again = ingest([corpus], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == 0
    assert not Path(settings.chroma_path).exists()  # nothing was written locally but the cache

    from assistant.engine import Assistant

    engine = Assistant.from_settings(settings)
    answer = engine.ask("Which work reaches 77.4% mIoU at 102 FPS?")
    assert answer.citations[0].title == DDRNET
    assert engine.stats()["store"].startswith("Chroma server")


def test_unreachable_server_is_a_clear_error(tmp_path):
    from assistant.core.embeddings import EmbeddingInfo
    from assistant.core.store import PaperStore, StoreError
    from devtools.chroma_server import free_port

    settings = Settings(_env_file=None, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match=r"^cannot reach Chroma server http://127.0.0.1:\d+"):
        PaperStore.open(settings, EmbeddingInfo("local:all-MiniLM-L6-v2", 384))


def test_the_web_app_works_unchanged_against_the_server(server):
    from devtools.app_process import AppProcess

    running, root = server  # filled by the ingest test above
    with AppProcess(
        root / "app", chroma_host="127.0.0.1", chroma_port=running.port, cache_dir=root / "cache"
    ) as app:
        client = app.client()
        app.wait_until_ready(client)
        answer = app.client().predict("Which work reaches 77.4% mIoU at 102 FPS?", api_name="/chat")
        assert f"[1] {DDRNET}" in answer
        hits = client.predict("binary neural networks", 3, api_name="/search")
        assert len(hits) == 3 and all("score" in hit for hit in hits)
