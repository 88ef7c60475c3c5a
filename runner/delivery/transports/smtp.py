"""The ``smtp`` transport: ``smtplib`` with STARTTLS or implicit TLS, and a login.

Settings come from the ``smtp`` section of the settings tree (interfaces.md):

=================  ==========================================================================
``SMTP_HOST``      required
``SMTP_PORT``      default 465 when ``SMTP_STARTTLS=ssl``, else 587
``SMTP_STARTTLS``  ``true`` (default; ``ssl`` when unset and the port is 465): STARTTLS,
                   required; ``ssl``: implicit TLS (SMTPS); ``false``: no TLS, for a
                   local relay only, and then no login
``SMTP_USERNAME``  log in when set, with ``SMTP_PASSWORD``
``MAIL_FROM``      the From address (``runner.delivery.message.default_sender``)
=================  ==========================================================================

Certificates are verified against the system store, or ``SSL_CERT_FILE``. One connection is
kept for all the messages of a run. The SMTP conversation is driven command by command,
not by ``sendmail``, so that a refusal before ``DATA`` is a definite failure, a broken
connection during ``DATA`` is reported as uncertain, and the server's queue id becomes the
delivery id.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from lib.errors import ConfigError, DeliveryError
from lib.settings import Settings, SmtpSection
from runner.delivery.message import (
    Envelope,
    message_recipients,
    needs_smtputf8,
    sender_address,
    wire_bytes,
)
from runner.delivery.transports.base import PartiallyRefused, SizeLimits, UncertainDelivery

logger = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SSL = {"ssl", "tls", "smtps", "implicit"}
_QUEUE_ID = re.compile(rb"queued as ([A-Za-z0-9._@<>-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to connect. The password never appears in ``repr``."""

    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0

    @classmethod
    def from_section(cls, section: SmtpSection) -> SMTPSettings:
        """Check the ``SMTP_*`` settings and turn them into a connection plan.

        Raises:
            ConfigError: naming the variable that is missing or wrong, and how to fix it.
        """
        host = (section.host or "").strip()
        if not host:
            raise ConfigError(
                "not set; the smtp transport needs the mail server's host name", field="SMTP_HOST"
            )
        raw = (section.starttls or "").strip().lower()
        port_raw = (section.port or "").strip()
        security: Security
        if raw in _SSL or (not raw and port_raw == "465"):
            security = "ssl"
        elif raw in _TRUE or not raw:
            security = "starttls"
        elif raw in _FALSE:
            security = "none"
        else:
            raise ConfigError(f"{raw!r} is not one of true, false, ssl", field="SMTP_STARTTLS")
        try:
            port = int(port_raw) if port_raw else (465 if security == "ssl" else 587)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{port_raw!r} is not a port number", field="SMTP_PORT") from None
        username = section.username or None
        password = section.password.get_secret_value() if section.password else None
        if username and password is None:
            raise ConfigError(
                "SMTP_USERNAME is set but SMTP_PASSWORD is not", field="SMTP_PASSWORD"
            )
        if username and security == "none":
            raise ConfigError(
                "refusing to send the password unencrypted; set SMTP_STARTTLS=true or ssl",
                field="SMTP_STARTTLS",
            )
        return cls(host=host, port=port, security=security, username=username, password=password)


class SMTPTransport:
    """Sends each message over one reused SMTP connection (thread-safe, one at a time)."""

    name = "smtp"

    def __init__(self, settings: SMTPSettings, *, context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._context = context
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @classmethod
    def check_settings(cls, settings: Settings) -> None:
        """Refuse missing or wrong ``SMTP_*`` settings before a run starts (ConfigError)."""
        SMTPSettings.from_section(settings.smtp)

    @classmethod
    def from_settings(cls, settings: Settings) -> SMTPTransport:
        """Configured from the ``smtp`` section."""
        return cls(SMTPSettings.from_section(settings.smtp))

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            # Built lazily so SSL_CERT_FILE set after construction (tests, .env) counts.
            self._context = ssl.create_default_context()
        return self._context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise DeliveryError(
                        f"{s.host}:{s.port} does not offer STARTTLS; "
                        "set SMTP_STARTTLS=ssl (or false for a local relay)"
                    )
                conn.starttls(context=self._tls())
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as err:
            conn.close()
            # The reply is the server's, never our password; keep just its code and text.
            raise DeliveryError(
                f"SMTP login as {s.username} refused ({err.smtp_code}); check SMTP_USERNAME "
                "and SMTP_PASSWORD"
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def probe(self) -> str:
        """Connect, secure and log in as a send would, then say QUIT; nothing is sent.

        Returns:
            What was done, e.g. ``connected to host:587, STARTTLS, logged in as user``.

        Raises:
            DeliveryError: STARTTLS missing or the login refused (naming the variables).
            OSError, smtplib.SMTPException: the server is unreachable or misbehaves.
        """
        s = self.settings
        conn = self._connect()
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()
        steps = [f"connected to {s.host}:{s.port}"]
        steps.append({"ssl": "implicit TLS", "starttls": "STARTTLS", "none": "no TLS"}[s.security])
        steps.append(f"logged in as {s.username}" if s.username else "no login")
        return ", ".join(steps)

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        """Send ``msg``; return the server's queue id (or the Message-ID if it gives none).

        Raises:
            DeliveryError: refused before the message was handed over.
            PartiallyRefused: accepted for some recipients only.
            UncertainDelivery: the connection broke during ``DATA``.
        """
        recipients = message_recipients(msg)
        sender = sender_address(str(msg["From"]))
        data = wire_bytes(msg)
        utf8 = needs_smtputf8(msg)
        with self._lock:
            options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
            conn = self._mail_from(sender, options, recipients)
            refused: dict[str, str] = {}
            for rcpt in recipients:
                code, reply = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = f"{code} {reply.decode('utf-8', 'replace')}"
            if len(refused) == len(recipients):
                conn.rset()
                raise DeliveryError(f"all recipients refused: {'; '.join(refused.values())}")
            try:
                code, reply = conn.data(data)
            except (smtplib.SMTPServerDisconnected, OSError) as err:
                self._drop()
                raise UncertainDelivery(
                    f"connection to {self.settings.host} lost during DATA: {err}"
                ) from None
            if code != 250:
                conn.rset()
                raise DeliveryError(f"message refused: {code} {reply.decode('utf-8', 'replace')}")
        match = _QUEUE_ID.search(reply)
        delivery_id = match.group(1).decode("ascii") if match else str(msg["Message-ID"])
        if refused:
            raise PartiallyRefused(delivery_id, refused)
        return delivery_id

    def size_limits(self) -> SizeLimits:
        """The server's ``SIZE`` from its EHLO reply (RFC 1870; 0 or none: no limit).

        Connects if no connection is open yet; the connection is then kept for sending.
        """
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            advertised = (self._conn.esmtp_features.get("size") or "").strip()
        size = int(advertised) if advertised.isdigit() else 0
        return SizeLimits(message=size or None)

    def _mail_from(
        self, sender: str, options: list[str], recipients: list[str] = ()
    ) -> smtplib.SMTP:
        # A kept connection may have been closed by the server while idle; nothing has been
        # sent yet, so reconnecting once is safe.
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            if options and not self._conn.has_extn("smtputf8"):
                # Refused before anything is sent: a definite failure, with the reason.
                unsendable = [a for a in (sender, *recipients) if not a.isascii()]
                raise DeliveryError(
                    f"{self.settings.host} does not offer SMTPUTF8, which "
                    f"{', '.join(unsendable)} needs (a non-ASCII address); use a mail "
                    "server that offers it, or an ASCII address"
                )
            try:
                code, reply = self._conn.mail(sender, options)
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if attempt == 2:
                    raise
                continue
            if code != 250:
                self._conn.rset()
                raise DeliveryError(
                    f"sender {sender} refused: {code} {reply.decode('utf-8', 'replace')}"
                )
            return self._conn
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()
