"""A local stand-in of the Anthropic Messages API, for tests that use the real SDK.

It serves ``POST /v1/messages`` (and ``/v1/messages/count_tokens``, answering a count from
the text's length) on 127.0.0.1 at a random port from a threaded stdlib
``http.server``. Replies are scripted: a FIFO queue, queues routed by a substring of the
request body (so concurrent sections get the reply meant for them whatever order they
arrive in), and a default. Every request body is recorded; the API key never is, only
whether one was sent.

Error replies use the API's error shape, e.g. 529::

    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
     "request_id": "req_..."}
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key-not-a-real-secret"
"""The key the stand-in accepts; any other key gets the API's 401."""

_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP reply.

    ``body`` is a dict (sent as JSON) or raw bytes (sent as is, to fake a broken body). A
    message body whose ``model`` is None gets the requested model filled in.
    """

    status: int = 200
    body: dict[str, Any] | bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0

    @classmethod
    def text(
        cls,
        text: str,
        *,
        input_tokens: int = 120,
        output_tokens: int = 40,
        stop_reason: str = "end_turn",
        delay: float = 0.0,
    ) -> Reply:
        """A successful message with one text block."""
        body = {
            "id": f"msg_standin_{next(_ids):04d}",
            "type": "message",
            "role": "assistant",
            "model": None,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
        return cls(200, body, delay=delay)

    @classmethod
    def error(
        cls, status: int, error_type: str, message: str, *, retry_after: str | None = None
    ) -> Reply:
        """An API error in the documented shape, with an optional ``retry-after`` header."""
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": f"req_standin_{next(_ids):04d}",
        }
        headers = (("retry-after", retry_after),) if retry_after is not None else ()
        return cls(status, body, headers)

    @classmethod
    def overloaded(cls, *, retry_after: str | None = None) -> Reply:
        """HTTP 529 ``overloaded_error``."""
        return cls.error(529, "overloaded_error", "Overloaded", retry_after=retry_after)

    @classmethod
    def rate_limited(cls, *, retry_after: str | None = "0") -> Reply:
        """HTTP 429 ``rate_limit_error`` (the real API sends ``retry-after``)."""
        return cls.error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            retry_after=retry_after,
        )

    @classmethod
    def malformed(cls, kind: str = "not_json") -> Reply:
        """A 200 whose body is unusable.

        Args:
            kind: ``not_json`` (a truncated body), ``no_text`` (a message with no content
                blocks), ``tool_only`` (only a tool_use block), ``wrong_shape`` (JSON that
                is not a message at all).
        """
        if kind == "not_json":
            return cls(200, b'{"id": "msg_broken", "type": "message", "content": [{"ty')
        if kind == "no_text":
            body = Reply.text("").body
            assert isinstance(body, dict)
            return cls(200, {**body, "content": []})
        if kind == "tool_only":
            body = Reply.text("").body
            assert isinstance(body, dict)
            block = {"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}}
            return cls(200, {**body, "content": [block], "stop_reason": "tool_use"})
        if kind == "wrong_shape":
            return cls(200, {"result": "ok", "content": "just a string"})
        raise ValueError(f"unknown malformed kind {kind!r}")


@dataclass
class Recorded:
    """One request as the stand-in saw it (never the key itself)."""

    path: str
    body: dict[str, Any]
    raw: str
    had_api_key: bool
    headers: dict[str, str] = field(default_factory=dict)


class AnthropicStandin:
    """The scriptable server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default: Reply = Reply.text("Activity was broadly steady this period.")
        self._queue: deque[Reply] = deque()
        self._routes: list[tuple[str, deque[Reply]]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order (after routed ones)."""
        with self._lock:
            self._queue.extend(replies)

    def route(self, contains: str, *replies: Reply) -> None:
        """Queue replies for requests whose body contains ``contains``.

        Once a route's queue is used up, matching requests go to the general queue.
        """
        with self._lock:
            self._routes.append((contains, deque(replies)))

    def _next_reply(self, raw: str) -> Reply:
        with self._lock:
            for needle, replies in self._routes:
                if replies and needle in raw:
                    return replies.popleft()
            if self._queue:
                return self._queue.popleft()
            return self.default

    # -- inspection ------------------------------------------------------------------
    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Every request body received, in arrival order."""
        with self._lock:
            return [r.body for r in self.requests]

    def prompt_texts(self) -> list[str]:
        """System prompt plus message text of every request, one string per request."""
        out = []
        for body in self.bodies:
            parts = [_text_of(body.get("system"))]
            parts += [_text_of(m.get("content")) for m in body.get("messages", [])]
            out.append("\n".join(parts))
        return out

    # -- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The URL to hand to the SDK as ``base_url`` (``ANTHROPIC_BASE_URL``)."""
        assert self._server is not None, "stand-in not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AnthropicStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="anthropic-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake any reply still sleeping out its delay, so teardown never waits for it.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> AnthropicStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: AnthropicStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        # The API takes the key as x-api-key; SDK 2.x sends it as "Authorization: Bearer".
        auth = self.headers.get("authorization") or ""
        key = self.headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        safe_headers = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower() not in ("x-api-key", "authorization")
        }
        with self.owner._lock:
            self.owner.requests.append(
                Recorded(self.path, body, raw, key is not None, safe_headers)
            )

        path = self.path.split("?")[0]
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            reply = Reply.error(404, "not_found_error", f"Not found: {self.path}")
        elif key != API_KEY:
            reply = Reply.error(401, "authentication_error", "invalid x-api-key")
        elif not body:
            reply = Reply.error(400, "invalid_request_error", "body is not valid JSON")
        elif path.endswith("/count_tokens"):
            words = len(_text_of(body.get("system")).split()) + sum(
                len(_text_of(m.get("content")).split()) for m in body.get("messages", [])
            )
            reply = Reply(200, {"input_tokens": 3 + words})
        else:
            reply = self.owner._next_reply(raw)
        self._send(reply, body)

    def _send(self, reply: Reply, request: dict[str, Any]) -> None:
        if reply.delay and self.owner._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if isinstance(reply.body, dict):
            payload = dict(reply.body)
            if payload.get("type") == "message" and payload.get("model") is None:
                payload["model"] = request.get("model")
            data = json.dumps(payload).encode()
        else:
            data = reply.body
        try:
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_standin_{next(_ids):04d}")
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (a timeout test): nothing to tell it


def _text_of(content: Any) -> str:
    """Flatten a Messages API ``system`` / ``content`` value (string or blocks) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
