"""The pre-send check: what every message must pass before any transport sees it.

A message that would be clipped, stripped or refused on the way is better not sent at all
and reported, with the reason, in ``run.json`` and the failure alert:

- the HTML body under 102 KB (Gmail clips a longer one behind "View entire message");
- no ``<script>`` (no mail client runs it, and filters score it as spam);
- no ``data:`` images (Outlook and Gmail drop them) and no remote images (blocked by
  default, and a tracking beacon in the eyes of the reader's mail filter): every image is
  an inline part named by ``cid:``;
- every ``cid:`` the HTML names has its part in the message;
- the whole message within the transport's limits (:class:`SizeLimits`: SMTP's ``SIZE``
  from EHLO; Graph's 4 MB for the request that carries the body, and its upload-session
  maximum for any one file);
- a subject, and at least one recipient, each a valid address.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from email_validator import EmailNotValidError, validate_email

from runner.delivery.message import referenced_cids
from runner.delivery.transports.base import SizeLimits

#: Gmail clips a message whose HTML is larger than this.
MAX_HTML_BYTES = 102 * 1024

_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
# An image source in an attribute (src, background, srcset) or in CSS (url(...)).
_IMAGE_SOURCE = re.compile(
    r"""(?:\b(?:src|background|srcset)\s*=\s*["']?|url\(\s*["']?)\s*(data:|https?:|//)""",
    re.IGNORECASE,
)


NO_LIMITS = SizeLimits()


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / (1024 * 1024):,.1f} MB"


def size_limits(transport: Any) -> SizeLimits:
    """The transport's limits (``size_limits()``), or none for one that states none."""
    offer = getattr(transport, "size_limits", None)
    return offer() if offer is not None else NO_LIMITS


def problems(msg: EmailMessage, limits: SizeLimits = NO_LIMITS) -> list[str]:
    """Everything wrong with ``msg`` (empty when it may be sent).

    Args:
        msg: the built message (``runner.delivery.message.build_message``).
        limits: the transport's size limits.

    Returns:
        One short sentence per problem, in the order of the module docstring.
    """
    found: list[str] = []
    html_part = msg.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else ""
    html_bytes = len(html.encode("utf-8"))
    if html_part is None:
        found.append("the message has no HTML body")
    elif html_bytes >= MAX_HTML_BYTES:
        found.append(
            f"email.html is {_kb(html_bytes)}; it must stay under {_kb(MAX_HTML_BYTES)} "
            "(Gmail clips longer messages)"
        )
    if _SCRIPT.search(html):
        found.append("email.html contains a <script>")
    kinds = {m.group(1).lower() for m in _IMAGE_SOURCE.finditer(html)}
    if "data:" in kinds:
        found.append("email.html has a data: image; images must be inline parts named by cid:")
    if kinds & {"http:", "https:", "//"}:
        found.append("email.html loads a remote image; images must be inline parts named by cid:")
    parts = {
        str(p.get("Content-ID", "")).strip().strip("<>")
        for p in msg.walk()
        if p.get("Content-ID") and p.get_content_disposition() != "attachment"
    }
    missing = [cid for cid in referenced_cids(html) if cid not in parts]
    if missing:
        found.append(f"email.html names cid:{missing[0]} but the message has no such part")
    found += _sizes(msg, html_bytes, limits)
    if not str(msg.get("Subject") or "").strip():
        found.append("the message has no subject")
    found += _recipients(msg)
    return found


def _sizes(msg: EmailMessage, html_bytes: int, limits: SizeLimits) -> list[str]:
    found = []
    if limits.message is not None:
        size = len(msg.as_bytes(policy=policy.SMTP))
        if size > limits.message:
            found.append(
                f"the message is {_kb(size)}, over the transport's limit of {_kb(limits.message)}"
            )
    if limits.body is not None and html_bytes > limits.body:
        found.append(
            f"the HTML body is {_kb(html_bytes)}, over the {_kb(limits.body)} the transport "
            "takes in one request"
        )
    if limits.part is not None:
        for part in msg.walk():
            if part.get_content_maintype() == "multipart" or not part.get_filename():
                continue
            size = len(part.get_payload(decode=True) or b"")
            if size > limits.part:
                found.append(
                    f"{part.get_filename()} is {_kb(size)}, over the transport's limit of "
                    f"{_kb(limits.part)} for one file"
                )
    return found


def _recipients(msg: EmailMessage) -> list[str]:
    fields = [str(v) for name in ("To", "Cc") for v in (msg.get_all(name) or [])]
    pairs = getaddresses(fields)
    if not any(name or addr for name, addr in pairs):
        return ["the message has no recipient"]
    for name, addr in pairs:
        try:
            # The syntax only: which domains a run may send to is the recipient policy's
            # business (runner.delivery.recipients), decided before the message was built.
            validate_email(
                addr, check_deliverability=False, globally_deliverable=False, test_environment=True
            )
        except EmailNotValidError as err:
            return [f"recipient {addr or name!r} is not a valid address: {err}"]
    return []
