"""Sending: a registry of transports, and a ledger that makes each message go out once.

Transports are registered by name (``outbox``, ``smtp``, ``graph``) with
:func:`register_builtin_transports`, called by the entry point; :func:`make_transport`
builds one from the environment. A transport has a ``name`` and
``send(msg, env) -> delivery id``; optionally ``pending_id(msg, env)`` (what to record
before sending), ``was_accepted(pending_id) -> bool | None`` and ``close()``.

Exactly once. Runs of the same report deliver one at a time (:meth:`Ledger.delivering`:
an advisory lock on PostgreSQL, a file lock beside a SQLite database), so a runner that
overlaps another waits, then finds its messages sent. The ledger (``runner.state.database.Delivery``) has one row per report, as_of,
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

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Protocol

from lib.registry import Registry
from lib.settings import Settings
from runner.delivery.ledger import FAILED, SENT, Ledger, Mark, ledger_key
from runner.delivery.message import Envelope
from runner.delivery.transport import close_transport, hand_over, safe_error
from runner.delivery.transports.base import Transport
from runner.delivery.transports.outbox import OutboxTransport
from runner.state.models import Delivery

logger = logging.getLogger(__name__)


class TransportFactory(Protocol):
    """What the registry holds: a transport class that can configure itself."""

    def from_env(self) -> Transport: ...


TRANSPORTS: Registry[Any] = Registry("transport")


def register_builtin_transports(registry: Registry[Any] = TRANSPORTS) -> None:
    """Register ``outbox``, ``smtp`` and ``graph``; call once at the entry point.

    The SMTP and Graph modules are imported here, not at import time of this module, so a
    run that writes to the outbox never loads msal.
    """
    from runner.delivery.transports.graph import GraphTransport
    from runner.delivery.transports.smtp import SMTPTransport

    registry.register("outbox", OutboxTransport)
    registry.register("smtp", SMTPTransport)
    registry.register("graph", GraphTransport)


def make_transport(
    name: str, settings: Settings, registry: Registry[Any] = TRANSPORTS
) -> Transport:
    """The transport registered as ``name``, configured from ``settings``.

    Raises:
        UnknownNameError: no such transport (listing the known ones).
        ConfigError: its settings are missing or invalid (naming the variable).
    """
    return registry.get(name).from_settings(settings)


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

    reports = sorted({env.report for env in envelopes if not env.test})
    try:
        with ExitStack() as locks:
            for report in reports:  # sorted: two runners never wait on each other crosswise
                locks.enter_context(ledger.delivering(report))
            per_envelope = _each(one, envelopes, workers)
    finally:
        close_transport(transport)
    results = [row for rows in per_envelope for row in rows]
    counts: dict[str, int] = {}
    for row in results:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    logger.info("delivery via %s: %s", transport.name, counts or "nothing to send")
    return results


def _each(
    one: Callable[[Envelope], list[dict]], envelopes: Sequence[Envelope], workers: int
) -> list[list[dict]]:
    if workers > 1 and len(envelopes) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver") as pool:
            return list(pool.map(one, envelopes))
    return [one(env) for env in envelopes]


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
        return hand_over(env, recipients, transport, None, None, result)

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
        for row in hand_over(env, pending, transport, ledger, message_id, result):
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
