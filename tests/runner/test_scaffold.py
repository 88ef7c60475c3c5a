"""``broadsheet new`` scaffolds a report that runs as it is."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.runner import live_retailers

pytestmark = pytest.mark.slow


def test_new_report_runs_for_one_target(project, demo_snapshot_dir, demo_snapshot):
    proc = project.cli("new", "weekly_lenders", "--fan-out", "retailer")
    assert proc.returncode == 0, proc.stderr
    assert (project.settings.notebooks_dir / "weekly_lenders.ipynb").is_file()
    assert (
        "fan_out: retailer" in (project.settings.parameters_dir / "weekly_lenders.yaml").read_text()
    )
    listed = project.cli("list")
    assert "weekly_lenders" in listed.stdout and "0 7 * * 1" in listed.stdout

    (target,) = live_retailers(demo_snapshot, 1)
    proc = project.cli(
        *project.run_args(
            "weekly_lenders",
            demo_snapshot_dir,
            target,
            options=("--deliver", "none", "--workers", "1"),
        )
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = project.settings.outputs / "weekly_lenders" / "2026-11-22" / target
    figures = json.loads((out / "figures.json").read_text())
    apps = demo_snapshot.applications
    week = apps[
        (apps["Retailer__c"] == target) & apps["submitted_day"].between("2026-11-16", "2026-11-22")
    ]
    assert figures["metrics"]["submissions"]["LW"] == len(week)
    assert figures["target"] == {
        "kind": "retailer",
        "id": target,
        "name": str(demo_snapshot.accounts.set_index("Id").loc[target, "Name"]),
    }


def test_new_refuses_to_overwrite_and_bad_names(project):
    assert project.invoke("new", "weekly_lenders", "--fan-out", "bdm").returncode == 0
    again = project.invoke("new", "weekly_lenders", "--fan-out", "bdm")
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = project.invoke("new", "Weekly Lenders", "--fan-out", "none")
    assert bad.returncode == 2 and "lower case" in bad.stderr
