"""What ``broadsheet run`` and ``broadsheet demo`` check before they touch a file or start a
kernel: the report name, the outputs folder, the delivery configuration, the test address;
and the run lock both take."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from filelock import FileLock

from lib.errors import InputError
from runner.cli import main
from runner.schedule import run_lock
from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

DELIVERY_VARIABLES = ("SMTP_", "GRAPH_", "MAIL_FROM")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture
def tiny(project, monkeypatch):
    for name in list(os.environ):
        if name.startswith(DELIVERY_VARIABLES):
            monkeypatch.delenv(name)
    project.add("tiny", make_notebook(WORKING_CELLS))
    return project


def invoke(project, *args: str, **env: str):
    """The CLI in-process with this project's settings plus ``env``; exceptions kept as a
    non-zero exit (a traceback is what some of these findings were)."""
    base = {k: v for k, v in project.env.items() if k.startswith("BROADSHEET_")}
    return CliRunner().invoke(main, list(args), env={**base, **env})


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "{abs}/evil", "../tiny", "tiny/../../x", "nope"]
)
def test_an_undeclared_report_name_is_refused_before_any_file_is_touched(tiny, tmp_path, name):
    # Finding 3: `broadsheet run ../../etc/passwd` created etc/passwd.lock (and its folders).
    name = name.format(abs=tmp_path / "abs")
    before = files_under(tmp_path)
    result = invoke(tiny, "run", name, "--as-of", "2026-11-22", "--deliver", "none")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("broadsheet: unknown report") and "did you mean one of: tiny" in line
    assert files_under(tmp_path) == before


def test_a_run_the_warm_runner_cannot_take_is_checked_before_any_file_is_touched(
    tiny, tmp_path, monkeypatch
):
    # The warm runner checks the name itself; when there is none to take the run (here:
    # a socket path too long for AF_UNIX), the command checks it before its run lock.
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    before = files_under(tmp_path)
    result = invoke(tiny, "run", "../x", "--deliver", "none", BROADSHEET_WARM="on")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("broadsheet: unknown report")
    assert files_under(tmp_path) - before <= {deep / f"broadsheet-{os.getuid()}"}


def test_the_run_lock_refuses_a_name_that_is_not_a_plain_name(tmp_path):
    # Finding 3, at the lock itself: whatever the caller checked, no path leaves locks/.
    for name in ("../x", str(tmp_path / "abs" / "x"), "", "..", "a\\b"):
        with pytest.raises(InputError, match="not a report name"), run_lock(name, tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["under-a-file", "read-only"])
def test_unwritable_outputs_is_exit_2_naming_the_folder(tiny, tmp_path, demo_snapshot_dir, kind):
    # Finding 6: exit 1 with a traceback from the run lock.
    if kind == "under-a-file":
        (tmp_path / "a-file").write_text("not a folder")
        outputs = tmp_path / "a-file" / "outputs"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        outputs = tmp_path / "read-only"
        outputs.mkdir(mode=0o555)
    args = tiny.run_args("tiny", demo_snapshot_dir, options=("--deliver", "none"))
    for command in (args, ["demo", "--as-of", "2026-11-22", "--retailers", "3"]):
        result = invoke(tiny, *command, BROADSHEET_OUTPUTS=str(outputs))
        assert result.exit_code == 2, (command, result.output, result.exception)
        (line,) = result.stderr.strip().splitlines()
        assert str(outputs) in line and "BROADSHEET_OUTPUTS" in line, line


@pytest.mark.parametrize(
    ("options", "env", "named"),
    [
        (("--deliver", "smtp"), {}, "SMTP_HOST"),
        (("--deliver", "smtp"), {"SMTP_HOST": "mail.example", "SMTP_PORT": "smtp"}, "SMTP_PORT"),
        (("--deliver", "graph"), {"GRAPH_TENANT_ID": "t"}, "GRAPH_CLIENT_ID"),
        (("--deliver", "outbox", "--test-to", "bad address"), {}, "'bad address'"),
        (("--deliver", "none", "--test-to", "me@"), {}, "'me@'"),
    ],
    ids=["smtp-unset", "smtp-bad-port", "graph-partial", "test-to-outbox", "test-to-none"],
)
def test_delivery_and_test_address_are_checked_before_any_kernel(
    tiny, demo_snapshot_dir, demo_snapshot, options, env, named
):
    # Finding 5: every notebook ran first, then exit 2 without run.json (or exit 0 with
    # the test address skipped).
    target = live_retailers(demo_snapshot, 1)[0]
    args = tiny.run_args("tiny", demo_snapshot_dir, target, options=options)
    result = invoke(tiny, *args, **env)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert named in line, line
    assert not (tiny.settings.outputs / "tiny").exists()


def test_demo_takes_each_reports_run_lock(tiny, demo_snapshot_dir):
    # Finding 12: `broadsheet demo` ran reports that a scheduled run was running.
    snapshots = tiny.settings.outputs / "snapshots" / "demo"
    snapshots.mkdir(parents=True)
    (snapshots / "2026-11-22").symlink_to(demo_snapshot_dir, target_is_directory=True)
    locks = tiny.settings.outputs / "locks"
    locks.mkdir()
    with FileLock(locks / "tiny.lock", blocking=False):
        result = invoke(tiny, "demo", "--as-of", "2026-11-22")
    assert result.exit_code == 0, result.output
    assert "tiny: already running; skipped" in result.output
    assert not (tiny.settings.outputs / "tiny").exists()
