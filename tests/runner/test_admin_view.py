"""The runner honours the admin dashboard: report toggles, pending and disabled retailers,
opt-outs, extra recipients, the board/SMT lists and the admin alert list."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from admin.state import engine_from_env, upgrade
from admin.store import Store
from runner.recipients import valid_addresses
from tests.fixtures.runner import WORKING_CELLS, make_notebook

pytestmark = pytest.mark.slow


def _store(project) -> Store:
    return Store(upgrade(engine_from_env(project.settings.state_url())))


def _messages(project):
    outbox = project.settings.outputs / "outbox"
    return [
        BytesParser(policy=policy.default).parse(p.open("rb")) for p in sorted(outbox.glob("*.eml"))
    ]


def test_disabled_report_does_not_run_but_can_be_test_sent(project, demo_snapshot_dir):
    project.add("tiny", make_notebook(WORKING_CELLS))
    _store(project).set_toggle("tiny", False)
    proc = project.invoke(
        "run", "tiny", "--as-of", "2026-11-22", "--source", str(demo_snapshot_dir)
    )
    assert proc.returncode == 0 and "disabled" in proc.stderr
    assert not (project.settings.outputs / "tiny").exists()
    cron = project.invoke("sync-cron")
    assert "run tiny" not in cron.stdout


def test_retailer_toggles_opt_outs_and_extras(project, demo_snapshot_dir, demo_snapshot):
    live = demo_snapshot.accounts[demo_snapshot.accounts["Retailer_Status__c"] == "Live"]
    valid, _ = valid_addresses(live["Primary_Contact_Email__c"])
    live = live[live["Primary_Contact_Email__c"].isin(valid)].sort_values("Name")
    blocked, opted, extra, plain = (str(i) for i in live["Id"][:4])
    store = _store(project)
    store.update_retailer(blocked, enablement="disabled")
    store.update_retailer(opted, opted_out=True)
    store.update_retailer(extra, extras=["finance@example.org"])

    project.add("tiny", make_notebook(WORKING_CELLS))
    args = [
        "run",
        "tiny",
        "--as-of",
        "2026-11-22",
        "--source",
        str(demo_snapshot_dir),
        "--workers",
        "1",
    ]
    for t in (opted, extra, plain):
        args += ["--target", t]
    proc = project.cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A disabled retailer is not a target: asking for it is refused.
    refused = project.invoke(
        "run",
        "tiny",
        "--as-of",
        "2026-11-22",
        "--source",
        str(demo_snapshot_dir),
        "--target",
        blocked,
        "--deliver",
        "none",
    )
    assert refused.returncode == 2 and blocked in refused.stderr

    sent = {
        m["X-Broadsheet-Target"]: sorted(a.addr_spec for a in m["To"].addresses)
        for m in _messages(project)
    }
    contact = dict(zip(live["Id"], live["Primary_Contact_Email__c"], strict=True))
    assert opted not in sent
    assert sent[extra] == sorted([contact[extra], "finance@example.org"])
    assert sent[plain] == [contact[plain]]
    import json

    summary = json.loads((project.settings.outputs / "tiny/2026-11-22/run.json").read_text())
    assert {"target": opted, "reason": "opted out in admin"}.items() <= next(
        s for s in summary["skipped_recipients"] if s["target"] == opted
    ).items()
