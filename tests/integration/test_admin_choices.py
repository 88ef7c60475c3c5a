"""The runner honours the admin dashboard: report toggles, pending and disabled retailers,
opt-outs, extra recipients, the board/SMT lists and the admin alert list."""

from __future__ import annotations

import json

import pytest

from admin.store import Store
from runner.state.database import engine_for, upgrade
from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

pytestmark = pytest.mark.slow


def _store(project) -> Store:
    return Store(upgrade(engine_for(project.settings.state_url())))


def test_disabled_report_does_not_run_but_can_be_test_sent(project, demo_snapshot_dir):
    project.add("tiny", make_notebook(WORKING_CELLS))
    _store(project).set_toggle("tiny", False)
    proc = project.invoke(*project.run_args("tiny", demo_snapshot_dir))
    assert proc.returncode == 0 and "disabled" in proc.stderr
    assert not (project.settings.outputs / "tiny").exists()
    cron = project.invoke("sync-cron")
    assert "run tiny" not in cron.stdout


def test_retailer_toggles_opt_outs_and_extras(project, demo_snapshot_dir, demo_snapshot):
    blocked, opted, extra, plain = live_retailers(demo_snapshot, 4, contactable=True)
    store = _store(project)
    store.update_retailer(blocked, enablement="disabled")
    store.update_retailer(opted, opted_out=True)
    store.update_retailer(extra, extras=["finance@example.org"])

    project.add("tiny", make_notebook(WORKING_CELLS))
    proc = project.cli(
        *project.run_args(
            "tiny", demo_snapshot_dir, opted, extra, plain, options=("--workers", "1")
        )
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A disabled retailer is not a target: asking for it is refused.
    refused = project.invoke(
        *project.run_args("tiny", demo_snapshot_dir, blocked, options=("--deliver", "none"))
    )
    assert refused.returncode == 2 and blocked in refused.stderr

    sent = {
        m["X-Broadsheet-Target"]: sorted(a.addr_spec for a in m["To"].addresses)
        for m in project.outbox()
    }
    accounts = demo_snapshot.accounts
    contact = dict(zip(accounts["Id"], accounts["Primary_Contact_Email__c"], strict=True))
    assert opted not in sent
    assert sent[extra] == sorted([contact[extra], "finance@example.org"])
    assert sent[plain] == [contact[plain]]
    summary = json.loads((project.settings.outputs / "tiny/2026-11-22/run.json").read_text())
    assert {"target": opted, "reason": "opted out in admin"}.items() <= next(
        s for s in summary["skipped_recipients"] if s["target"] == opted
    ).items()
