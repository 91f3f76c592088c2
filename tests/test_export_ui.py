"""The chat page's export buttons, in a real headless Chromium against the real app."""

from __future__ import annotations

import re
import time
from pathlib import Path

import bibtexparser
import pytest
from markdown_it import MarkdownIt

from tests.conftest import launch_chromium

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"
FOLLOW_UP = "Which datasets did they evaluate on?"
# The API the page offers; the export adds no endpoint (its events are private).
API = {"/chat", "/ask", "/search"}


def test_export_adds_no_api_endpoint(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == API
    assert not api["unnamed_endpoints"]
    hidden = client.view_api(all_endpoints=True, return_format="dict", print_info=False)
    assert not [
        name
        for name in hidden["named_endpoints"]
        if re.match(r"/(chat_turn|export_files)(_\d+)?$", name)
    ]
    # the session list the chat keeps is invisible to API clients: /chat returns the text
    chat = api["named_endpoints"]["/chat"]
    assert [p["parameter_name"] for p in chat["parameters"]][0] == "message"
    assert len(chat["returns"]) == 1
    answer = client.predict(QUESTION, api_name="/chat")
    assert isinstance(answer, str) and f"[1] {DDRNET}" in answer


def export_page(playwright, app_url: str):
    """Headless Chromium on the chat page: the browser, the page and its two export buttons
    (Markdown, BibTeX)."""
    browser = launch_chromium(playwright)
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page.goto(app_url)
    markdown_button = page.get_by_role("button", name="Conversation (Markdown)")
    bibtex_button = page.get_by_role("button", name="Cited papers (BibTeX)")
    return browser, page, markdown_button, bibtex_button


def download(page, button):
    """The file the button serves (a Playwright ``Download``)."""
    with page.expect_download(timeout=30000) as started:
        button.click()
    return started.value


def downloaded_text(page, button) -> str:
    return Path(download(page, button).path()).read_text(encoding="utf-8")


def download_once(page, button, wanted: str, timeout: float = 30) -> str:
    """The text of the button's file once it holds ``wanted`` (the files follow the turns,
    a moment after each answer shows)."""
    deadline = time.monotonic() + timeout
    while True:
        text = downloaded_text(page, button)
        if wanted in text or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(500)


def inline_texts(markdown: str) -> list[str]:
    return [t.content for t in MarkdownIt("commonmark").parse(markdown) if t.type == "inline"]


@pytest.mark.browser
def test_browser_downloads_markdown_and_bibtex(app_url, output_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser, page, markdown_button, bibtex_button = export_page(playwright, app_url)
        expect(markdown_button).to_be_disabled()  # nothing to export yet
        box = page.locator("textarea").first
        box.fill(QUESTION)
        box.press("Enter")
        page.get_by_text("[1] " + DDRNET).first.wait_for(timeout=60000)
        expect(markdown_button).to_be_enabled(timeout=30000)
        expect(bibtex_button).to_be_enabled(timeout=30000)

        markdown_download = download(page, markdown_button)
        bibtex_download = download(page, bibtex_button)
        markdown_name = markdown_download.suggested_filename
        bibtex_name = bibtex_download.suggested_filename
        markdown = Path(markdown_download.path()).read_text(encoding="utf-8")
        bibtex = Path(bibtex_download.path()).read_text(encoding="utf-8")
        (output_dir / "export-conversation.md").write_text(markdown, encoding="utf-8")
        (output_dir / "export-cited-papers.bib").write_text(bibtex, encoding="utf-8")

        # A retried answer replaces the old one in the export too (the turns follow the
        # chat's history), so after a follow-up there are two questions, not three.
        link = page.locator("#pa-chat a.pa-cite").first
        shown = link.get_attribute("href")  # each answer's anchors are its own
        page.locator("#pa-chat").get_by_role("button", name="Retry").click()
        expect(link).not_to_have_attribute("href", shown, timeout=60000)
        expect(box).to_be_editable(timeout=30000)
        box.fill(FOLLOW_UP)
        box.press("Enter")
        after_retry = download_once(page, markdown_button, FOLLOW_UP)
        assert after_retry.count("## Question") == 2, after_retry

        page.get_by_role("button", name="New chat").click()
        expect(markdown_button).to_be_disabled(timeout=30000)  # the session's list is cleared
        browser.close()

    assert re.fullmatch(r"paper-assistant-conversation-\d{8}-\d{6}\.md", markdown_name)
    assert re.fullmatch(r"paper-assistant-cited-papers-\d{8}-\d{6}\.bib", bibtex_name)

    tokens = MarkdownIt("commonmark").parse(markdown)
    texts = inline_texts(markdown)
    assert texts[0] == "Paper Assistant conversation" and texts[1].startswith("Exported ")
    assert QUESTION in texts
    assert any("[1]" in text and "77.4" in text for text in texts)
    assert any(text.startswith("\\[1\\] " + DDRNET) for text in texts)
    assert not [t for t in tokens if t.type == "html_block"]

    entries = bibtexparser.loads(bibtex).entries
    assert entries and entries[0]["ENTRYTYPE"] == "misc"
    assert entries[0]["title"] == "{" + DDRNET + "}"
    assert len({entry["ID"] for entry in entries}) == len(entries)


@pytest.mark.browser
def test_browser_conversation_survives_a_reload(app_url, output_dir):
    """Issue 22, item 15: after a reload the conversation is listed beside the chat; chosen
    there, it comes back with its export, and a follow-up reads its history (asked alone,
    the follow-up cites nothing). New chat empties the chat; its clear deletes the one shown."""
    from playwright.sync_api import expect, sync_playwright

    question = "Which network reaches 77.4% mIoU at 102 FPS on Cityscapes?"
    follow_up = "Which datasets did they evaluate on?"
    other = "Which papers study binary neural networks?"
    with sync_playwright() as playwright:
        browser, page, markdown_button, bibtex_button = export_page(playwright, app_url)
        saved = page.locator("#pa-saved")  # the list beside the chat
        cited = page.locator("#pa-chat").get_by_text("[1] " + DDRNET)
        box = page.locator("textarea").first
        box.fill(question)
        box.press("Enter")
        cited.first.wait_for(timeout=60000)
        expect(saved).to_contain_text(question[:30], timeout=30000)

        page.reload()
        expect(saved).to_contain_text(question[:30], timeout=30000)
        expect(cited).to_have_count(0)  # a fresh session: an empty chat, nothing to export
        expect(markdown_button).to_be_disabled()
        saved.get_by_text(question[:30]).click()
        expect(cited).to_have_count(1, timeout=30000)
        expect(markdown_button).to_be_enabled(timeout=30000)
        expect(bibtex_button).to_be_enabled()
        restored_markdown = downloaded_text(page, markdown_button)
        restored_bibtex = downloaded_text(page, bibtex_button)

        box.fill(follow_up)
        box.press("Enter")
        expect(cited).to_have_count(2, timeout=60000)  # the follow-up knows the paper
        both_markdown = download_once(page, markdown_button, follow_up)
        page.screenshot(path=str(output_dir / "chat-restored.png"))
        expect(saved.locator("tr")).to_have_count(1)  # the follow-up went into the same one

        page.get_by_role("button", name="New chat").click()
        expect(cited).to_have_count(0, timeout=10000)
        expect(markdown_button).to_be_disabled(timeout=10000)
        expect(bibtex_button).to_be_disabled()
        box.fill(other)
        box.press("Enter")
        expect(saved.locator("tr")).to_have_count(2, timeout=60000)  # listed first

        saved.get_by_text(question[:30]).click()  # back again, then deleted
        expect(cited).to_have_count(2, timeout=30000)
        expect(markdown_button).to_be_enabled(timeout=30000)
        page.locator("#pa-chat").get_by_role("button", name="Clear").click()
        expect(cited).to_have_count(0, timeout=10000)
        expect(markdown_button).to_be_disabled(timeout=10000)
        expect(saved.locator("tr")).to_have_count(1, timeout=10000)
        page.reload()
        expect(saved).to_contain_text(other[:30], timeout=30000)
        expect(saved).not_to_contain_text(question[:30])
        browser.close()

    assert question in restored_markdown and DDRNET in restored_markdown
    assert "{" + DDRNET + "}" in restored_bibtex
    assert question in both_markdown and follow_up in both_markdown
    sources = [text for text in inline_texts(both_markdown) if text.startswith("\\[1\\] ")]
    assert [text.startswith("\\[1\\] " + DDRNET) for text in sources] == [True, True]
