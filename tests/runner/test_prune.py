"""``broadsheet prune``: retention per report, run summaries kept, running reports spared."""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from lib.periods import LONDON
from runner import prune, schedule
from runner.declarations import Declaration
from tests.fixtures.runner import WORKING_CELLS, Project, make_notebook

TODAY = date(2026, 11, 28)


def decl(name: str, **extra) -> Declaration:
    return Declaration(
        name=name,
        title="t",
        notebook="n.ipynb",
        schedule="0 7 * * 1",
        fan_out="none",
        subject="{title}",
        recipients={"policy": "list"},
        **extra,
    )


def make_run(
    outputs: Path, report: str, day: date, *, test: bool = False, size: int = 1000
) -> Path:
    run = outputs / report / (day.isoformat() + ("-test" if test else ""))
    (run / "T1").mkdir(parents=True)
    (run / "T1" / "report.html").write_bytes(b"x" * size)
    (run / "alert.txt").write_bytes(b"a" * 10)
    (run / "run.json").write_text(json.dumps({"report": report, "as_of": day.isoformat()}))
    (outputs / "outbox").mkdir(exist_ok=True)
    suffix = "_test" if test else ""
    (outputs / "outbox" / f"{report}_{day}_T1{suffix}_0123456789.eml").write_bytes(b"m" * 100)
    return run


def test_expired_runs_go_their_summaries_stay(tmp_path: Path) -> None:
    weekly, monthly = decl("weekly"), decl("monthly", windows=("M",))
    old = TODAY - timedelta(weeks=27)
    recent = TODAY - timedelta(weeks=25)
    make_run(tmp_path, "weekly", old)
    make_run(tmp_path, "weekly", old, test=True)
    preview = tmp_path / "weekly" / f"{old}-preview" / "T1"
    preview.mkdir(parents=True)
    (preview / "report.html").write_bytes(b"v" * 7)
    make_run(tmp_path, "weekly", recent)
    make_run(tmp_path, "monthly", date(2024, 9, 30))  # before 28 Oct 2024: goes
    make_run(tmp_path, "monthly", date(2024, 10, 31))  # within 25 months: kept
    make_run(tmp_path, "weekly_lenders", old)  # no declaration: not ours to judge

    lines: list[str] = []
    dry = prune.prune(tmp_path, [weekly, monthly], today=TODAY, dry_run=True, echo=lines.append)
    assert sorted((r.kind, r.path.relative_to(tmp_path).as_posix()) for r in dry.removed) == [
        ("outbox", "outbox/monthly_2024-09-30_T1_0123456789.eml"),
        ("outbox", f"outbox/weekly_{old}_T1_0123456789.eml"),
        ("outbox", f"outbox/weekly_{old}_T1_test_0123456789.eml"),
        ("preview", f"weekly/{old}-preview"),
        ("run", "monthly/2024-09-30"),
        ("run", f"weekly/{old}"),
        ("test-send", f"weekly/{old}-test"),
    ]
    # Two runs' targets and alerts, a whole test send (its run.json too), four outbox files.
    test_send_json = len(json.dumps({"report": "weekly", "as_of": old.isoformat()}))
    assert dry.freed == 2 * 1010 + (1010 + test_send_json) + 7 + 3 * 100
    assert (tmp_path / "weekly" / old.isoformat() / "T1" / "report.html").exists()  # dry
    assert any(line.startswith("would remove run ") for line in lines)

    done = prune.prune(tmp_path, [weekly, monthly], today=TODAY)
    assert done.freed == dry.freed
    assert sorted(p.name for p in (tmp_path / "weekly" / old.isoformat()).iterdir()) == ["run.json"]
    assert not (tmp_path / "weekly" / f"{old}-test").exists()
    assert not (tmp_path / "weekly" / f"{old}-preview").exists()
    assert (tmp_path / "weekly" / recent.isoformat() / "T1" / "report.html").exists()
    assert (tmp_path / "monthly" / "2024-10-31" / "T1").exists()
    assert (tmp_path / "weekly_lenders" / old.isoformat() / "T1").exists()
    assert prune.prune(tmp_path, [weekly, monthly], today=TODAY).removed == []  # idempotent


def test_a_running_report_is_never_touched(tmp_path: Path) -> None:
    old = TODAY - timedelta(weeks=40)
    make_run(tmp_path, "weekly", old)
    with schedule.run_lock("weekly", tmp_path) as mine:
        assert mine
        outcome = prune.prune(tmp_path, [decl("weekly")], today=TODAY)
    assert outcome.skipped == ["weekly"] and outcome.removed == []
    assert (tmp_path / "weekly" / old.isoformat() / "T1").exists()


def test_snapshots_and_cache(tmp_path: Path) -> None:
    snaps = tmp_path / "snapshots"
    for source, days in (
        ("demo", ("2026-09-01", "2026-10-01", "2026-11-27")),
        ("salesforce", ("2026-01-04",)),
    ):
        for day in days:
            (snaps / source / day).mkdir(parents=True)
            (snaps / source / day / "applications.parquet").write_bytes(b"p" * 50)
    cache = tmp_path / "cache" / "commentary"
    cache.mkdir(parents=True)
    stale, fresh = cache / "ab.json", cache / "cd.json"
    stale.write_text("{}")
    fresh.write_text("{}")
    old = time.mktime((TODAY - timedelta(days=60)).timetuple())
    os.utime(stale, (old, old))
    os.utime(fresh, (time.mktime(TODAY.timetuple()),) * 2)
    outcome = prune.prune(tmp_path, [], today=TODAY)
    assert sorted(r.path.relative_to(tmp_path).as_posix() for r in outcome.removed) == [
        "cache/commentary/ab.json",
        "snapshots/demo/2026-09-01",
        "snapshots/demo/2026-10-01",
    ]  # the newest of each source stays, however old


def test_the_command_dry_run_then_prune(project: Project) -> None:
    project.add("tiny", make_notebook(WORKING_CELLS))  # default retention: 26 weeks
    today = datetime.now(LONDON).date()
    old = today - timedelta(weeks=30)
    make_run(project.settings.outputs, "tiny", old, size=2_000_000)
    dry = project.invoke("prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "tiny: keeps 26 weeks" in dry.stdout
    assert (
        f"would remove run {project.settings.outputs / 'tiny' / old.isoformat()} (all but run.json): 2.0 MB"
        in dry.stdout
    )
    assert dry.stdout.splitlines()[-1] == "would remove 2 item(s), would free 2.0 MB"
    assert (project.settings.outputs / "tiny" / old.isoformat() / "T1").exists()
    real = project.invoke("prune")
    assert real.stdout.splitlines()[-1] == "removed 2 item(s), freed 2.0 MB"
    assert not (project.settings.outputs / "tiny" / old.isoformat() / "T1").exists()
