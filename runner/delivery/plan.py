"""Hand a run's rendered outputs to delivery: recipients, envelopes, transport, alert.

The recipient policy of a declaration decides who gets each target's message; invalid or
missing addresses are skipped and reported in ``run.json``, never a crash. Delivery goes
through the ledger, so a rerun never sends twice (``--resend`` overrides).
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.errors import InputError, excerpt
from runner.delivery.alert import delivery_failures, send_alert
from runner.delivery.ledger import Ledger
from runner.delivery.message import Envelope, default_sender
from runner.delivery.recipients import valid_addresses
from runner.delivery.send import TRANSPORTS, deliver, make_transport, register_builtin_transports
from runner.outputs import run_dir

if TYPE_CHECKING:
    from lib.settings import Settings
    from runner.declarations import Declaration
    from runner.spec import RunResult, RunSpec
    from runner.state.view import RunnerView
    from runner.targets import Target

log = logging.getLogger(__name__)

#: The rendered files a message carries as attachments, in this order, when a run wrote them.
ATTACHED = ("report.html", "report.pdf", "report.docx", "pipeline.xlsx", "pipeline.csv")


def recipients_for(decl: Declaration, target: Target, view: RunnerView) -> list[str | None]:
    """The candidate addresses of one target under the declaration's policy.

    ``retailer_contact``: the Salesforce primary contact plus the extras set in admin;
    ``bdm``: the BDM's own address; ``list``: the admin list the declaration names, or the
    declaration's own addresses while that list is unset.
    """
    policy = decl.recipients.policy
    if policy == "retailer_contact":
        return [target.email, *view.extras.get(target.id, ())]
    if policy == "bdm":
        return [target.email]
    admin_list = view.lists.get(decl.recipients.list, ()) if decl.recipients.list else ()
    return list(admin_list or decl.recipients.addresses)


def envelope_for(
    decl: Declaration,
    target: Target,
    result_files: Sequence[str],
    recipients: Sequence[str],
    *,
    as_of: date,
    period: str,
    sender: str,
) -> Envelope:
    """The message of one target, built from the files its render wrote."""
    files = {Path(f).name: Path(f) for f in result_files}
    attachments = tuple(files[n] for n in ATTACHED if n in files)
    return Envelope(
        report=decl.name,
        as_of=as_of,
        target_id=target.id,
        target_name=target.name,
        subject=one_line(
            decl.subject.format(
                title=decl.title, target_name=target.name, as_of=as_of.isoformat(), period=period
            )
        ),
        recipients=tuple(recipients),
        sender=sender,
        html=files["email.html"],
        text=files.get("email.txt"),
        attachments=attachments,
    )


def check_delivery(spec: RunSpec, settings: Settings) -> None:
    """Refuse, before any kernel starts, a run whose delivery could not work.

    Checks the ``--test-to`` address and the transport's configuration (a transport may
    offer ``check_settings(settings)``), so a misconfigured run fails in a second, not
    after every notebook has run.

    Raises:
        InputError: the test address is not one (naming it and why).
        ConfigError: the transport's settings are missing or wrong (naming the variable).
        UnknownNameError: no such transport.
    """
    if spec.test_to is not None:
        valid, skipped = valid_addresses([spec.test_to])
        if not valid:
            raise InputError(f"--test-to {excerpt(spec.test_to)}: {skipped[0]['reason']}")
    if spec.deliver == "none":
        return
    if not TRANSPORTS.names():
        register_builtin_transports()
    check = getattr(TRANSPORTS.get(spec.deliver), "check_settings", None)
    if check is not None:
        check(settings)


def quiet_targets(decl: Declaration, result: RunResult) -> list[dict[str, Any]]:
    """The rendered targets with nothing to report in the declaration's main window.

    Returns:
        ``{"target", "name", "reason"}`` per target to hold back (see
        ``lib.report.no_activity``), in the run's order.
    """
    from lib.report import no_activity

    window = decl.windows[0]
    held = []
    for outcome in result.targets:
        figures = next((Path(f) for f in outcome.files if Path(f).name == "figures.json"), None)
        if outcome.status != "ok" or figures is None:
            continue
        reason = no_activity(json.loads(figures.read_text(encoding="utf-8")), window)
        if reason:
            log.info("%s: not sending %s (%s): %s", decl.name, outcome.id, outcome.name, reason)
            held.append({"target": outcome.id, "name": outcome.name, "reason": reason})
    return held


def one_line(text: str) -> str:
    """``text`` fit for a header: whitespace runs (a newline in a retailer's name) as one
    space and control characters dropped; the email package refuses line breaks."""
    return "".join(c for c in " ".join(text.split()) if unicodedata.category(c) != "Cc")


def deliver_run(
    decl: Declaration,
    spec: RunSpec,
    settings: Settings,
    chosen: Sequence[Target],
    result: RunResult,
    view: RunnerView,
    *,
    period: str,
) -> None:
    """Deliver every successful target's message, then alert the admins of any failure.

    Results land in ``result.deliveries``, ``result.skipped_recipients`` and
    ``result.skipped_targets`` (targets ``send_when: activity`` holds back; recorded even
    when nothing is delivered, never for a test send, which previews whatever it is given).
    """
    as_of = date.fromisoformat(result.as_of)
    failures: list[dict[str, Any]] = [
        {"target": t.id, "name": t.name, **(t.error or {})} for t in result.failed
    ]
    if decl.send_when == "activity" and not spec.test_to:
        result.skipped_targets = quiet_targets(decl, result)
    quiet = {s["target"] for s in result.skipped_targets}
    if spec.deliver == "none":
        return
    if not TRANSPORTS.names():
        register_builtin_transports()
    transport = make_transport(spec.deliver, settings)
    sender = default_sender(settings, spec.deliver)
    by_id = {t.id: t for t in chosen}
    envelopes = []
    for outcome in result.targets:
        if outcome.status != "ok" or "email_html" not in decl.outputs or outcome.id in quiet:
            continue
        target = by_id[outcome.id]
        if spec.test_to:
            valid, skipped = valid_addresses([spec.test_to])
        elif decl.fan_out == "retailer" and target.id in view.opted_out:
            result.skipped_recipients.append(
                {
                    "target": target.id,
                    "name": target.name,
                    "address": None,
                    "reason": "opted out in admin",
                }
            )
            continue
        else:
            valid, skipped = valid_addresses(recipients_for(decl, target, view))
        for s in skipped:
            result.skipped_recipients.append({"target": target.id, "name": target.name, **s})
        if not valid:
            log.warning("%s: no valid recipient for %s (%s)", decl.name, target.id, target.name)
            continue
        env = envelope_for(
            decl, target, outcome.files, valid, as_of=as_of, period=period, sender=sender
        )
        envelopes.append(env.for_test(spec.test_to) if spec.test_to else env)
    ledger = Ledger.open(settings.state_url())
    result.deliveries = deliver(envelopes, transport, ledger=ledger, resend=spec.resend)
    failures += delivery_failures(result.deliveries)
    if failures and not spec.test_to:
        alerts = send_alert(
            failures,
            report=decl.name,
            as_of=as_of,
            admins=view.admins(settings.admin_emails),
            transport=make_transport(spec.deliver, settings),
            sender=sender,
            run_dir=run_dir(settings.outputs, decl.name, result.as_of),
        )
        result.deliveries += alerts
