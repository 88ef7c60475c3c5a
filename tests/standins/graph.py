"""A local HTTPS stand-in of the Microsoft identity platform and Microsoft Graph mail.

Enough of both for the real ``msal`` and ``requests`` to be used unchanged:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the authority's discovery
  document (msal fetches it when the application is built, with instance discovery off);
- ``POST /{tenant}/oauth2/v2.0/token``: client credentials, checked against
  :data:`CLIENT_ID` / :data:`CLIENT_SECRET`, answering a bearer token for an hour;
- under ``/v1.0/users/{mailbox}``: ``sendMail``; ``messages`` (drafts),
  ``messages/{id}/attachments``, ``.../attachments/createUploadSession``,
  ``messages/{id}/send``, ``DELETE messages/{id}``, and
  ``mailFolders/sentitems/messages?$filter=internetMessageId eq '...'``;
- ``PUT /upload/{session}?authtoken=...``: the pre-authorised upload URL, taking
  sequential ``Content-Range`` chunks of at most 4 MB and refusing a bearer token, as
  Graph does.

Certificates come from a ``trustme`` CA. Everything is recorded: token and discovery
requests, every request line and status, sent messages with their attachments decoded,
and the most requests ever in flight per mailbox. Faults are scripted with :meth:`fail`
(e.g. a 429 with ``Retry-After``); ``delay`` slows each Graph request so concurrency
shows.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import trustme

TENANT = "00000000-0000-4000-8000-00000000c0de"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_SECRET = "graph-client-secret-for-tests-only"
SENDER = "reports@contoso.test"
MAX_PUT = 4 * 1024 * 1024

_USERS = re.compile(r"^/v1\.0/users/([^/]+)(/.*)$")


@dataclass
class Fault:
    """Answer ``status`` (with ``Retry-After``) to the next ``times`` matching requests."""

    method: str
    path_contains: str
    status: int
    retry_after: str | None = None
    times: int = 1
    code: str | None = None


@dataclass
class Upload:
    mailbox: str
    message_id: str
    item: dict[str, Any]
    token: str
    data: bytearray = field(default_factory=bytearray)


class GraphStandin:
    """The stand-in server; use as a context manager."""

    def __init__(self, ca: trustme.CA, *, delay: float = 0.0) -> None:
        self.ca = ca
        self.delay = delay
        self.lock = threading.Lock()
        self.token_requests = 0
        self.discovery_requests = 0
        self.requests: list[tuple[str, str, int]] = []
        self.sent: list[dict[str, Any]] = []
        self.drafts: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, Upload] = {}
        self.put_sizes: list[int] = []
        self.faults: list[Fault] = []
        self.tokens: set[str] = set()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.mailboxes: set[str] = {SENDER}
        """Mailboxes that exist; any other answers 404 ``ErrorInvalidUser``, as Graph does."""
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- life cycle ------------------------------------------------------------------

    def __enter__(self) -> GraphStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        # Handshake in the handler thread, not in accept(), so one slow client blocks nobody.
        server.socket = ctx.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """``GRAPH_*`` variables pointing the graph transport at this stand-in."""
        return {
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": CLIENT_ID,
            "GRAPH_CLIENT_SECRET": CLIENT_SECRET,
            "GRAPH_SENDER": SENDER,
            "GRAPH_AUTHORITY": self.base_url,
            "GRAPH_BASE_URL": self.base_url,
        }

    # --- scripting and inspection ----------------------------------------------------

    def fail(
        self,
        method: str,
        path_contains: str,
        status: int,
        *,
        retry_after: str | None = None,
        times: int = 1,
        code: str | None = None,
    ) -> None:
        """Answer ``status`` to the next ``times`` requests whose path contains the text."""
        with self.lock:
            self.faults.append(Fault(method, path_contains, status, retry_after, times, code))

    def calls(self, method: str, path_contains: str) -> int:
        """How many requests matched (whatever their answer)."""
        return sum(1 for m, p, _ in self.requests if m == method and path_contains in p)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path_contains in path:
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    owner: GraphStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    # --- replies ---------------------------------------------------------------------

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with self.owner.lock:
            self.owner.requests.append((self.command, urlparse(self.path).path, status))

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        self._reply(status, {"error": {"code": code, "message": message}}, headers)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # --- dispatch --------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlparse(self.path)
        path = unquote(url.path)
        body = self._body()
        fault = self.owner._take_fault(self.command, path)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._error(
                fault.status,
                fault.code
                or {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(
                    fault.status, "ErrorInternalServerError"
                ),
                "scripted fault",
                headers,
            )
            return
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration" and self.command == "GET":
            return self._discovery()
        if path == f"/{TENANT}/oauth2/v2.0/token" and self.command == "POST":
            return self._token(body)
        if path.startswith("/upload/") and self.command == "PUT":
            return self._tracked(
                self._upload_mailbox(path), lambda: self._put(path, url.query, body)
            )
        match = _USERS.match(path)
        if match:
            mailbox, rest = match.group(1), match.group(2)
            if not self._authorised():
                return self._error(
                    401, "InvalidAuthenticationToken", "Access token is empty or invalid."
                )
            if mailbox.lower() not in {m.lower() for m in self.owner.mailboxes}:
                return self._error(
                    404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
                )
            return self._tracked(mailbox, lambda: self._graph(mailbox, rest, url.query, body))
        self._error(404, "NotFound", f"no route for {self.command} {path}")

    def _tracked(self, mailbox: str, handle) -> None:
        owner = self.owner
        with owner.lock:
            owner.in_flight[mailbox] = owner.in_flight.get(mailbox, 0) + 1
            owner.max_in_flight[mailbox] = max(
                owner.max_in_flight.get(mailbox, 0), owner.in_flight[mailbox]
            )
        try:
            if owner.delay:
                time.sleep(owner.delay)
            handle()
        finally:
            with owner.lock:
                owner.in_flight[mailbox] -= 1

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        return header.startswith("Bearer ") and header[7:] in self.owner.tokens

    # --- the authority ---------------------------------------------------------------

    def _discovery(self) -> None:
        base = f"{self.owner.base_url}/{TENANT}"
        with self.owner.lock:
            self.owner.discovery_requests += 1
        self._reply(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "token"],
                "tenant_region_scope": "EU",
            },
        )

    def _token(self, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        secret = form.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            _, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        with self.owner.lock:
            self.owner.token_requests += 1
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != CLIENT_ID:
            return self._reply(
                400,
                {"error": "unauthorized_client", "error_description": "AADSTS700016: unknown app"},
            )
        if secret != CLIENT_SECRET:
            return self._reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        if form.get("scope") != f"{self.owner.base_url}/.default":
            return self._reply(
                400, {"error": "invalid_scope", "error_description": "AADSTS1002012: bad scope"}
            )
        token = f"standin-token-{next(self.owner._ids)}"
        with self.owner.lock:
            self.owner.tokens.add(token)
        self._reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )

    # --- Graph -----------------------------------------------------------------------

    def _graph(self, mailbox: str, rest: str, query: str, body: bytes) -> None:
        owner = self.owner
        payload = json.loads(body) if body else None
        if rest == "/sendMail" and self.command == "POST":
            message = dict(payload["message"])
            message["attachments"] = [_decode(a) for a in message.get("attachments", [])]
            with owner.lock:
                owner.sent.append(_stored(mailbox, message))
            return self._reply(202)
        if rest == "/messages" and self.command == "POST":
            draft_id = f"draft-{next(owner._ids)}=="
            message = dict(payload)
            message["attachments"] = [_decode(a) for a in message.get("attachments", [])]
            with owner.lock:
                owner.drafts[draft_id] = _stored(mailbox, message)
            return self._reply(201, {"id": draft_id, "isDraft": True})
        if rest == "/mailFolders/sentitems/messages" and self.command == "GET":
            wanted = re.match(
                r"internetMessageId eq '(.*)'$", parse_qs(query).get("$filter", [""])[0]
            )
            mid = wanted.group(1).replace("''", "'") if wanted else None
            with owner.lock:
                hits = [
                    {"id": f"sent-{i}"}
                    for i, m in enumerate(owner.sent)
                    if m["internetMessageId"] == mid
                ]
            return self._reply(200, {"value": hits})
        match = re.match(r"^/messages/([^/]+)(/.*)?$", rest)
        if not match:
            return self._error(404, "NotFound", rest)
        draft_id, tail = match.group(1), match.group(2) or ""
        with owner.lock:
            draft = owner.drafts.get(draft_id)
        if draft is None:
            return self._error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        if tail == "" and self.command == "DELETE":
            with owner.lock:
                owner.drafts.pop(draft_id, None)
            return self._reply(204)
        if tail == "/attachments" and self.command == "POST":
            with owner.lock:
                draft["attachments"].append(_decode(payload))
            return self._reply(201, {"id": f"att-{next(owner._ids)}"})
        if tail == "/attachments/createUploadSession" and self.command == "POST":
            item = payload["AttachmentItem"]
            session_id = f"up{next(owner._ids)}"
            token = f"tempauth-{session_id}-secret"
            with owner.lock:
                owner.uploads[session_id] = Upload(mailbox, draft_id, item, token)
            return self._reply(
                201,
                {
                    "uploadUrl": f"{owner.base_url}/upload/{session_id}?authtoken={token}",
                    "expirationDateTime": "2030-01-01T00:00:00Z",
                    "nextExpectedRanges": ["0-"],
                },
            )
        if tail == "/send" and self.command == "POST":
            with owner.lock:
                sent = owner.drafts.pop(draft_id)
                owner.sent.append(sent)
            return self._reply(202)
        self._error(404, "NotFound", rest)

    def _upload_mailbox(self, path: str) -> str:
        upload = self.owner.uploads.get(path.rsplit("/", 1)[-1])
        return upload.mailbox if upload else "?"

    def _put(self, path: str, query: str, body: bytes) -> None:
        owner = self.owner
        upload = owner.uploads.get(path.rsplit("/", 1)[-1])
        if upload is None or parse_qs(query).get("authtoken", [""])[0] != upload.token:
            return self._error(404, "NotFound", "no such upload session")
        if self.headers.get("Authorization"):
            return self._error(
                401, "InvalidAuthenticationToken", "Do not send a token to the upload URL."
            )
        match = re.match(r"bytes (\d+)-(\d+)/(\d+)$", self.headers.get("Content-Range") or "")
        if not match:
            return self._error(400, "InvalidRequest", "Content-Range required")
        start, end, total = (int(g) for g in match.groups())
        size = int(upload.item["size"])
        if total != size or start != len(upload.data) or end - start + 1 != len(body):
            return self._error(416, "InvalidRange", f"expected {len(upload.data)}- of {size}")
        if len(body) > MAX_PUT:
            return self._error(413, "RequestEntityTooLarge", "chunks are at most 4 MB")
        with owner.lock:
            upload.data.extend(body)
            owner.put_sizes.append(len(body))
        if len(upload.data) < size:
            return self._reply(
                200,
                {
                    "expirationDateTime": "2030-01-01T00:00:00Z",
                    "nextExpectedRanges": [f"{len(upload.data)}-"],
                },
            )
        attachment = {
            "name": upload.item["name"],
            "contentType": upload.item.get("contentType"),
            "isInline": upload.item.get("isInline", False),
            "contentId": upload.item.get("contentId"),
            "data": bytes(upload.data),
            "via": "upload",
        }
        with owner.lock:
            owner.drafts[upload.message_id]["attachments"].append(attachment)
        self._reply(
            201, headers={"Location": f"{owner.base_url}/attachments/{path.rsplit('/', 1)[-1]}"}
        )


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("@odata.type") != "#microsoft.graph.fileAttachment":
        raise ValueError("only fileAttachment is supported")
    return {
        "name": item["name"],
        "contentType": item.get("contentType"),
        "isInline": item.get("isInline", False),
        "contentId": item.get("contentId"),
        "data": base64.b64decode(item["contentBytes"], validate=True),
        "via": "json",
    }


def _stored(mailbox: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "subject": message.get("subject"),
        "to": [r["emailAddress"]["address"] for r in message.get("toRecipients", [])],
        "html": message.get("body", {}).get("content"),
        "contentType": message.get("body", {}).get("contentType"),
        "internetMessageId": message.get("internetMessageId"),
        "headers": {h["name"]: h["value"] for h in message.get("internetMessageHeaders", [])},
        "attachments": list(message.get("attachments", [])),
    }
