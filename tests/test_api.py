"""The running app's API: exactly /chat, /ask and /search for ``gradio_client``, the
OpenAI-compatible /v1 for the official ``openai`` client, /health, one login for all of
them, and calls made while the engine starts that wait (bounded) instead of being answered
with a status line."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devtools.app_process import AppProcess

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
KNOWN_ITEM = "Which work reaches 77.4% mIoU at 102 FPS?"
USER, PASSWORD = "reader", "correct horse battery staple"
KEY = f"{USER}:{PASSWORD}"


@pytest.fixture(scope="module")
def app(corpus_store):
    """The app on the session corpus, behind a login; 3 failures lock an address for 3 s."""
    settings, _ = corpus_store
    with AppProcess.on_store(
        Path(settings.chroma_path).parent,
        settings,
        auth_user=USER,
        auth_password=PASSWORD,
        login_max_failures=3,
        login_lockout_seconds=3,
    ) as app:
        app.wait_until_ready(app.client(auth=(USER, PASSWORD)))
        yield app


def http(url: str, body: dict | None = None, key: str | None = KEY, basic: bool = False):
    """(status, headers, parsed JSON or text) of one request, errors included."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        token = base64.b64encode(key.encode()).decode() if basic else key
        headers["Authorization"] = f"{'Basic' if basic else 'Bearer'} {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, error.headers, error.read()
    text = raw.decode()
    try:
        return status, head, json.loads(text)
    except json.JSONDecodeError:
        return status, head, text


def test_gradio_client_sees_exactly_the_named_endpoints(app):
    client = app.client(auth=(USER, PASSWORD))
    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/ask", "/chat", "/search"]
    assert api["unnamed_endpoints"] == {}


def test_ask_returns_the_answer_as_json_without_conversation_state(app):
    client = app.client(auth=(USER, PASSWORD))
    answer = client.predict(KNOWN_ITEM, api_name="/ask")
    assert answer["answered"] is True
    first = answer["citations"][0]
    assert first["number"] == 1 and first["title"] == DDRNET
    assert {"paper_id", "passage", "score"} <= set(first)
    assert "77.4% mIoU at 102 FPS" in answer["text"] + first["passage"]
    assert answer["claims"] and {c["verdict"] for c in answer["claims"]} <= {
        "supported",
        "partial",
        "unsupported",
    }
    assert json.loads(json.dumps(answer)) == answer  # plain JSON all the way down
    # The same client asks an unrelated follow-up-shaped question: no hidden state.
    alone = client.predict("On which datasets did they evaluate it?", api_name="/ask")
    assert DDRNET not in [c["title"] for c in alone["citations"]]


def test_search_returns_papers_as_json(app):
    client = app.client(auth=(USER, PASSWORD))
    hits = client.predict("binary neural networks", 4, api_name="/search")
    assert len(hits) == 4
    assert all({"title", "score", "paper_id", "abstract", "sources"} <= set(h) for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert "Binary" in hits[0]["title"]


def test_bad_calls_get_one_line_errors(app):
    from gradio_client.exceptions import AppError

    client = app.client(auth=(USER, PASSWORD))
    with pytest.raises(AppError, match="the limit is 2000"):
        client.predict("x" * 5000, api_name="/ask")
    with pytest.raises(AppError, match="1 to 50"):
        client.predict("binary neural networks", 500, api_name="/search")


def test_openai_client_gets_a_cited_answer_whole_and_streamed(app):
    from openai import OpenAI

    client = OpenAI(base_url=app.url + "v1", api_key=KEY, max_retries=0)
    assert [model.id for model in client.models.list()] == ["paper-assistant"]
    question = {"role": "user", "content": KNOWN_ITEM}
    whole = client.chat.completions.create(model="paper-assistant", messages=[question])
    content = whole.choices[0].message.content
    assert "[1]" in content and f"[1] {DDRNET}" in content
    assert whole.citations[0]["title"] == DDRNET  # the documented extra field
    assert whole.paper_assistant["answered"] is True

    stream = client.chat.completions.create(
        model="paper-assistant", messages=[question], stream=True
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content  # the same checked answer, in pieces
    assert len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].citations[0]["title"] == DDRNET


def test_openai_follow_up_through_the_messages(app):
    from openai import OpenAI

    client = OpenAI(base_url=app.url + "v1", api_key=KEY, max_retries=0)
    first = client.chat.completions.create(
        model="paper-assistant", messages=[{"role": "user", "content": KNOWN_ITEM}]
    )
    follow_up = client.chat.completions.create(
        model="paper-assistant",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": KNOWN_ITEM},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "How fast is it on CamVid?"}]},
        ],
    )
    assert follow_up.citations[0]["title"] == DDRNET
    assert "230 FPS" in follow_up.choices[0].message.content


def test_openai_requests_the_endpoint_cannot_serve_are_refused_clearly(app):
    url = app.url + "v1/chat/completions"
    status, _, body = http(url, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and "paper-assistant" in body["error"]["message"]
    status, _, body = http(url, {"messages": []})
    assert status == 400 and body["error"]["message"].startswith("messages")
    status, _, body = http(url, {"messages": [{"role": "user", "content": "y" * 5000}]})
    assert status == 400 and "the limit is 2000" in body["error"]["message"]
    status, _, body = http(url, {"messages": [{"role": "assistant", "content": "hello"}]})
    assert status == 400 and "last message" in body["error"]["message"]


def test_one_login_guards_every_route_and_throttles_guesses(app):
    import openai

    url = app.url + "v1/models"
    assert http(url, key=KEY, basic=True)[0] == 200
    status, headers, body = http(url, key=None)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert PASSWORD not in json.dumps(body)
    status, _, body = http(app.url + "health", key=None)
    assert status == 401
    status, _, body = http(app.url + "health")
    assert status == 200 and body["ready"] is True and body["papers"] > 300

    wrong = openai.OpenAI(base_url=app.url + "v1", api_key=f"{USER}:guess", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert http(url, key=f"{USER}:another guess")[0] == 401  # the third failure…
    status, headers, _ = http(url)  # …locks the address out, even with the right key
    assert status == 429 and int(headers["Retry-After"]) >= 1
    time.sleep(3.2)
    assert http(url)[0] == 200


def test_calls_made_while_the_engine_starts_wait_then_fail_clearly(tmp_path):
    """The first-start ingest cannot begin (another writer holds the store), so the engine
    never becomes ready: each interface waits its bound, then says so and when to retry."""
    from filelock import FileLock
    from gradio_client.exceptions import AppError

    chroma = tmp_path / "chroma"
    chroma.mkdir()
    with FileLock(str(chroma / "ingest.lock")):
        with AppProcess(
            tmp_path, chroma_path=chroma, cache_dir=tmp_path / "cache", ready_wait_seconds=2
        ) as app:
            deadline = time.time() + 120
            while "another ingest" not in http(app.url + "health", key=None)[2]["status"]:
                assert time.time() < deadline, "the first-start ingest never waited"
                time.sleep(0.5)
            client = app.client()
            began = time.time()
            with pytest.raises(AppError, match="not ready yet.*another ingest") as raised:
                client.predict(KNOWN_ITEM, api_name="/ask")
            assert 1.5 < time.time() - began < 30
            assert "try again" in str(raised.value)
            with pytest.raises(AppError, match="not ready yet"):
                client.predict("binary neural networks", api_name="/chat")
            status, headers, body = http(
                app.url + "v1/chat/completions",
                {"messages": [{"role": "user", "content": KNOWN_ITEM}]},
                key=None,
            )
            assert status == 503 and headers["Retry-After"] == "5"
            assert body["error"]["code"] == "not_ready"
            status, _, body = http(app.url + "health", key=None)
            assert status == 503 and body["ready"] is False and "another ingest" in body["status"]


SOURCE = "002_0b796ff187e101aa.txt"  # one of the bundled listing pages; DDRNet is not on it


def test_filters_narrow_every_api(app):
    from gradio_client.exceptions import AppError
    from openai import OpenAI

    client = app.client(auth=(USER, PASSWORD))
    hits = client.predict(
        "real-time semantic segmentation", 5, {"source": SOURCE}, api_name="/search"
    )
    assert hits and all(SOURCE in hit["sources"] for hit in hits)
    unfiltered = client.predict(KNOWN_ITEM, api_name="/ask")
    assert unfiltered["citations"][0]["title"] == DDRNET
    filtered = client.predict(KNOWN_ITEM, None, {"sources": [SOURCE]}, api_name="/ask")
    assert DDRNET not in [c["title"] for c in filtered["citations"]]
    assert filtered["filters"]["sources"] == [SOURCE]
    with pytest.raises(AppError, match="(?i)filter since: .2023-13. is not a real date"):
        client.predict(KNOWN_ITEM, None, {"since": "2023-13"}, api_name="/ask")
    with pytest.raises(AppError, match="(?i)filter year: unknown"):
        client.predict("segmentation", 5, {"year": 2020}, api_name="/search")

    openai = OpenAI(base_url=app.url + "v1", api_key=KEY, max_retries=0)
    question = [{"role": "user", "content": "real-time semantic segmentation networks"}]
    completion = openai.chat.completions.create(
        model="paper-assistant", messages=question, extra_body={"filters": {"source": SOURCE}}
    )
    assert completion.citations
    assert all(SOURCE in _sources(app, c["title"]) for c in completion.citations)
    assert completion.paper_assistant["filters"]["sources"] == [SOURCE]
    status, _, body = http(
        app.url + "v1/chat/completions", {"messages": question, "filters": {"until": "soon"}}
    )
    assert status == 400 and body["error"]["message"].startswith("filter until")


def _sources(app, title: str) -> list[str]:
    """The files a paper was listed in, as /search reports them."""
    hits = app.client(auth=(USER, PASSWORD)).predict(title, 3, api_name="/search")
    return next(hit["sources"] for hit in hits if hit["title"] == title)
