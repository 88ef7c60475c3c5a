"""What a transport is, how it fails, and handing one message to it.

:func:`hand_over` builds the message, puts it through the pre-send check
(:mod:`runner.delivery.check`), records ``sending`` in the ledger *before* calling
the transport and the outcome after, the step :func:`runner.delivery.send.deliver` and
:func:`runner.delivery.alert.send_alert` share (the alert with no ledger). :func:`safe_error` is
the one-line, credential-free error recorded everywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace

from lib.errors import DeliveryError
from runner.delivery import check
from runner.delivery.ledger import FAILED, SENDING, SENT, UNCERTAIN, Ledger, Mark, ledger_key
from runner.delivery.message import Envelope, build_message
from runner.delivery.transports.base import PartiallyRefused, Transport, UncertainDelivery

logger = logging.getLogger(__name__)


def hand_over(
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
        refused = check.problems(msg, check.size_limits(transport))
    except Exception as err:
        error = safe_error(err)
        record(recipients, Mark(FAILED, transport.name, error=error))
        logger.error("%s %s: message not built: %s", env.report, env.target_id, error)
        return [result(r, "failed", None, error) for r in recipients]
    if refused:
        # Never handed over: recorded failed (so a rerun tries again once it is fixed).
        error = safe_error("refused by the pre-send check: " + "; ".join(refused))
        record(recipients, Mark(FAILED, transport.name, error=error))
        logger.error("%s %s: %s", env.report, env.target_id, error)
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


def close_transport(transport: Transport) -> None:
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
