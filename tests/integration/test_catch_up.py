"""``broadsheet catch-up`` end to end: a machine that was down on Monday morning."""

from __future__ import annotations

import json

import pytest

from lib.settings import ROOT
from tests.fixtures.runner import Project

WEEKLY = ("bdm_portfolio", "retailer_weekly", "smt_dashboard")


@pytest.mark.slow
def test_catch_up_runs_the_missed_weekly_reports_once(project: Project) -> None:
    project.env["BROADSHEET_PARAMETERS_DIR"] = str(ROOT / "parameters")
    project.env["BROADSHEET_NOTEBOOKS_DIR"] = str(ROOT / "notebooks")
    args = ("catch-up", "--now", "2026-11-23T10:30", "--retailers", "4", "--workers", "1")
    first = project.cli(*args, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.splitlines()
    for report in WEEKLY:
        assert f"{report}: slot Mon 23 Nov 2026" in first.stdout
        assert any(line.startswith(f"{report} 2026-11-22: ") for line in lines), first.stdout
        run = json.loads(
            (project.settings.outputs / report / "2026-11-22" / "run.json").read_text()
        )
        assert run["as_of"] == "2026-11-22" and run["exit_status"] == 0
        assert run["spec"]["deliver"] == "outbox"  # as the scheduled run delivers
    # The board pack's slot (2 November) is three weeks gone: reported, not run.
    assert (
        "board_pack: slot Mon 02 Nov 2026 07:00, data to 2026-10-31: missed, and past its "
        "catch-up window" in first.stdout
    )
    assert not (project.settings.outputs / "board_pack").exists()
    sent = sorted(p.name for p in (project.settings.outputs / "outbox").glob("*.eml"))
    assert {name.split("_2026-11-22_")[0] for name in sent} == set(WEEKLY)

    second = project.cli(*args, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "running it now" not in second.stdout
    assert second.stdout.count("ran (run.json present): nothing to do") == 3
    assert sorted(p.name for p in (project.settings.outputs / "outbox").glob("*.eml")) == sent
