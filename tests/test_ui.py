"""The web app, started by the test: gradio_client API calls and a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.app_process import AppProcess

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def app_url(corpus_store):
    settings, _ = corpus_store
    with AppProcess(
        Path(settings.chroma_path).parent,
        chroma_path=settings.chroma_path,
        cache_dir=settings.cache_dir,
    ) as app:
        app.wait_until_ready()
        yield app.url


def test_chat_api_answers_with_corpus_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    answer = client.predict("Which work reaches 77.4% mIoU at 102 FPS?", api_name="/chat")
    assert "[1]" in answer
    assert f"[1] {DDRNET}" in answer
    declined = client.predict("What is the capital of France?", api_name="/chat")
    assert "do not answer" in declined
    too_long = client.predict("x" * 5000, api_name="/chat")
    assert "the limit is 2000" in too_long
    hits = client.predict("binary neural networks", 5, api_name="/search")
    assert hits.count("score") == 5


def test_binds_to_loopback_only(corpus_store, tmp_path):
    import psutil

    settings, _ = corpus_store
    with AppProcess(
        tmp_path, chroma_path=settings.chroma_path, cache_dir=settings.cache_dir
    ) as app:
        listening = [
            c.laddr
            for c in psutil.Process(app.process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
    assert listening and {address.ip for address in listening} == {"127.0.0.1"}


@pytest.mark.browser
def test_browser_chat_shows_citations_and_follow_up(app_url, output_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        box = page.locator("textarea").first  # the chat box (its placeholder clears after a turn)
        box.fill("Which work reaches 77.4% mIoU at 102 FPS?")
        box.press("Enter")
        page.get_by_text("[1] " + DDRNET).first.wait_for(timeout=60000)
        assert page.locator(".message").filter(has_text="[1]").count() >= 1
        box.fill("On which datasets did they evaluate it?")
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelectorAll('.message').length >= 4", timeout=60000
        )
        page.wait_for_timeout(1500)
        last = page.locator(".message").last
        assert "Deep Dual-resolution Networks" in last.inner_text()
        page.screenshot(path=str(output_dir / "chat.png"), full_page=True)
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function(
            "() => document.querySelectorAll('.message').length === 0", timeout=10000
        )
        page.set_viewport_size({"width": 420, "height": 900})
        page.wait_for_timeout(500)
        page.screenshot(path=str(output_dir / "chat-narrow.png"), full_page=True)
        browser.close()


def test_first_start_with_an_empty_index_ingests_with_a_status_line(tmp_path):
    with AppProcess(tmp_path, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache") as app:
        client = app.client()
        early = client.predict("binary neural networks", api_name="/chat")
        assert "not ready yet" in early and (
            "Indexing the bundled corpus" in early or "Starting" in early
        )
        app.wait_until_ready(client)
        answer = app.client().predict("Which work reaches 77.4% mIoU at 102 FPS?", api_name="/chat")
        assert f"[1] {DDRNET}" in answer
    assert "papers           348" in app.log  # the ingest summary went to the console
