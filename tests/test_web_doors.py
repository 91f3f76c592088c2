"""What may reach the running app (issue 22, items 6-9), over real HTTP on 127.0.0.1: the Host
allow-list, forwarded addresses, refused routes, the body cap, the shared concurrency limit,
and exports that stay private and go away on SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from assistant.core.settings import Settings
from devtools.app_process import AppProcess
from devtools.fake_openai import FakeOpenAIServer, Reply
from tests.conftest import launch_chromium

QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"
GOOD = "DDRNet-23-slim yields 77.4% mIoU at 102 FPS on Cityscapes [1]."
LLM_SECONDS = 2.0  # each scripted LLM answer takes this long


def request(
    app: AppProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", app.port, timeout=60, source_address=(source, 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


def completion(content: str = QUESTION) -> bytes:
    return json.dumps(
        {"model": "paper-assistant", "messages": [{"role": "user", "content": content}]}
    ).encode()


@pytest.fixture(scope="module")
def open_app(corpus_store, tmp_path_factory):
    """The app as installed by default (no login, loopback), with a slow scripted LLM and one
    answer at a time; a public name is allowed besides the loopback ones."""
    settings, _ = corpus_store
    server = FakeOpenAIServer(default=Reply(GOOD, delay=LLM_SECONDS)).start()
    with AppProcess.on_store(
        tmp_path_factory.mktemp("open-app"),
        settings,
        llm="openai-compatible",
        llm_base_url=server.base_url,
        llm_model="scripted-model",
        llm_timeout="10",
        concurrency_limit="1",
        allowed_hosts="papers.example.org",
    ) as app:
        app.wait_until_ready()
        yield app
    server.stop()


@pytest.fixture(scope="module")
def login_app(corpus_store, tmp_path_factory):
    settings, _ = corpus_store
    with AppProcess.on_store(
        tmp_path_factory.mktemp("login-app"),
        settings,
        auth_user="alice",
        auth_password="wonderland",
        login_lockout_seconds="60",
    ) as app:
        yield app


def test_other_host_names_are_refused_before_gradio(open_app):
    """DNS rebinding (item 6): a page on evil.example whose name now points at 127.0.0.1
    reaches the app with ``Host: evil.example``; it gets 400 on every route."""
    evil = {"Host": "evil.example", "Origin": "http://evil.example"}
    for method, path, body in (
        ("GET", "/config", None),
        ("GET", "/gradio_api/info", None),
        ("GET", "/health", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", completion()),
    ):
        headers = {**evil, "Content-Type": "application/json"}
        status, _, data = request(open_app, method, path, body, headers)
        assert status == 400, (path, status, data[:200])
        assert data == b"Invalid host header", path
    port = open_app.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "papers.example.org", "[::1]"):
        status, _, data = request(open_app, "GET", "/v1/models", headers={"Host": host})
        assert status == 200 and b"paper-assistant" in data, host


def test_allowed_hosts_come_from_the_bind_and_the_setting():
    from assistant.web import doors

    def hosts(**values: object) -> list[str]:
        return doors.allowed_hosts(Settings(_env_file=None, **values))

    assert hosts() == ["localhost", "127.0.0.1", "[::1]"]
    assert hosts(host="0.0.0.0") == ["localhost", "127.0.0.1", "[::1]"]
    assert hosts(host="192.168.1.5", allowed_hosts="Papers.Example.org, *.lab.example")[3:] == [
        "192.168.1.5",
        "papers.example.org",
        "*.lab.example",
    ]
    assert hosts(host="fe80::1")[3] == "[fe80::1]"


def test_forwarded_addresses_do_not_escape_the_login_throttle(login_app):
    """Item 7: five wrong keys from 127.0.0.1 (which uvicorn trusted by default), each
    claiming another X-Forwarded-For, lock out 127.0.0.1 itself."""
    for n in range(5):
        status, _, _ = request(
            login_app,
            "GET",
            "/v1/models",
            headers={"Authorization": f"Bearer alice:guess-{n}", "X-Forwarded-For": f"10.9.8.{n}"},
        )
        assert status == 401
    right = {"Authorization": "Bearer alice:wonderland", "X-Forwarded-For": "10.9.8.77"}
    status, headers, _ = request(login_app, "GET", "/v1/models", headers=right)
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert "failed logins from 127.0.0.1" in login_app.log
    status, _, _ = request(login_app, "GET", "/v1/models", headers=right, source="127.0.0.5")
    assert status == 200  # another client is not locked out


def test_forwarded_headers_are_believed_only_from_named_proxies(monkeypatch):
    import uvicorn

    from assistant.web import doors

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    doors.trust_forwarded_headers(Settings(_env_file=None))
    assert os.environ["FORWARDED_ALLOW_IPS"] == ""
    assert "127.0.0.1" not in doors.names(uvicorn.Config(app=None).forwarded_allow_ips)
    doors.trust_forwarded_headers(Settings(_env_file=None, trusted_proxies="127.0.0.1, 10.0.0.0/8"))
    assert uvicorn.Config(app=None).forwarded_allow_ips == "127.0.0.1,10.0.0.0/8"


def test_no_route_is_open_past_the_login(login_app):
    """Item 8: the whole API schema is not served to anyone without the login."""
    assert request(login_app, "GET", "/openapi.json")[0] == 404
    assert request(login_app, "GET", "/gradio_api/openapi.json")[0] == 401
    assert request(login_app, "GET", "/config")[0] == 401


def test_uploads_are_refused(open_app):
    """Item 8: the app takes no files; Gradio's upload route would cache anyone's."""
    boundary = "pa-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n{'x' * 1000}\r\n--{boundary}--\r\n"
    ).encode()
    status, _, data = request(
        open_app,
        "POST",
        "/gradio_api/upload",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": "http://x.test"},
    )
    assert status == 403 and b"no file uploads" in data


def test_request_bodies_are_capped_before_they_are_read(open_app):
    """Item 8: a 300 MB body is refused from its Content-Length, before a byte is read; a
    chunked one as soon as it passes the cap."""
    connection = http.client.HTTPConnection("127.0.0.1", open_app.port, timeout=30)
    connection.putrequest("POST", "/v1/chat/completions")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(300 << 20))
    connection.endheaders()
    connection.send(b"{" + b" " * 65536)  # the rest never comes
    response = connection.getresponse()
    assert response.status == 413 and b"too large" in response.read()
    connection.close()

    with socket.create_connection(("127.0.0.1", open_app.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b" " * 65536
        for _ in range(96):  # 6 MiB, past the 4 MiB cap, without looking for the refusal (as curl
            # does), and no end chunk: the server reads on and drops the rest before it
            # closes, so the kernel does not reset the socket and lose the reply
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"too large" in reply
    assert open_app.process.poll() is None


def test_v1_and_the_page_share_one_concurrency_limit(open_app):
    """Item 8: with ASSISTANT_CONCURRENCY_LIMIT=1, an /ask made while a /v1 answer is being
    written waits for it (each LLM answer takes 2 s), instead of running beside it."""
    finished: dict[str, float] = {}

    def v1() -> None:
        status, _, data = request(
            open_app,
            "POST",
            "/v1/chat/completions",
            completion(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, data
        finished["v1"] = time.monotonic()

    client = open_app.client()
    worker = threading.Thread(target=v1)
    worker.start()
    time.sleep(0.5)  # /v1 holds the only slot
    answer = client.predict(QUESTION, api_name="/ask")
    finished["ask"] = time.monotonic()
    worker.join()
    assert answer["backend"] == "openai-compatible"
    assert finished["ask"] - finished["v1"] > 0.75 * LLM_SECONDS, finished


@pytest.mark.browser
def test_exports_are_private_and_removed_on_sigterm(corpus_store, tmp_path):
    """Item 9: the export files (and Gradio's cached copies) are 0600 in 0700 folders, and a
    SIGTERM (systemd, docker, kill) removes them as Ctrl-C does."""
    from playwright.sync_api import expect, sync_playwright

    settings, _ = corpus_store
    temp = tmp_path / "tmp"
    temp.mkdir()
    app = AppProcess.on_store(tmp_path / "app", settings)
    app.env["TMPDIR"] = str(temp)
    app.env.pop("GRADIO_TEMP_DIR", None)
    with app:
        app.wait_until_ready()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            page.goto(app.url)
            box = page.locator("textarea").first
            box.fill(QUESTION)
            box.press("Enter")
            button = page.get_by_role("button", name="Conversation (Markdown)")
            expect(button).to_be_enabled(timeout=90000)
            with page.expect_download() as download:
                button.click()
            assert "DDRNet" in Path(download.value.path()).read_text()
            browser.close()
        (root,) = temp.glob("paper-assistant-exports-*")
        files = [p for p in root.rglob("*") if p.is_file()]
        names = {p.name for p in files}
        assert any(n.endswith(".md") for n in names) and any(n.endswith(".bib") for n in names)
        assert len([p for p in files if p.suffix == ".md"]) >= 2  # ours and Gradio's copy
        # Everything under a 0700 folder; every file 0600 (Gradio's subfolders inside keep
        # the umask's mode, but nobody else can pass the folder above them).
        for path in [root, root / "gradio-cache", *files]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o600 if path.is_file() else 0o700), (path, oct(mode))
        # Twice, as a service manager may repeat it: the second must not break the clean-up.
        app.process.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        app.process.send_signal(signal.SIGTERM)
        assert app.process.wait(timeout=30) == 0
    assert "Traceback" not in app.log, app.log[-2000:]
    assert not list(temp.glob("paper-assistant-exports-*"))
    assert not [p for p in temp.rglob("*") if p.suffix in (".md", ".bib")]  # no copy left
