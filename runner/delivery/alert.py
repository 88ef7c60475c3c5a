"""The failure alert: one message to the admin list naming every failed target."""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from lib.errors import TargetError
from runner.delivery.message import Envelope
from runner.delivery.transport import close_transport, hand_over
from runner.delivery.transports.base import Transport
from runner.delivery.transports.outbox import write_durably

logger = logging.getLogger(__name__)


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
    from runner.delivery.recipients import valid_addresses

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
    write_durably(directory / "alert.html", body.encode("utf-8"))
    write_durably(directory / "alert.txt", ("\n".join(text_lines) + "\n").encode("utf-8"))
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
        return hand_over(env, list(recipients), transport, None, None, result)
    finally:
        close_transport(transport)
