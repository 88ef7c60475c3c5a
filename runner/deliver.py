"""Delivery: a registry of transports, and a ledger that makes each message go out once.

Transports are registered by name (``outbox``, ``smtp``, ``graph``) with
:func:`register_builtin_transports`, called by the entry point; :func:`make_transport`
builds one from the environment. A transport has a ``name`` and
``send(msg, env) -> delivery id``; optionally ``pending_id(msg, env)`` (what to record
before sending), ``was_accepted(pending_id) -> bool | None`` and ``close()``.

Exactly once. The ledger (``admin.state.Delivery``) has one row per report, as_of,
target and recipient. :func:`deliver` writes ``sending`` *before* calling the transport
and ``sent`` only after the transport accepted the message, so a crash in between leaves
a ``sending`` row. A rerun resolves such a row (and an ``uncertain`` one) by asking the
transport:

- outbox: the ``.eml`` file is written atomically, so it exists exactly when it was
  delivered: exists → recorded as sent and skipped; missing → written again.
- graph: the Sent Items folder is searched for the recorded internetMessageId: found →
  sent and skipped; not found → sent again.
- smtp: a mail server cannot be asked. The row is sent again, with the same Message-ID.
  A crash after the server's ``250`` and before the ledger's commit (one SQLite commit,
  milliseconds) is therefore the one window that can duplicate a message, and servers
  that drop duplicate Message-IDs (Exchange Online, Gmail) absorb even that. The other
  choice, never resending, would turn every crash during the SMTP conversation (a far
  wider window) into a lost report.

``resend=True`` ignores the ledger and sends with a new Message-ID. Test sends
(``Envelope.test``) never touch the ledger: a ``--test-to`` address may well be on a
real list, and a test must not suppress the real send.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from admin.state import Delivery, engine_from_env, outputs_dir, upgrade
from lib.errors import DeliveryError, TargetError
from lib.registry import Registry
from runner.mail import Envelope, build_message, message_recipients

logger = logging.getLogger(__name__)

SENDING, SENT, FAILED, UNCERTAIN = "sending", "sent", "failed", "uncertain"


@runtime_checkable
class Transport(Protocol):
    """Hands a built message to something that delivers it."""

    name: str

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        """Deliver ``msg``; return the delivery id (file path, SMTP queue id, Graph id)."""
        ...


class TransportFactory(Protocol):
    """What the registry holds: a transport class that can configure itself."""

    def from_env(self) -> Transport: ...


TRANSPORTS: Registry[Any] = Registry("transport")


def register_builtin_transports(registry: Registry[Any] = TRANSPORTS) -> None:
    """Register ``outbox``, ``smtp`` and ``graph``; call once at the entry point.

    The SMTP and Graph modules are imported here, not at import time of this module, so a
    run that writes to the outbox never loads msal.
    """
    from runner.graph import GraphTransport
    from runner.smtp import SMTPTransport

    registry.register("outbox", OutboxTransport)
    registry.register("smtp", SMTPTransport)
    registry.register("graph", GraphTransport)


def make_transport(name: str, registry: Registry[Any] = TRANSPORTS) -> Transport:
    """The transport registered as ``name``, configured from the environment.

    Raises:
        UnknownNameError: no such transport (listing the known ones).
        ConfigError: its settings are missing or invalid (naming the variable).
    """
    return registry.get(name).from_env()


class UncertainDelivery(DeliveryError):
    """The connection broke while the message was being handed over: it may have arrived."""


class PartiallyRefused(DeliveryError):
    """The transport accepted the message for some recipients and refused the others."""

    def __init__(self, delivery_id: str, refused: Mapping[str, str]):
        self.delivery_id = delivery_id
        self.refused = dict(refused)
        super().__init__(f"refused {len(self.refused)} recipient(s): {', '.join(self.refused)}")


class OutboxTransport:
    """``.eml`` files in ``<outputs>/outbox/``, openable by any mail client.

    The name is ``<report>_<as_of>_<target>[_test]_<hash>.eml``, the hash over the
    recipients, so each recipient list of each target has one file and a rerun overwrites
    rather than piles up.
    """

    name = "outbox"

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else outputs_dir() / "outbox"

    @classmethod
    def from_env(cls) -> OutboxTransport:
        """The outbox under ``BROADSHEET_OUTPUTS``."""
        return cls()

    def path_for(self, msg: EmailMessage, env: Envelope) -> Path:
        """Where ``msg`` is (or will be) written."""
        recipients = ",".join(sorted(r.lower() for r in message_recipients(msg)))
        digest = hashlib.sha256(recipients.encode("utf-8")).hexdigest()[:10]
        parts = [env.report, env.as_of.isoformat(), env.target_id] + (["test"] if env.test else [])
        stem = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in parts)
        return self.directory / f"{stem}_{digest}.eml"

    def pending_id(self, msg: EmailMessage, env: Envelope) -> str:
        return str(self.path_for(msg, env))

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        path = self.path_for(msg, env)
        _write_durably(path, msg.as_bytes(policy=policy.SMTP))
        return str(path)

    def was_accepted(self, pending_id: str) -> bool:
        return Path(pending_id).is_file()

    def close(self) -> None:
        """Nothing to release."""


def _write_durably(path: Path, data: bytes) -> None:
    # Atomic and fsynced: the file's existence is the ledger's evidence after a crash, so
    # it must never exist half-written, even after a power cut.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ledger_key(recipient: str) -> str:
    """Recipients are compared case-insensitively, as every real mail system does."""
    return recipient.strip().lower()


@dataclass(frozen=True)
class Mark:
    """One ledger update: a status for some recipients of one target."""

    status: str
    transport: str
    message_id: str | None = None
    internet_message_id: str | None = None
    error: str | None = None


class Ledger:
    """The delivery ledger in the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_env(cls, url: str | None = None) -> Ledger:
        """The ledger of ``url`` (default the environment's), migrated to the latest schema."""
        return cls(upgrade(engine_from_env(url)))

    def rows(self, report: str, as_of: date, target: str) -> dict[str, Delivery]:
        """The rows of one target, by (normalised) recipient."""
        with self._sessions() as session:
            found = session.scalars(
                select(Delivery).where(
                    Delivery.report == report, Delivery.as_of == as_of, Delivery.target == target
                )
            )
            return {row.recipient: row for row in found}

    def history(self, report: str, as_of: date | None = None) -> list[Delivery]:
        """Every row of a report (and as_of), for run summaries and the admin."""
        query = select(Delivery).where(Delivery.report == report)
        if as_of is not None:
            query = query.where(Delivery.as_of == as_of)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Delivery.id)))

    def mark(
        self, report: str, as_of: date, target: str, recipients: Iterable[str], mark: Mark
    ) -> None:
        """Record ``mark`` for each recipient, inserting or updating, in one transaction."""
        keys = [ledger_key(r) for r in recipients]
        for attempt in (1, 2):
            try:
                with self._sessions.begin() as session:
                    self._upsert(session, report, as_of, target, keys, mark)
                return
            except IntegrityError:
                # Another process inserted the same key between our select and insert
                # (only possible without the run lock); the second pass updates it.
                if attempt == 2:
                    raise

    @staticmethod
    def _upsert(
        session: Session, report: str, as_of: date, target: str, keys: list[str], mark: Mark
    ) -> None:
        now = datetime.now(UTC)
        existing = {
            row.recipient: row
            for row in session.scalars(
                select(Delivery).where(
                    Delivery.report == report,
                    Delivery.as_of == as_of,
                    Delivery.target == target,
                    Delivery.recipient.in_(keys),
                )
            )
        }
        for key in keys:
            row = existing.get(key)
            if row is None:
                row = Delivery(report=report, as_of=as_of, target=target, recipient=key)
                session.add(row)
            row.transport = mark.transport
            row.status = mark.status
            row.updated_at = now
            row.error = mark.error
            if mark.message_id is not None:
                row.message_id = mark.message_id
            if mark.internet_message_id is not None:
                row.internet_message_id = mark.internet_message_id
            if mark.status == SENT:
                row.sent_at = now


def deliver(
    envelopes: Sequence[Envelope],
    transport: Transport,
    *,
    ledger: Ledger,
    resend: bool = False,
    workers: int = 1,
) -> list[dict]:
    """Send each envelope once, recording every recipient in the ledger.

    Args:
        envelopes: one per target (and recipient list).
        transport: from :func:`make_transport`; closed when done.
        ledger: the delivery ledger.
        resend: send even what the ledger records as sent (``--resend``).
        workers: envelopes sent concurrently (Graph limits itself to 4 requests in
            flight per mailbox whatever this is).

    Returns:
        One dict per envelope and recipient, in envelope order: ``target``,
        ``recipient``, ``status`` (``sent``, ``skipped-already-sent`` or ``failed``),
        ``id`` (the delivery id), ``error`` (None unless failed) and ``transport``. A
        failing message never stops the others; only a ledger failure does, since
        sending without a record would break the exactly-once promise.
    """

    def one(env: Envelope) -> list[dict]:
        return _deliver_one(env, transport, ledger, resend)

    try:
        if workers > 1 and len(envelopes) > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver") as pool:
                per_envelope = list(pool.map(one, envelopes))
        else:
            per_envelope = [one(env) for env in envelopes]
    finally:
        _close(transport)
    results = [row for rows in per_envelope for row in rows]
    counts: dict[str, int] = {}
    for row in results:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    logger.info("delivery via %s: %s", transport.name, counts or "nothing to send")
    return results


def _deliver_one(env: Envelope, transport: Transport, ledger: Ledger, resend: bool) -> list[dict]:
    def result(recipient: str, status: str, id_: str | None = None, error: str | None = None):
        return {
            "target": env.target_id,
            "recipient": recipient,
            "status": status,
            "id": id_,
            "error": error,
            "transport": transport.name,
        }

    recipients = list(dict.fromkeys(env.recipients))
    if not recipients:
        logger.warning("%s %s: no valid recipient; nothing sent", env.report, env.target_id)
        return []
    if env.test:
        return _send(env, recipients, transport, None, None, result)

    rows = ledger.rows(env.report, env.as_of, env.target_id)
    done: dict[str, dict] = {}
    pending: list[str] = []
    verdicts: dict[str, bool | None] = {}
    for recipient in recipients:
        row = rows.get(ledger_key(recipient))
        if row is None or row.status == FAILED or resend:
            pending.append(recipient)
        elif row.status == SENT:
            done[recipient] = result(recipient, "skipped-already-sent", row.message_id)
        else:  # SENDING or UNCERTAIN: an earlier run stopped mid-handover.
            verdict = _was_accepted(transport, row, verdicts)
            if verdict:
                ledger.mark(
                    env.report,
                    env.as_of,
                    env.target_id,
                    [recipient],
                    Mark(SENT, row.transport, row.message_id),
                )
                logger.info(
                    "%s %s: found delivered by an interrupted run (%s)",
                    env.report,
                    env.target_id,
                    row.message_id,
                )
                done[recipient] = result(recipient, "skipped-already-sent", row.message_id)
            else:
                pending.append(recipient)

    sent: dict[str, dict] = {}
    if pending:
        # A retry keeps the Message-ID it was first sent with (see the module docstring);
        # an explicit resend is a new message.
        previous = {
            rows[k].internet_message_id
            for k in (ledger_key(r) for r in pending)
            if k in rows and rows[k].status != SENT and rows[k].internet_message_id
        }
        message_id = previous.pop() if len(previous) == 1 and not resend else None
        for row in _send(env, pending, transport, ledger, message_id, result):
            sent[row["recipient"]] = row
    return [done.get(r) or sent[r] for r in recipients]


def _was_accepted(
    transport: Transport, row: Delivery, cache: dict[str, bool | None]
) -> bool | None:
    check: Callable[[str], bool | None] | None = getattr(transport, "was_accepted", None)
    if check is None or row.transport != transport.name or not row.message_id:
        return None
    if row.message_id not in cache:
        try:
            cache[row.message_id] = check(row.message_id)
        except Exception as err:  # an unanswerable question is "unknown", not a crash
            logger.warning("could not check %s: %s", row.message_id, safe_error(err))
            cache[row.message_id] = None
    return cache[row.message_id]


def _send(
    env: Envelope,
    recipients: list[str],
    transport: Transport,
    ledger: Ledger | None,
    message_id: str | None,
    result: Callable[..., dict],
) -> list[dict]:
    """Build, mark ``sending``, send, mark the outcome; ``ledger`` None for test sends."""
    key = (env.report, env.as_of, env.target_id)

    def record(who: list[str], mark: Mark) -> None:
        if ledger is not None and who:
            ledger.mark(*key, who, mark)

    try:
        msg = build_message(_with_recipients(env, recipients), message_id=message_id)
    except Exception as err:
        error = safe_error(err)
        record(recipients, Mark(FAILED, transport.name, error=error))
        logger.error("%s %s: message not built: %s", env.report, env.target_id, error)
        return [result(r, "failed", None, error) for r in recipients]

    mid = str(msg["Message-ID"])
    pending_id = getattr(transport, "pending_id", None)
    planned = pending_id(msg, env) if pending_id else mid
    record(recipients, Mark(SENDING, transport.name, planned, mid))
    try:
        delivery_id = transport.send(msg, env)
    except PartiallyRefused as err:
        refused = {ledger_key(r): why for r, why in err.refused.items()}
        ok = [r for r in recipients if ledger_key(r) not in refused]
        bad = [r for r in recipients if ledger_key(r) in refused]
        record(ok, Mark(SENT, transport.name, err.delivery_id, mid))
        rows = [result(r, "sent", err.delivery_id) for r in ok]
        for r in bad:
            why = safe_error(refused[ledger_key(r)])
            record([r], Mark(FAILED, transport.name, error=why))
            rows.append(result(r, "failed", None, why))
        logger.warning("%s %s: %s", env.report, env.target_id, err)
        return sorted(rows, key=lambda row: recipients.index(row["recipient"]))
    except UncertainDelivery as err:
        error = f"uncertain: {safe_error(err)}"
        record(recipients, Mark(UNCERTAIN, transport.name, error=error))
        logger.error("%s %s: %s", env.report, env.target_id, error)
        return [result(r, "failed", None, error) for r in recipients]
    except Exception as err:
        error = safe_error(err)
        record(recipients, Mark(FAILED, transport.name, error=error))
        logger.error("%s %s: delivery failed: %s", env.report, env.target_id, error)
        return [result(r, "failed", None, error) for r in recipients]
    record(recipients, Mark(SENT, transport.name, delivery_id, mid))
    logger.info(
        "%s %s: sent to %d recipient(s) via %s (%s)",
        env.report,
        env.target_id,
        len(recipients),
        transport.name,
        delivery_id,
    )
    return [result(r, "sent", delivery_id) for r in recipients]


def _with_recipients(env: Envelope, recipients: list[str]) -> Envelope:
    return replace(env, recipients=tuple(recipients))


def _close(transport: Transport) -> None:
    close = getattr(transport, "close", None)
    if close is not None:
        try:
            close()
        except Exception as err:  # closing is tidying up; the deliveries are recorded
            logger.warning("closing %s: %s", transport.name, safe_error(err))


_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]+)\?[^\s'\"]*")


def safe_error(err: BaseException | str) -> str:
    """A one-line error for logs, the ledger and ``run.json``.

    Query strings are cut from URLs (Graph upload URLs carry a bearer token there), and
    the text is capped, so no credential or megabyte of server reply is ever recorded.
    """
    text = err if isinstance(err, str) else (str(err) or type(err).__name__)
    if isinstance(err, BaseException) and not isinstance(err, DeliveryError):
        text = f"{type(err).__name__}: {text}"
    text = _URL_QUERY.sub(r"\1?…", " ".join(text.split()))
    return text if len(text) <= 500 else text[:499] + "…"


# --- the failure alert -------------------------------------------------------------------


def delivery_failures(results: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Failed rows of :func:`deliver`, as items for :func:`send_alert`."""
    return [
        {"target": r["target"], "error": f"delivery to {r['recipient']} failed: {r['error']}"}
        for r in results
        if r.get("status") == "failed"
    ]


def _alert_item(failure: TargetError | Mapping[str, Any]) -> dict:
    if isinstance(failure, TargetError):
        error = f"{failure.ename}: {failure.evalue}" if failure.ename else failure.message
        return {"target": failure.target, "name": None, "cell": failure.cell, "error": error}
    error = failure.get("error") or failure.get("message")
    if not error and failure.get("ename"):
        error = f"{failure['ename']}: {failure.get('evalue', '')}"
    return {
        "target": str(failure.get("target", "?")),
        "name": failure.get("name") or failure.get("target_name"),
        "cell": failure.get("cell"),
        "error": str(error or "unknown error"),
    }


def _alert_line(item: dict) -> str:
    name = f" ({item['name']})" if item["name"] else ""
    cell = f", cell {item['cell']}" if item["cell"] is not None else ""
    return f"- {item['target']}{name}{cell}: {item['error']}"


def send_alert(
    failures: Iterable[TargetError | Mapping[str, Any]],
    *,
    report: str,
    as_of: date,
    admins: Iterable[str | None],
    transport: Transport,
    sender: str,
    run_dir: Path | None = None,
) -> list[dict]:
    """Send one alert to the admin list naming every failed target, its cell and error.

    The alert is written as ``alert.html`` and ``alert.txt`` into ``run_dir`` (kept with
    the run; a temporary directory if None) and sent like any message, but outside the
    ledger: each failing run alerts. It never raises; a failure to alert is logged and
    returned, since the run's exit status already reports the failures.

    Args:
        failures: ``TargetError``s, or mappings with ``target`` and ``error`` (or
            ``ename``/``evalue``) and optionally ``name`` and ``cell``; see
            :func:`delivery_failures`.
        report: the report's name.
        as_of: the run's as-of date.
        admins: the admin list (invalid addresses are skipped).
        transport: the run's transport.
        sender: the From address.
        run_dir: ``outputs/<report>/<as_of>/``.

    Returns:
        Result rows as :func:`deliver` returns them (target ``_alert``); empty when there
        was nothing to report or nobody to tell.
    """
    from runner.recipients import valid_addresses

    items = [_alert_item(f) for f in failures]
    if not items:
        return []
    recipients, skipped = valid_addresses(admins)
    for item in skipped:
        logger.warning("alert: skipping admin address %r: %s", item["address"], item["reason"])
    if not recipients:
        logger.error(
            "%s %s: %d failure(s) but no admin address to alert", report, as_of, len(items)
        )
        return []

    targets = sorted({i["target"] for i in items})
    subject = f"Broadsheet: {report} {as_of.isoformat()}: {len(targets)} target(s) failed"
    text_lines = [subject, ""] + [_alert_line(i) for i in items]
    rows_html = "".join(
        "<tr>"
        + "".join(
            f"<td style='padding:4px 8px;border:1px solid #ccc'>{html.escape(str(v))}</td>"
            for v in (
                i["target"],
                i["name"] or "",
                "" if i["cell"] is None else i["cell"],
                i["error"],
            )
        )
        + "</tr>"
        for i in items
    )
    body = (
        f"<html><body><p>{html.escape(subject)}</p>"
        "<table style='border-collapse:collapse'><tr><th>target</th><th>name</th>"
        f"<th>cell</th><th>error</th></tr>{rows_html}</table></body></html>"
    )
    directory = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="alert-"))
    _write_durably(directory / "alert.html", body.encode("utf-8"))
    _write_durably(directory / "alert.txt", ("\n".join(text_lines) + "\n").encode("utf-8"))
    env = Envelope(
        report=report,
        as_of=as_of,
        target_id="_alert",
        target_name="failure alert",
        subject=subject,
        recipients=tuple(recipients),
        sender=sender,
        html=directory / "alert.html",
        text=directory / "alert.txt",
        attachments=(),
    )

    def result(recipient: str, status: str, id_: str | None = None, error: str | None = None):
        return {
            "target": "_alert",
            "recipient": recipient,
            "status": status,
            "id": id_,
            "error": error,
            "transport": transport.name,
        }

    try:
        return _send(env, list(recipients), transport, None, None, result)
    finally:
        _close(transport)
