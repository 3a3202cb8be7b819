"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions and
embeddings protocol, scripted per request by the test.

A test passes a ``script(kind, body, attempt) -> Reply`` function: ``kind``
is ``"chat"`` or ``"embeddings"``, ``body`` the parsed request JSON and
``attempt`` how many times this exact body was seen before (0 the first
time). Every request is logged with its status, so tests can count them;
``wait_idle`` waits until every delayed reply has been sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class Reply:
    """What the server sends: a status, a body (JSON-able or raw bytes), an optional delay first."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def error(status: int, message: str = "scripted failure", **headers: str) -> "Reply":
        return Reply(status, {"error": {"message": message, "type": "server_error"}}, headers=dict(headers))


@dataclass(frozen=True)
class Logged:
    kind: str
    key: str  # sha of the request body without volatile fields
    status: int
    authorization: str


def body_key(body: dict[str, Any]) -> str:
    """Identity of a request's content (what a retry repeats)."""
    text = json.dumps(body, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def chat_completion(content: str, model: str = "fake-model", prompt_tokens: int = 50, completion_tokens: int = 20) -> dict:
    """A chat-completions response body with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def text_vector(text: str, dim: int) -> list[float]:
    """Deterministic unit vector for a text (same text, same vector)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).normal(size=dim)
    return (vec / np.linalg.norm(vec)).tolist()


def embedding_response(texts: list[str], dim: int = 16, model: str = "fake-embed") -> dict:
    """An embeddings response body, one deterministic vector per input."""
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": k, "embedding": text_vector(t, dim)} for k, t in enumerate(texts)],
        "model": model,
        "usage": {"prompt_tokens": sum(len(t) // 4 + 1 for t in texts), "total_tokens": 0},
    }


Script = Callable[[str, dict, int], Reply]


class FakeOpenAI:
    """Start with ``with FakeOpenAI(script) as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.log: list[Logged] = []
        self.models: list[dict[str, Any]] = [{"id": "fake-model", "object": "model", "owned_by": "tests"}]
        self.models_requests = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._active = 0  # requests being handled right now (replies not yet sent)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, kind: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1 for e in self.log if (kind is None or e.kind == kind) and (status is None or e.status == status)
            )

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no request is being handled (every delayed reply is logged and sent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"{self._active} request(s) still in flight after {timeout} s")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                if not self.path.endswith("/models") or server.models is None:
                    self._send(Reply.error(404, f"no route {self.path}"))
                    return
                with server._lock:
                    server.models_requests += 1
                    models = list(server.models)
                self._send(Reply(200, {"object": "list", "data": models}))

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/chat/completions"):
                    kind = "chat"
                elif self.path.endswith("/embeddings"):
                    kind = "embeddings"
                else:
                    self._send(Reply.error(404, f"no route {self.path}"))
                    return
                key = body_key(body)
                with server._lock:
                    attempt = server._seen[key]
                    server._seen[key] += 1
                    server._active += 1
                try:
                    reply = server.script(kind, body, attempt)
                    if reply.delay:
                        time.sleep(reply.delay)
                    with server._lock:
                        server.log.append(Logged(kind, key, reply.status, self.headers.get("Authorization", "")))
                    self._send(reply)
                finally:
                    with server._lock:
                        server._active -= 1

            def _send(self, reply: Reply) -> None:
                if isinstance(reply.body, bytes):
                    payload = reply.body
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to do

        return Handler
