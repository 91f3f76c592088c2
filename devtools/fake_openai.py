"""A real HTTP server that speaks the OpenAI chat-completions protocol with scripted replies.

Tests queue replies (text, SSE streams, error statuses, hangs, malformed bodies) and then
drive the assistant's ``openai-compatible`` backend against it over 127.0.0.1, exactly as
it would talk to Ollama, vLLM or llama.cpp's server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMBEDDING_DIMENSION = 64


def hashed_embedding(text: str) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vector = [0.0] * EMBEDDING_DIMENSION
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.md5(word.encode()).digest()
        vector[digest[0] % EMBEDDING_DIMENSION] += 1.0 if digest[1] % 2 else -1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def embedding_response(payload: dict[str, Any]) -> dict[str, Any]:
    """/v1/embeddings, as floats or (the openai client's default) base64 float32."""
    import struct

    texts = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
    data = []
    for index, text in enumerate(texts):
        vector = hashed_embedding(text)
        if payload.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        else:
            data.append({"object": "embedding", "index": index, "embedding": vector})
    return {
        "object": "list",
        "data": data,
        "model": payload.get("model", "fake-embed"),
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (hang past the client timeout)
    malformed: bool = False  # send a body that is not a chat completion
    chunk_size: int = 4  # characters per SSE chunk when the client streams
    # A stream cut short: only this many content chunks, then the body ends cleanly with no
    # finish_reason and no [DONE] (what a crashed or restarted server behind a proxy sends).
    truncate_after: int | None = None
    # After the first content chunk, an SSE comment (": keep-alive") every ``keepalive``
    # seconds for ``hold`` seconds, then the rest: each read is quick, the whole call is not.
    keepalive: float = 0.0
    hold: float = 0.0


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timeout test, the end of a run) is not an error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FakeOpenAIServer:
    replies: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: Reply("No answer scripted."))
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    down: bool = False  # after stop(): kept-alive connections are dropped too
    # answers each request once the scripted replies are used up (the claims eval)
    responder: Callable[[dict[str, Any]], Reply] | None = None

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps(
                    {"object": "list", "data": [{"id": "scripted", "object": "model"}]}
                )
                self._send(200, body.encode())

            def do_POST(self) -> None:  # noqa: N802
                if server.down:  # like a crashed server: no response, connection closed
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/embeddings"):
                    self._send(200, json.dumps(embedding_response(payload)).encode())
                    return
                server.requests.append(payload)
                server.headers.append(dict(self.headers))
                if server.replies:
                    reply = server.replies.pop(0)
                elif server.responder is not None:
                    reply = server.responder(payload)
                else:
                    reply = server.default
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    error = {"error": {"message": f"scripted {reply.status}", "type": "test"}}
                    self._send(reply.status, json.dumps(error).encode())
                    return
                if reply.malformed:
                    if payload.get("stream"):
                        self._stream([b"data: {not json at all\n\n", b"data: [DONE]\n\n"])
                    else:
                        self._send(200, b'{"unexpected": true}')
                    return
                if payload.get("stream"):
                    pieces = [
                        reply.content[i : i + reply.chunk_size]
                        for i in range(0, len(reply.content), reply.chunk_size)
                    ]
                    events: list[bytes | float] = [self._chunk(piece) for piece in pieces]
                    if reply.truncate_after is not None:
                        self._stream(events[: reply.truncate_after])
                        return
                    if reply.keepalive:
                        beats = int(reply.hold / reply.keepalive)
                        comments = [reply.keepalive, b": keep-alive\n\n"] * beats
                        events[1:1] = comments
                    events.append(self._chunk("", finish="stop"))
                    events.append(b"data: [DONE]\n\n")
                    self._stream(events)
                    return
                body = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": payload.get("model", "scripted"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(200, json.dumps(body).encode())

            @staticmethod
            def _chunk(piece: str, finish: str | None = None) -> bytes:
                event = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": "scripted",
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": finish}],
                }
                return f"data: {json.dumps(event)}\n\n".encode()

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def _stream(self, events: list[bytes | float]) -> None:
                """Each event as one HTTP chunk; a number is a pause of that many seconds."""
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for event in events:
                        if isinstance(event, float):
                            time.sleep(event)
                            continue
                        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a guard stopped it)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.down = True
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, *replies: Reply) -> None:
        self.replies[:] = list(replies)
        self.requests.clear()
        self.headers.clear()
