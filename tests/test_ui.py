"""The web app, started by the test: gradio_client API calls and a real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.app_process import AppProcess
from tests.conftest import DDRNET_PAGE_PAPERS, ddrnet_page, launch_chromium

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
DDRNET_QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"


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
    assert len(hits) == 5 and all("score" in hit for hit in hits)


def test_binds_to_loopback_only(corpus_app):
    """The shared app runs with the default settings: the default bind."""
    import psutil

    listening = [
        c.laddr
        for c in psutil.Process(corpus_app.process.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and {address.ip for address in listening} == {"127.0.0.1"}


@pytest.mark.browser
def test_browser_chat_shows_citations_and_follow_up(app_url, output_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
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


# --- the chat as a researcher reads it (desktop and phone) -----------------------------
SIZES = {"desktop": (1280, 1100), "phone": (390, 844)}
QUESTIONS = ("Which papers study binary neural networks?", DDRNET_QUESTION)

# Boxes (in window coordinates) of what the reader should see of the latest answer.
_LAYOUT = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const chat = document.querySelector('#pa-chat');
  const log = chat.querySelector('[role=log]') || chat;
  const bots = chat.querySelectorAll('[data-testid=bot] .message-content');
  const answer = bots[bots.length - 1];
  const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT,
    {acceptNode: (n) => n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP});
  const text = walker.nextNode();
  const range = document.createRange();
  range.setStart(text, 0);
  range.setEnd(text, Math.min(text.textContent.length, 40));
  const labels = [...chat.querySelectorAll('[data-testid=block-label], label')]
    .filter((el) => el.getBoundingClientRect().height > 0);
  const words = [...chat.querySelectorAll('.message-content p, .message-content li, summary')]
    .filter((el) => el.getBoundingClientRect().height > 0);
  const textarea = document.querySelector('textarea');
  return {
    first: box(range), firstText: text.textContent.slice(0, 40), log: box(log),
    chat: box(chat), window: {width: window.innerWidth, height: window.innerHeight},
    page: document.querySelector('.gradio-container').getBoundingClientRect().width,
    labels: labels.map(box), words: words.map(box), input: box(textarea),
  };
}"""

# Each cited title, and how often it shows outside the answer text and the folds' bodies.
_TITLES = """() => {
  const bots = document.querySelectorAll('#pa-chat [data-testid=bot] .message-content');
  const message = bots[bots.length - 1].cloneNode(true);
  const titles = [...message.querySelectorAll('details.pa-source > summary')].map((s) =>
    s.cloneNode(true)).map((s) => { s.querySelectorAll('.pa-verdict').forEach((v) => v.remove());
      return s.textContent.trim().replace(/^\\[\\d+\\]\\s*/, ''); });
  message.querySelectorAll('details > :not(summary)').forEach((el) => el.remove());
  let answerText = '';
  for (const el of [...message.querySelector('.md, .prose, span').children]) {
    if (/^\\s*Sources\\s*$/.test(el.textContent)) break;
    answerText += el.textContent + ' ';
  }
  const count = (text, title) => text.split(title).length - 1;
  return titles.map((t) => [t, count(message.textContent, t), count(answerText, t)]);
}"""


def _inside(inner: dict, outer: dict) -> bool:
    return (
        inner["top"] >= outer["top"] - 1
        and inner["bottom"] <= outer["bottom"] + 1
        and inner["bottom"] > inner["top"]
    )


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


def _read_answer(page, question: str, turn: int) -> dict:
    """Ask; once the answer is complete, check what the reader sees; return the layout."""
    box = page.locator("textarea").first
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('#pa-chat [data-testid=bot]').length >= {turn}"
        " && document.querySelectorAll('#pa-chat details.pa-source').length >= "
        f"{turn} && !document.querySelector('#pa-chat .pending')",
        timeout=60000,
    )
    page.wait_for_timeout(1200)  # the page's script settles the scroll
    layout = page.evaluate(_LAYOUT)
    screen = {"top": 0, "bottom": layout["window"]["height"]}
    # The answer reads from its first line: inside the chat's view and the window.
    assert _inside(layout["first"], layout["log"]), (question, layout)
    assert _inside(layout["first"], screen), (question, layout)
    # The chat fills the window's height and the question box stays in sight.
    assert layout["chat"]["bottom"] - layout["chat"]["top"] >= 0.6 * screen["bottom"], layout
    assert _inside(layout["input"], screen), layout
    # No label floats over the text.
    for label in layout["labels"]:
        assert not any(_overlap(label, words) for words in layout["words"]), layout
    # One sources block: each cited title exactly once outside the folds' bodies (the
    # answer text names papers by their [n] links).
    titles = page.evaluate(_TITLES)
    assert titles, question
    for title, shown, in_answer in titles:
        assert (shown, in_answer) == (1, 0), (title, shown, in_answer)
    return layout


def _click_first_citation(page) -> None:
    """[1] in the latest answer opens source 1's fold and brings it into view."""
    answer = page.locator("#pa-chat [data-testid=bot]").last
    link = answer.locator("a.pa-cite").first
    assert link.inner_text() == "[1]"
    target = link.get_attribute("href").removeprefix("#")
    fold = answer.locator(f"details#{target}")
    assert fold.count() == 1 and not fold.evaluate("d => d.open")
    link.click()
    page.wait_for_timeout(500)
    assert fold.evaluate("d => d.open")
    assert fold.locator("summary").inner_text().startswith("[1] ")
    size = page.viewport_size
    seen = fold.locator("summary").bounding_box()
    assert seen and 0 <= seen["y"] and seen["y"] + seen["height"] <= size["height"], seen
    assert page.evaluate("location.hash") == ""  # handled by the page's script


@pytest.mark.browser
def test_browser_chat_reads_answer_first_with_linked_sources(app_url, output_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for name, (width, height) in SIZES.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(app_url)
            page.locator("textarea").first.wait_for()
            empty_width = page.evaluate(
                "document.querySelector('.gradio-container').getBoundingClientRect().width"
            )
            for turn, question in enumerate(QUESTIONS, start=1):
                layout = _read_answer(page, question, turn)
                assert layout["page"] == empty_width, (name, "the page changed width")
                page.screenshot(path=str(output_dir / f"chat-{name}-{turn}.png"))
                _click_first_citation(page)
            page.screenshot(path=str(output_dir / f"chat-{name}-source.png"))
            ids = page.evaluate("[...document.querySelectorAll('#pa-chat [id]')].map(e => e.id)")
            assert len(ids) == len(set(ids)), ids  # each answer has its own source 1
            if name == "desktop":
                _compact_search_results(page, output_dir)
            page.close()
        browser.close()


def _compact_search_results(page, output_dir: Path) -> None:
    """Title, score and the abstract's first lines per paper: five results in 900 px."""
    page.get_by_role("tab", name="Search papers").click()
    page.get_by_label("Query").fill("binary neural networks")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#pa-hits .pa-hit").nth(4).wait_for(timeout=30000)
    hits = page.locator("#pa-hits .pa-hit")
    first, fifth = hits.nth(0).bounding_box(), hits.nth(4).bounding_box()
    assert fifth["y"] + fifth["height"] - first["y"] <= 900, (first, fifth)
    lead = hits.nth(0).locator(".pa-lead")
    line = float(lead.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 24"))
    closed = lead.bounding_box()["height"]
    assert line <= closed <= 2.5 * line, (closed, line)  # the first two lines
    assert re.search(r"score \d\.\d{3}", hits.nth(0).inner_text())
    hits.nth(0).locator("summary").click()
    assert lead.bounding_box()["height"] > closed  # the fold holds the rest
    page.screenshot(path=str(output_dir / "search-desktop.png"))


def test_first_start_ingests_and_an_early_call_gets_the_real_answer(tmp_path):
    """A call made during the first-start ingest waits for the index, then answers; the
    page's status line shows the progress meanwhile. The first start ingests one of the
    bundled listing pages, cut to 24 papers (DDRNet's among them), in place of all four."""
    import json
    import urllib.error
    import urllib.request

    from ingest.parsers import parse_paths

    corpus = ddrnet_page(tmp_path / "papers")
    papers = len(parse_paths([corpus]).papers)
    with AppProcess(
        tmp_path, corpus=corpus, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
    ) as app:
        with pytest.raises(urllib.error.HTTPError) as starting:
            urllib.request.urlopen(app.url + "health")
        assert starting.value.code == 503
        state = json.loads(starting.value.read())
        assert state["ready"] is False
        assert "Indexing the bundled corpus" in state["status"] or "Starting" in state["status"]
        answer = app.client().predict("Which work reaches 77.4% mIoU at 102 FPS?", api_name="/ask")
        assert answer["citations"][0]["title"] == DDRNET
        with urllib.request.urlopen(app.url + "health") as response:
            assert json.loads(response.read())["papers"] == papers == DDRNET_PAGE_PAPERS
    # the ingest summary went to the console
    assert f"papers           {DDRNET_PAGE_PAPERS} " in app.log


# --- corpus text is data: a planted paper must not load, link or run anything ---------
class PixelServer:
    """A local HTTP server that records every request: any fetch of a planted URL."""

    def __init__(self):
        import http.server
        import threading

        requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                requests.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.requests = requests
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def planted_paper(pixel: str) -> dict[str, str]:
    flag = 'onerror="window.__pwned=1"'
    return {
        "title": f"Quantum Gardening <img src={pixel}/title.png {flag}> "
        f'<a href="{pixel}/title-link">guide</a> <script>window.__pwned=1</script> '
        "with *stars*, _underscores_, [7], `ticks` and $$q^2$$",
        "abstract": "Quantum gardening grows qubits in soil beds and measures their coherence "
        f"under sunlight. <img src={pixel}/abstract.png {flag}> Read "
        f'<a href="{pixel}/abstract-link">the planting guide</a> first. '
        f"<script>window.__pwned=1</script> ![pixel]({pixel}/markdown.png) Code is at "
        f"{pixel}/bare-link for everyone. Garden qubits keep their coherence twice as long "
        "when watered with liquid nitrogen.",
    }


Q_CITES = "How do garden qubits in soil beds keep their coherence under sunlight?"
Q_RETRIEVES = "How do graph transformers with positional encodings predict molecular properties?"
Q_DECLINED = "What is the capital of France?"


@pytest.fixture(scope="module")
def planted(tmp_path_factory, embedder):
    """The app on a three-paper corpus, one of which plants HTML and markdown."""
    import json

    from ingest.pipeline import ingest
    from tests.conftest import make_settings

    pixel = PixelServer()
    root = tmp_path_factory.mktemp("planted")
    paper = planted_paper(pixel.url)
    records = [
        paper,
        {
            "title": "Graph Transformers for Molecules",
            "abstract": "Graph transformers with positional encodings predict molecular "
            "properties and outperform message passing networks on quantum chemistry.",
        },
        {
            "title": "Robust Sparse Mixture of Experts Routing",
            "abstract": "We study routing in sparse mixture of experts layers and show that "
            "learned temperatures stabilise training of large language models.",
        },
    ]
    source = root / "planted.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = make_settings(root)
    ingest([source], settings, progress=False, embedder=embedder)
    with AppProcess.on_store(root, settings) as app:
        app.wait_until_ready()
        yield app, pixel, paper["title"]
    pixel.stop()


def test_chat_api_returns_planted_corpus_text_escaped(planted):
    from assistant.citations import parse_sources

    app, pixel, title = planted
    client = app.client()
    replies = {
        "cites": client.predict(Q_CITES, api_name="/chat"),
        "retrieves": app.client().predict(Q_RETRIEVES, api_name="/chat"),
        "declines": app.client().predict(Q_DECLINED, api_name="/chat"),
    }
    assert "[1] Quantum Gardening" in replies["cites"]
    assert "Retrieved, not cited" in replies["retrieves"]
    assert "Possibly related" in replies["declines"]
    for where, reply in replies.items():
        assert "Quantum Gardening &lt;img src=" in reply, where
        for raw in ("<img", "<script", "](http", pixel.url):
            assert raw not in reply, (where, raw)
        # The only links are the answer's own [n] markers, to its source folds.
        assert not re.search(r'<a (?!class="pa-cite" href="#pa-[0-9a-f]+-src-\d+")', reply)
    assert parse_sources(replies["cites"])[0] == title  # follow-ups read the title back
    # The JSON API returns data, exactly as written: escaping is the renderer's job.
    hits = client.predict("quantum gardening", 5, api_name="/search")
    assert hits[0]["title"] == title
    asked = client.predict(Q_CITES, api_name="/ask")
    assert asked["citations"][0]["title"] == title
    assert pixel.requests == []


@pytest.mark.browser
def test_browser_never_loads_links_or_runs_planted_corpus_text(planted, output_dir):
    from playwright.sync_api import sync_playwright

    app, pixel, title = planted
    planted_host = pixel.url.removeprefix("http://")

    def assert_inert(page, where: str) -> None:
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        page.wait_for_timeout(800)  # time for any image to be requested
        assert page.evaluate("window.__pwned") is None, where
        assert page.locator(f'a[href*="{planted_host}"]').count() == 0, where
        assert page.locator(f'img[src*="{planted_host}"]').count() == 0, where
        assert page.locator("script:not([src])").filter(has_text="__pwned").count() == 0, where
        assert page.locator(".katex").count() == 0, where
        assert title in page.locator("body").inner_text(), where  # shown exactly as written
        assert pixel.requests == [], (where, pixel.requests)

    def ask(page, question: str, expect: str) -> None:
        box = page.locator("textarea").first
        box.fill(question)
        box.press("Enter")
        page.locator(".message").filter(has_text=expect).last.wait_for(timeout=60000)
        page.wait_for_timeout(500)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url)
        ask(page, Q_CITES, "Sources")
        assert_inert(page, "cited: answer text, sources, folds")
        page.screenshot(path=str(output_dir / "planted-cited.png"), full_page=True)
        for question, expect, where in (
            (Q_RETRIEVES, "Retrieved, not cited", "retrieved, not cited"),
            (Q_DECLINED, "Possibly related", "possibly related"),
        ):
            page.get_by_role("button", name="New chat").click()
            page.wait_for_function("() => !document.querySelector('.message')", timeout=10000)
            ask(page, question, expect)
            assert_inert(page, where)
        page.get_by_role("tab", name="Search papers").click()
        page.get_by_label("Query").fill("quantum gardening")
        page.get_by_role("button", name="Search", exact=True).click()
        page.get_by_text(re.compile(r"score \d\.\d{3}")).first.wait_for(timeout=30000)
        assert_inert(page, "search tab")
        browser.close()
    assert pixel.requests == []
