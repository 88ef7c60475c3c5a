"""The runner end to end on purpose-built notebooks: fan-out, failures, outputs, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def five_targets(demo_snapshot) -> list[str]:
    return live_retailers(demo_snapshot, 5)


def test_fan_out_of_five_with_one_failing_gives_four_outputs_and_exit_1(
    project, demo_snapshot_dir, demo_snapshot, five_targets
):
    bad = five_targets[2]
    cells = list(WORKING_CELLS)
    # Source cell index 2 (the third cell): raises for one target only.
    cells.insert(1, f"if target == {bad!r}:\n    raise RuntimeError('no data for ' + target)")
    project.add("tiny", make_notebook(cells))
    args = project.run_args(
        "tiny", demo_snapshot_dir, *five_targets, options=("--deliver", "none", "--workers", "2")
    )
    proc = project.cli(*args)
    assert proc.returncode == 1, proc.stderr
    run_dir = project.settings.outputs / "tiny" / "2026-11-22"
    summary = json.loads((run_dir / "run.json").read_text())
    statuses = {t["id"]: t["status"] for t in summary["targets"]}
    assert statuses == {t: ("failed" if t == bad else "ok") for t in five_targets}
    failure = next(t for t in summary["targets"] if t["status"] == "failed")
    assert failure["error"]["cell"] == 2
    assert failure["error"]["ename"] == "RuntimeError"
    assert failure["error"]["evalue"] == f"no data for {bad}"
    kept = Path(failure["error"]["notebook"])
    assert kept.exists() and "papermill-error-cell-tag" in kept.read_text()
    assert f"FAILED {bad}" in proc.stdout and "cell 2" in proc.stdout
    assert summary["exit_status"] == 1 and summary["summary"] == {
        "targets": 5,
        "ok": 4,
        "failed": 1,
    }

    apps = demo_snapshot.applications
    for t in five_targets:
        out = run_dir / t
        if t == bad:
            assert not (out / "report.html").exists()
            continue
        figures = json.loads((out / "figures.json").read_text())
        expected = int((apps["Retailer__c"] == t).sum())
        assert figures["metrics"]["applications"]["as_at"] == expected
        assert figures["greeting"] == "hi"  # the declaration's parameter reached the notebook
        report = (out / "report.html").read_text()
        assert f"hi: {expected} applications" in report
        assert "snap = snapshot_mod.load" not in report  # code is stripped
        email = (out / "email.html").read_text()
        assert "<script" not in email and "data:" not in email
        cids = re.findall(r'src="cid:([^"]+)"', email)
        assert cids and all((out / c).is_file() for c in cids)
        assert f"email form: {expected} applications" in email and "hi:" not in email
        assert f"{expected} applications" in (out / "email.txt").read_text()
        assert len(email.encode()) < 102 * 1024


def test_timeout_is_a_failed_target_naming_the_running_cell(
    project, demo_snapshot_dir, demo_snapshot
):
    (target,) = live_retailers(demo_snapshot, 1)
    project.add("sleepy", make_notebook(["import time", "time.sleep(60)"]), timeout=2)
    proc = project.cli(
        *project.run_args(
            "sleepy", demo_snapshot_dir, target, options=("--deliver", "none", "--workers", "1")
        )
    )
    assert proc.returncode == 1
    summary = json.loads((project.settings.outputs / "sleepy/2026-11-22/run.json").read_text())
    (failure,) = summary["targets"]
    assert failure["error"]["ename"] == "CellTimeoutError"
    assert failure["error"]["cell"] == 2
    # Where the time before the first target went: this process's start, the snapshot,
    # the targets, all before the first target began (its kernel was started ahead).
    timings = summary["timings"]
    assert set(timings) == {
        "startup",
        "snapshot",
        "targets",
        "before_first_target",
        "fan_out",
        "deliver",
    }
    before = timings["startup"] + timings["snapshot"] + timings["targets"]
    assert 0 < timings["startup"] < before <= timings["before_first_target"]


def test_bad_declaration_is_exit_2_naming_file_and_field(project):
    project.add("tiny", make_notebook(WORKING_CELLS))
    path = project.settings.parameters_dir / "tiny.yaml"
    path.write_text(path.read_text().replace("fan_out: retailer", "fan_out: shop"))
    proc = project.invoke("run", "tiny", "--deliver", "none")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "fan_out" in lines[0]


def test_unknown_parameter_is_refused_before_any_kernel(project):
    project.add("tiny", make_notebook(WORKING_CELLS))
    path = project.settings.parameters_dir / "tiny.yaml"
    path.write_text(path.read_text() + "  colour: blue\n")
    proc = project.invoke("run", "tiny", "--deliver", "none")
    assert proc.returncode == 2
    assert "parameters.colour" in proc.stderr and "tiny.yaml" in proc.stderr
    assert not (project.settings.outputs / "tiny").exists()


def test_notebook_without_parameters_cell_is_refused(project):
    project.add("bare", make_notebook(WORKING_CELLS, parameters=None))
    proc = project.invoke("run", "bare", "--deliver", "none")
    assert proc.returncode == 2
    assert "bare.ipynb" in proc.stderr and "parameters" in proc.stderr


def test_unknown_report_lists_the_known_ones(project):
    project.add("tiny", make_notebook(WORKING_CELLS))
    proc = project.invoke("run", "tiney", "--deliver", "none")
    assert proc.returncode == 2
    assert "did you mean one of: tiny" in proc.stderr


def test_future_as_of_is_exit_2(project):
    project.add("tiny", make_notebook(WORKING_CELLS))
    proc = project.invoke("run", "tiny", "--as-of", "2999-01-01", "--deliver", "none")
    assert proc.returncode == 2 and "2999-01-01" in proc.stderr


def test_bad_fiscal_month_is_exit_2_before_any_kernel(project):
    project.add("tiny", make_notebook(WORKING_CELLS))
    path = project.settings.parameters_dir / "tiny.yaml"
    path.write_text(path.read_text() + "  fiscal_year_start_month: 13\n")
    proc = project.invoke("run", "tiny", "--deliver", "none")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "parameters.fiscal_year_start_month" in proc.stderr and "13" in proc.stderr


def test_corrupt_snapshot_is_exit_2(project, demo_snapshot_dir, tmp_path):
    import shutil

    project.add("tiny", make_notebook(WORKING_CELLS))
    broken = tmp_path / "broken"
    shutil.copytree(demo_snapshot_dir, broken)
    (broken / "applications.parquet").write_bytes(b"not parquet")
    proc = project.invoke(
        "run", "tiny", "--as-of", "2026-11-22", "--source", str(broken), "--deliver", "none"
    )
    assert proc.returncode == 2
    assert "corrupt" in proc.stderr and str(broken) in proc.stderr
    assert not (project.settings.outputs / "tiny").exists()


def test_a_target_rerun_merges_into_the_days_record(project, demo_snapshot_dir, demo_snapshot):
    # Finding 7: after `run --target X`, run.json (and the admin's history) held X alone.
    from admin import history

    first, second, flaky = live_retailers(demo_snapshot, 3)
    project.add("tiny", make_notebook(WORKING_CELLS))
    run_json = project.settings.outputs / "tiny" / "2026-11-22" / "run.json"
    run_json.parent.mkdir(parents=True)
    # The morning's scheduled run, as the runner wrote it: one target failed.
    morning = "2026-11-23T07:00:00+00:00"
    run_json.write_text(
        json.dumps(
            {
                "report": "tiny",
                "as_of": "2026-11-22",
                "started_at": morning,
                "duration": 30.0,
                "targets": [
                    {"id": t, "name": t, "status": "failed" if t == flaky else "ok"}
                    for t in (first, second, flaky)
                ],
                "deliveries": [],
                "skipped_recipients": [],
                "spec": {"targets": []},
                "exit_status": 1,
            }
        )
    )
    options = ("--deliver", "none", "--workers", "1")
    rerun = project.cli(*project.run_args("tiny", demo_snapshot_dir, flaky, options=options))
    assert rerun.returncode == 0, rerun.stderr
    day = json.loads(run_json.read_text())
    assert day["summary"] == {"targets": 3, "ok": 3, "failed": 0}
    assert day["exit_status"] == 0
    ran_at = {t["id"]: t["ran_at"] for t in day["targets"]}
    assert ran_at == {first: morning, second: morning, flaky: day["started_at"]}
    assert day["started_at"] > morning
    assert [(r["started_at"], r["targets"], r["ran"], r["failed"]) for r in day["runs"]] == [
        (morning, None, 3, 1),
        (day["started_at"], [flaky], 1, 0),
    ]

    shown = history.run_detail(project.settings.outputs, "tiny", "2026-11-22")
    assert (shown["targets"], shown["ok"], shown["status"]) == (3, 3, "ok")
    assert [(r["targets"], r["ran"]) for r in shown["runs"]] == [(None, 3), ([flaky], 1)]
    assert {t["id"]: t["ran_at"] for t in shown["all_targets"]} == ran_at
