"""send_when: activity holds back a target with nothing to report, and says why."""

from __future__ import annotations

import json

import pytest

from admin.history import run_detail
from lib import snapshot as snapshot_mod
from tests.fixtures.runner import live_retailers, make_notebook

pytestmark = pytest.mark.slow

CELLS = [
    "from lib import report, figures\nfrom lib.blocks import Block",
    "snap, day = report.open_snapshot(snapshot, as_of)\nt = report.retailer_target(snap, target)\n"
    "fig = figures.publish(report.figures('quiet', report.scope(snap, t), t, day, windows))",
    "Block('<p>report</p>', '<p>email form</p>')",
]


def test_activity_skips_a_quiet_retailer_and_records_why(
    project, demo_tables, demo_as_of, tmp_path
):
    snap = snapshot_mod.load(
        snapshot_mod.write(demo_tables, tmp_path / "full", source="demo", as_of=demo_as_of)
    )
    busy, quiet = live_retailers(snap, 2, contactable=True)
    tables = {k: v.copy() for k, v in demo_tables.items()}
    apps = tables["applications"]
    tables["applications"] = apps[apps["Retailer__c"] != quiet]  # a retailer that never sold
    source = snapshot_mod.write(tables, tmp_path / "quiet", source="demo", as_of=demo_as_of)

    project.add("quiet", make_notebook(CELLS))
    path = project.settings.parameters_dir / "quiet.yaml"
    path.write_text(path.read_text() + "send_when: activity\n")
    proc = project.invoke(
        *project.run_args("quiet", source, busy, quiet, options=("--workers", "1"))
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    summary = json.loads((project.settings.outputs / "quiet/2026-11-22/run.json").read_text())
    assert [t["status"] for t in summary["targets"]] == ["ok", "ok"]  # rendered, kept
    (held,) = summary["skipped_targets"]
    assert held["target"] == quiet
    assert "no application activity in last week (2026-11-16 to 2026-11-22)" in held["reason"]
    assert "send_when: activity" in held["reason"]
    assert f"not sent {quiet}" in proc.stdout
    assert [m["X-Broadsheet-Target"] for m in project.outbox()] == [busy]

    detail = run_detail(project.settings.outputs, "quiet", "2026-11-22")
    assert detail["held_back"] == 1
    assert detail["skipped_targets"][0]["reason"] == held["reason"]
