"""The ``graph`` transport: Microsoft Graph ``sendMail`` with app-only (client credentials).

Settings (interfaces.md): ``GRAPH_TENANT_ID``, ``GRAPH_CLIENT_ID``,
``GRAPH_CLIENT_SECRET``, ``GRAPH_SENDER`` (the mailbox the app may send as), and
``GRAPH_AUTHORITY`` / ``GRAPH_BASE_URL`` (default the public cloud). TLS follows
``requests``, so ``REQUESTS_CA_BUNDLE`` is honoured by msal and by our calls alike.

- The token comes from ``msal.ConfidentialClientApplication``, built on first use and
  kept: msal serves it from its cache until it nears expiry, so a run of hundreds of
  messages asks the authority once. Instance discovery is off: the authority is the
  operator's configuration (a sovereign cloud, or a test stand-in), not something to
  look up at login.microsoftonline.com.
- A message whose files are each at most 3 MB (and small enough in total for one
  request) goes in one ``POST /users/{sender}/sendMail`` with ``fileAttachment`` items;
  images are ``isInline`` with the ``contentId`` the HTML's ``cid:`` names. Otherwise a
  draft is created, small files are attached to it one by one, each larger one through
  ``createUploadSession`` and ranged ``PUT``s, and the draft is sent.
- 429 and 503 are retried after ``Retry-After``; a 401 once, after dropping the cached
  token. At most 4 requests are in flight per mailbox, across every thread and transport
  object of the process (Graph throttles per mailbox).
- The message's internetMessageId is its MIME Message-ID, so after a crash the ledger
  can ask Sent Items whether it went (:meth:`GraphTransport.was_accepted`).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlparse

import msal
import requests

from lib.errors import ConfigError, DeliveryError
from lib.settings import GraphSection, Settings
from runner.delivery.message import (
    HEADER_AS_OF,
    HEADER_REPORT,
    HEADER_TARGET,
    Envelope,
    Part,
    message_parts,
)
from runner.delivery.transports.base import SizeLimits, UncertainDelivery

logger = logging.getLogger(__name__)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_BASE_URL = "https://graph.microsoft.com"
LARGE_ATTACHMENT = 3 * 1024 * 1024
"""Files above this go through an upload session (Graph's limit for inline attachments)."""
SENDMAIL_MAX_BYTES = 3_500_000
"""Largest JSON body sent to ``sendMail`` in one request (Graph refuses above 4 MB)."""
CHUNK = 10 * 320 * 1024
"""Upload chunk: a multiple of 320 KiB, below Graph's 4 MB per ``PUT``."""
MAX_IN_FLIGHT = 4
REQUEST_MAX_BYTES = 4 * 1024 * 1024
"""Graph refuses a request body above 4 MB: the HTML body always travels in one request."""
UPLOAD_MAX_BYTES = 150 * 1024 * 1024
"""The largest file an upload session takes, and the largest message Exchange Online sends."""

_slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def mailbox_slots(
    base_url: str, mailbox: str, limit: int = MAX_IN_FLIGHT
) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding requests in flight to one mailbox."""
    key = (base_url.rstrip("/").lower(), mailbox.lower())
    with _slots_lock:
        if key not in _slots:
            _slots[key] = threading.BoundedSemaphore(limit)
        return _slots[key]


@dataclass(frozen=True)
class GraphSettings:
    """The app registration and mailbox. The secret never appears in ``repr``."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    sender: str
    authority: str = DEFAULT_AUTHORITY
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_section(cls, section: GraphSection) -> GraphSettings:
        """Check the ``GRAPH_*`` settings.

        Raises:
            ConfigError: naming every missing variable.
        """
        given = {
            "GRAPH_TENANT_ID": (section.tenant_id or "").strip(),
            "GRAPH_CLIENT_ID": (section.client_id or "").strip(),
            "GRAPH_CLIENT_SECRET": (
                section.client_secret.get_secret_value() if section.client_secret else ""
            ),
            "GRAPH_SENDER": (section.sender or "").strip(),
        }
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ConfigError(
                "not set; the graph transport needs an app registration with Mail.Send "
                "and the mailbox to send from",
                field=", ".join(missing),
            )
        return cls(
            tenant_id=given["GRAPH_TENANT_ID"],
            client_id=given["GRAPH_CLIENT_ID"],
            client_secret=given["GRAPH_CLIENT_SECRET"],
            sender=given["GRAPH_SENDER"],
            authority=(section.authority or DEFAULT_AUTHORITY).rstrip("/"),
            base_url=(section.base_url or DEFAULT_BASE_URL).rstrip("/"),
        )

    @property
    def authority_url(self) -> str:
        """``GRAPH_AUTHORITY`` plus the tenant, unless it already names one."""
        if urlparse(self.authority).path.strip("/"):
            return self.authority
        return f"{self.authority}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """App-only scope of the Graph instance: ``{base_url}/.default``."""
        return f"{self.base_url}/.default"


class GraphError(DeliveryError):
    """Graph answered with an error status (after any retries)."""

    def __init__(self, method: str, url: str, response: requests.Response):
        self.status = response.status_code
        code = message = ""
        try:
            error = response.json().get("error", {})
            code, message = error.get("code", ""), error.get("message", "")
        except ValueError:
            message = response.text[:200]
        path = urlparse(url).path  # never the query: upload URLs carry a token there
        super().__init__(f"Graph {method} {path}: {self.status} {code} {message}".strip())


def retry_after(value: str | None, attempt: int, *, cap: float = 120.0) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date).

    Without one, back off exponentially from 1 s. Never negative, never above ``cap``.
    """
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = 2.0**attempt
    else:
        seconds = 2.0**attempt
    return max(0.0, min(cap, seconds))


class GraphTransport:
    """Sends through Microsoft Graph as ``GraphSettings.sender``."""

    name = "graph"

    def __init__(
        self,
        settings: GraphSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        timeout: float = 120.0,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.settings = settings
        self._session = session or requests.Session()
        self._sleep = sleep
        self.max_retries = max_retries
        self.timeout = timeout
        self._slots = mailbox_slots(settings.base_url, settings.sender, max_in_flight)
        self._app: msal.ConfidentialClientApplication | None = None
        self._token_lock = threading.Lock()

    @classmethod
    def check_settings(cls, settings: Settings) -> None:
        """Refuse missing ``GRAPH_*`` settings before a run starts (ConfigError)."""
        GraphSettings.from_section(settings.graph)

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphTransport:
        """Configured from the ``graph`` section."""
        return cls(GraphSettings.from_section(settings.graph))

    # --- plumbing ----------------------------------------------------------------------

    @property
    def _mailbox_url(self) -> str:
        return f"{self.settings.base_url}/v1.0/users/{quote(self.settings.sender, safe='@')}"

    def _token(self) -> str:
        # One lock: the first messages of a parallel run would otherwise each fetch a token.
        with self._token_lock:
            try:
                if self._app is None:
                    self._app = msal.ConfidentialClientApplication(
                        self.settings.client_id,
                        client_credential=self.settings.client_secret,
                        authority=self.settings.authority_url,
                        instance_discovery=False,
                        timeout=self.timeout,
                    )
                result = self._app.acquire_token_for_client(scopes=[self.settings.scope])
            except (ValueError, requests.RequestException) as err:
                raise DeliveryError(
                    f"cannot reach the Graph authority {self.settings.authority_url}: {err}"
                ) from None
        if "access_token" not in result:
            description = (result.get("error_description") or "").splitlines()[:1]
            raise DeliveryError(
                f"Graph token refused: {result.get('error')}: {' '.join(description)} "
                "(check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET)"
            )
        return result["access_token"]

    def _forget_token(self) -> None:
        with self._token_lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        expected: tuple[int, ...] = (200, 201, 202, 204),
    ) -> requests.Response:
        attempt = 0
        refreshed = False
        while True:
            sent_headers = dict(headers or {})
            if auth:
                sent_headers["Authorization"] = f"Bearer {self._token()}"
            with self._slots:
                response = self._session.request(
                    method,
                    url,
                    json=json_body,
                    data=data,
                    params=params,
                    headers=sent_headers,
                    timeout=self.timeout,
                )
            status = response.status_code
            if status in (429, 503) and attempt < self.max_retries:
                delay = retry_after(response.headers.get("Retry-After"), attempt)
                attempt += 1
                logger.info(
                    "Graph %s answered %d; retrying in %.1f s", urlparse(url).path, status, delay
                )
                response.close()
                self._sleep(delay)  # outside the semaphore: a waiting request holds no slot
                continue
            if status == 401 and auth and not refreshed:
                refreshed = True
                self._forget_token()
                continue
            if status not in expected:
                raise GraphError(method, url, response)
            return response

    def probe(self) -> None:
        """Get a token and read the sender's Sent Items (one message id, at most).

        What a send and its crash check need: the app registration is accepted, and the
        mailbox exists and is readable by the app. Nothing is sent.

        Raises:
            DeliveryError: the token was refused or the authority unreachable.
            GraphError: Graph refused (404: no such mailbox; 403: not allowed).
        """
        self._request(
            "GET",
            f"{self._mailbox_url}/mailFolders/sentitems/messages",
            params={"$top": "1", "$select": "id"},
            expected=(200,),
        )

    # --- the transport -----------------------------------------------------------------

    def size_limits(self) -> SizeLimits:
        """The body in one request (4 MB); any file, and the message, up to 150 MB."""
        return SizeLimits(message=UPLOAD_MAX_BYTES, body=REQUEST_MAX_BYTES, part=UPLOAD_MAX_BYTES)

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        """Send ``msg`` from the configured mailbox; return its internetMessageId.

        Raises:
            DeliveryError: Graph refused the message (nothing was sent).
            UncertainDelivery: the final request failed in a way that may have sent it.
        """
        parts = message_parts(msg)
        message: dict[str, Any] = {
            "subject": parts.subject,
            "body": {"contentType": "HTML", "content": parts.html},
            "toRecipients": [{"emailAddress": {"address": a}} for a in parts.recipients],
            "internetMessageId": parts.message_id,
            "internetMessageHeaders": [
                {"name": h, "value": str(msg[h])}
                for h in (HEADER_REPORT, HEADER_AS_OF, HEADER_TARGET)
                if msg[h]
            ],
        }
        files = [(p, True) for p in parts.inline] + [(p, False) for p in parts.attachments]
        encoded = sum(4 * ((len(p.data) + 2) // 3) for p, _ in files) + len(parts.html.encode())
        if all(len(p.data) <= LARGE_ATTACHMENT for p, _ in files) and encoded <= SENDMAIL_MAX_BYTES:
            message["attachments"] = [_file_attachment(p, inline) for p, inline in files]
            self._final(
                "POST",
                f"{self._mailbox_url}/sendMail",
                json_body={"message": message, "saveToSentItems": True},
            )
        else:
            self._send_draft(message, files)
        return parts.message_id

    def _final(self, method: str, url: str, **kwargs: Any) -> None:
        # The request that sends: a lost reply or a server error here may hide a success.
        try:
            self._request(method, url, expected=(202,), **kwargs)
        except requests.RequestException as err:
            raise UncertainDelivery(f"Graph {urlparse(url).path}: {type(err).__name__}") from None
        except GraphError as err:
            if err.status >= 500:
                raise UncertainDelivery(str(err)) from None
            raise

    def _send_draft(self, message: dict[str, Any], files: list[tuple[Part, bool]]) -> None:
        draft = self._request(
            "POST", f"{self._mailbox_url}/messages", json_body=message, expected=(201,)
        ).json()
        message_url = f"{self._mailbox_url}/messages/{quote(draft['id'], safe='')}"
        try:
            for part, inline in files:
                if len(part.data) > LARGE_ATTACHMENT:
                    self._upload(message_url, part, inline)
                else:
                    self._request(
                        "POST",
                        f"{message_url}/attachments",
                        json_body=_file_attachment(part, inline),
                        expected=(201,),
                    )
        except BaseException:
            self._discard(message_url)
            raise
        self._final("POST", f"{message_url}/send")

    def _upload(self, message_url: str, part: Part, inline: bool) -> None:
        size = len(part.data)
        item: dict[str, Any] = {
            "attachmentType": "file",
            "name": part.filename,
            "size": size,
            "contentType": part.content_type,
            "isInline": inline,
        }
        if inline and part.content_id:
            item["contentId"] = part.content_id
        upload = self._request(
            "POST",
            f"{message_url}/attachments/createUploadSession",
            json_body={"AttachmentItem": item},
            expected=(200, 201),
        ).json()
        url = upload["uploadUrl"]
        start = 0
        while start < size:
            end = min(start + CHUNK, size) - 1
            # The upload URL is pre-authorised; Graph refuses a bearer token on it.
            response = self._request(
                "PUT",
                url,
                data=part.data[start : end + 1],
                auth=False,
                expected=(200, 201),
                headers={
                    "Content-Range": f"bytes {start}-{end}/{size}",
                    "Content-Type": "application/octet-stream",
                },
            )
            if response.status_code == 201:
                return
            ranges = (response.json() or {}).get("nextExpectedRanges") or [f"{end + 1}-"]
            start = int(str(ranges[0]).split("-")[0])
        raise DeliveryError(f"Graph upload of {part.filename} ended without completing")

    def _discard(self, message_url: str) -> None:
        try:
            self._request("DELETE", message_url, expected=(204, 404))
        except Exception as err:  # a stray draft is untidy, not harmful: it is never sent
            logger.warning("could not delete Graph draft: %s", type(err).__name__)

    def was_accepted(self, pending_id: str) -> bool | None:
        """Whether Sent Items holds a message with this internetMessageId."""
        escaped = pending_id.replace("'", "''")
        response = self._request(
            "GET",
            f"{self._mailbox_url}/mailFolders/sentitems/messages",
            params={"$filter": f"internetMessageId eq '{escaped}'", "$select": "id", "$top": "1"},
            expected=(200,),
        )
        return bool(response.json().get("value"))

    def close(self) -> None:
        """Close pooled connections; the token stays cached for a later send."""
        self._session.close()


def _file_attachment(part: Part, inline: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": part.filename,
        "contentType": part.content_type,
        "contentBytes": base64.b64encode(part.data).decode("ascii"),
        "isInline": inline,
    }
    if inline and part.content_id:
        item["contentId"] = part.content_id
    return item
