"""The web app, started by the test: gradio_client API calls and a real headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(corpus_store):
    settings, _ = corpus_store
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_CHROMA_PATH=str(settings.chroma_path),
        ASSISTANT_CACHE_DIR=str(settings.cache_dir),
        ASSISTANT_PORT=str(port),
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    log = open(Path(settings.chroma_path).parent / "app.log", "w")
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("app did not start: " + Path(log.name).read_text()[-2000:])
    from gradio_client import Client

    client = Client(url, verbose=False)
    for _ in range(120):  # the engine loads in the background; wait until it answers
        if "not ready" not in client.predict("ping binary neural networks", api_name="/chat"):
            break
        time.sleep(1)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


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


def test_binds_to_loopback_only(app_url):
    assert app_url.startswith("http://127.0.0.1:")


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
        page.set_viewport_size({"width": 420, "height": 900})
        page.wait_for_timeout(500)
        page.screenshot(path=str(output_dir / "chat-narrow.png"), full_page=True)
        browser.close()
