"""A run hands its outputs to delivery: real sends, failure alerts, test sends, reruns."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

pytestmark = pytest.mark.slow


def test_alert_test_send_and_rerun(project, demo_snapshot_dir, demo_snapshot):
    good, bad = live_retailers(demo_snapshot, 2, contactable=True)
    cells = [f"if target == {bad!r}:\n    raise KeyError('lender table')", *WORKING_CELLS]
    project.add("tiny", make_notebook(cells))
    project.env["BROADSHEET_ADMIN_EMAILS"] = '["ops@larkspur.example"]'
    base = project.run_args("tiny", demo_snapshot_dir, good, bad, options=("--workers", "1"))

    first = project.cli(*base)
    assert first.returncode == 1
    msgs = project.outbox()
    report = [m for m in msgs if m["X-Broadsheet-Target"] == good]
    alerts = [m for m in msgs if "ops@larkspur.example" in m["To"]]
    assert len(report) == 1 and len(alerts) == 1 and len(msgs) == 2
    contact = demo_snapshot.accounts.set_index("Id")["Primary_Contact_Email__c"]
    assert [a.addr_spec for a in report[0]["To"].addresses] == [contact[good]]
    alert = alerts[0].get_body(("plain",)).get_content()
    assert bad in alert and "KeyError: 'lender table'" in alert and "cell 1" in alert
    assert alert.count("cell 1") == 1

    run_json = project.settings.outputs / "tiny/2026-11-22/run.json"
    (first_sent,) = [
        d for d in json.loads(run_json.read_text())["deliveries"] if d["target"] == good
    ]

    # A rerun sends nothing twice (the alert goes again: the target failed again); the
    # day's record keeps the row that says when the report was sent.
    again = project.cli(*base)
    assert again.returncode == 1
    assert len(project.outbox()) == 2
    summary = json.loads(run_json.read_text())
    sent = [d for d in summary["deliveries"] if d["target"] == good]
    assert sent == [first_sent] and first_sent["status"] == "sent"
    assert len(summary["runs"]) == 2

    # A test send goes to the tester only, marked, beside the real run's outputs.
    test = project.cli(
        *project.run_args(
            "tiny",
            demo_snapshot_dir,
            good,
            options=("--workers", "1", "--test-to", "tester@larkspur.example"),
        )
    )
    assert test.returncode == 0, test.stdout + test.stderr
    tests = [m for m in project.outbox() if m["Subject"].startswith("[TEST] ")]
    assert len(tests) == 1 and [a.addr_spec for a in tests[0]["To"].addresses] == [
        "tester@larkspur.example"
    ]
    assert (project.settings.outputs / "tiny/2026-11-22-test" / good / "report.html").is_file()
    assert (
        json.loads((project.settings.outputs / "tiny/2026-11-22/run.json").read_text()) == summary
    )
