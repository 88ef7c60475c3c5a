"""MIME messages built from a target's output directory.

One message per target and recipient list::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain              email.txt (or text derived from the HTML)
    │   └── multipart/related
    │       ├── text/html           email.html, images referenced as src="cid:NAME"
    │       └── image/png ...       NAME, a file next to email.html; Content-ID <NAME>
    └── attachments                 report.html; report.pdf, report.docx (board pack);
                                    pipeline.xlsx, pipeline.csv (retailer and BDM reports)

Text parts are quoted-printable so the message is 7-bit clean for any relay; attachments
are base64 so they arrive byte-identical. Transports take everything they need from the
message itself (:func:`message_parts`), so what is sent is exactly what was built.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote

from email_validator import EmailNotValidError

from lib.errors import DeliveryError
from lib.settings import Settings
from runner.delivery.recipients import wire_address
from runner.render.plaintext import html_to_text

TEST_PREFIX = "[TEST] "

# Headers that let a support person (and the tests) tell which run and target a message is.
HEADER_REPORT = "X-Broadsheet-Report"
HEADER_AS_OF = "X-Broadsheet-As-Of"
HEADER_TARGET = "X-Broadsheet-Target"

# A cid: where an image is named (src=, background=, CSS url()), never in running text: an
# alert that quotes "cid:chart.png" in an error message names no image.
_CID = re.compile(
    r"""(?:\b(?:src|background)\s*=\s*["']?|url\(\s*["']?)\s*cid:([^"'\s()<>]+)""",
    re.IGNORECASE,
)

# The stdlib table misses Office types on machines without /etc/mime.types.
_TYPES = {
    ".csv": "text/csv",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Envelope:
    """Everything needed to mail one target's outputs to one list of recipients.

    Attributes:
        report: the report's name, e.g. ``retailer_weekly``.
        as_of: the run's as-of date.
        target_id: the Salesforce Id of the retailer or BDM, or ``all``.
        target_name: the target's display name.
        subject: the subject, already formatted from the declaration.
        recipients: validated addresses (see ``runner.delivery.recipients.valid_addresses``).
        sender: the From address, e.g. ``Broadsheet <reports@example.com>``.
        html: ``email.html``; images referenced as ``src="cid:NAME"``, NAME a file beside it.
        text: ``email.txt``, the plain-text alternative; None derives one from the HTML.
        attachments: ``report.html``, and the board pack's ``report.pdf`` and
            ``report.docx`` or the pipeline lists (see ``runner.delivery.plan.ATTACHED``).
        test: a ``--test-to`` send: subject prefixed ``[TEST] `` and kept out of the ledger.
    """

    report: str
    as_of: date
    target_id: str
    target_name: str
    subject: str
    recipients: tuple[str, ...]
    sender: str
    html: Path
    text: Path | None
    attachments: tuple[Path, ...]
    test: bool = False

    def for_test(self, address: str) -> Envelope:
        """This envelope redirected to ``address`` only, marked as a test."""
        return replace(self, recipients=(address,), test=True)


@dataclass(frozen=True)
class Part:
    """A binary part of a built message: an inline image or an attachment."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class Parts:
    """A built message taken apart again, for transports that do not speak MIME (Graph)."""

    subject: str
    sender: str
    recipients: list[str]
    message_id: str
    html: str
    text: str | None
    inline: list[Part]
    attachments: list[Part]


def default_sender(settings: Settings, transport: str | None = None) -> str:
    """The From address.

    Graph sends as the mailbox its app registration may use, so ``GRAPH_SENDER`` comes
    first for it; every other transport prefers ``MAIL_FROM``.
    """
    mail_from, graph_sender = settings.smtp.mail_from, settings.graph.sender
    order = (graph_sender, mail_from) if transport == "graph" else (mail_from, graph_sender)
    return next((address for address in order if address), "broadsheet@localhost")


def subject_of(env: Envelope) -> str:
    """The subject as sent: prefixed ``[TEST] `` for test sends (once)."""
    if env.test and not env.subject.startswith(TEST_PREFIX):
        return TEST_PREFIX + env.subject
    return env.subject


def referenced_cids(html: str) -> list[str]:
    """Every ``cid:NAME`` the HTML references, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _CID.finditer(html):
        seen.setdefault(unquote(match.group(1)), None)
    return list(seen)


def content_type(path: Path) -> str:
    """The MIME type of a file by its suffix; ``application/octet-stream`` if unknown."""
    return (
        _TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or ("application/octet-stream")
    )


def attachment_name(env: Envelope, path: Path) -> str:
    """What the reader sees: ``report.html`` becomes ``<report>-<as_of>.html``, and
    ``pipeline.csv`` ``<report>-<as_of>-pipeline.csv``."""
    if path.stem == "report":
        return f"{env.report}-{env.as_of.isoformat()}{path.suffix}"
    return f"{env.report}-{env.as_of.isoformat()}-{path.name}"


def build_message(env: Envelope, *, message_id: str | None = None) -> EmailMessage:
    """Build the message for ``env``.

    Args:
        env: the envelope.
        message_id: reuse this Message-ID (a retry of a message that may have been
            delivered, so receivers that deduplicate by Message-ID can); default a new one.

    Raises:
        DeliveryError: a file is missing, or the HTML references an image that is not
            beside it (naming the file and the ``cid:``).
    """
    html = _read_text(env.html)
    text = _read_text(env.text) if env.text is not None else html_to_text(html)
    images = [_image(env.html, name) for name in referenced_cids(html)]

    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = subject_of(env)
    msg["From"] = _wire_sender(env.sender)
    msg["To"] = ", ".join(env.recipients)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=_domain(env.sender))
    # RFC 3834: a machine wrote this; keeps out-of-office replies away from the sender.
    msg["Auto-Submitted"] = "auto-generated"
    msg[HEADER_REPORT] = env.report
    msg[HEADER_AS_OF] = env.as_of.isoformat()
    msg[HEADER_TARGET] = env.target_id

    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = msg.get_payload()[1]
    for name, ctype, data in images:
        maintype, subtype = ctype.split("/", 1)
        html_part.add_related(
            data, maintype, subtype, cid=f"<{name}>", filename=name, disposition="inline"
        )
    for path in env.attachments:
        maintype, subtype = content_type(path).split("/", 1)
        msg.add_attachment(
            _read_bytes(path), maintype, subtype, filename=attachment_name(env, path)
        )
    return msg


def needs_smtputf8(msg: EmailMessage) -> bool:
    """Whether an address of ``msg`` has a non-ASCII local part (RFC 6531: only a server
    offering SMTPUTF8 may take it, and its headers go as UTF-8, not encoded words)."""
    fields = [str(v) for name in ("From", "To", "Cc") for v in msg.get_all(name) or []]
    return not all(addr.isascii() for _, addr in getaddresses(fields))


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as transmitted: 7-bit SMTP form, or UTF-8 headers when an address needs
    them (an encoded word inside an address is something no server delivers)."""
    return msg.as_bytes(policy=policy.SMTPUTF8 if needs_smtputf8(msg) else policy.SMTP)


def message_recipients(msg: EmailMessage) -> list[str]:
    """The bare addresses of the To and Cc headers."""
    fields = [str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])]
    return [addr for _, addr in getaddresses(fields) if addr]


def message_parts(msg: EmailMessage) -> Parts:
    """Take a message built by :func:`build_message` apart into its body and files."""
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    inline: list[Part] = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart" or part is html_part:
            continue
        cid = part.get("Content-ID")
        if cid and part.get_content_disposition() != "attachment":
            inline.append(
                Part(
                    filename=part.get_filename() or str(cid).strip("<>"),
                    content_type=part.get_content_type(),
                    data=part.get_content(),
                    content_id=str(cid).strip("<>"),
                )
            )
    attachments = [
        Part(
            filename=part.get_filename() or "attachment",
            content_type=part.get_content_type(),
            data=part.get_payload(decode=True),
        )
        for part in msg.iter_attachments()
        if part.get_content_disposition() == "attachment"
    ]
    return Parts(
        subject=str(msg["Subject"] or ""),
        sender=str(msg["From"] or ""),
        recipients=message_recipients(msg),
        message_id=str(msg["Message-ID"] or ""),
        html=html_part.get_content() if html_part is not None else "",
        text=text_part.get_content() if text_part is not None else None,
        inline=inline,
        attachments=attachments,
    )


def sender_address(sender: str) -> str:
    """The bare address of a From value (``Name <a@b>`` → ``a@b``)."""
    addresses = getaddresses([sender])
    return addresses[0][1] if addresses and addresses[0][1] else sender


def _wire_sender(sender: str) -> str:
    # MAIL_FROM may name an internationalised domain: sent in ASCII, like the recipients'.
    name, address = parseaddr(sender)
    try:
        wire = wire_address(address)
    except EmailNotValidError:
        return sender  # not ours to refuse here; the server will say what it thinks
    return formataddr((name, wire)) if name else wire


def _domain(sender: str) -> str:
    address = sender_address(sender)
    try:
        return Address(addr_spec=address).domain or "localhost"
    except (ValueError, IndexError):
        return "localhost"


def _image(html_path: Path, name: str) -> tuple[str, str, bytes]:
    # A cid names a file beside email.html, never a path elsewhere on the disk.
    if Path(name).name != name or name in (".", ".."):
        raise DeliveryError(f"{html_path}: cid:{name} is not a plain file name")
    path = html_path.parent / name
    if not path.is_file():
        raise DeliveryError(f"{html_path}: references cid:{name} but {path} does not exist")
    return name, content_type(path), path.read_bytes()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DeliveryError(f"{path}: cannot read ({err.strerror or err})") from None


def _read_text(path: Path) -> str:
    return _read_bytes(path).decode("utf-8")
