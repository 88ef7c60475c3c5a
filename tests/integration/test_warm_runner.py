"""``broadsheet run`` handed to a warm runner (``runner/resident.py``), with real processes:
the same outputs and deliveries as a run in its own process, one kernel for every run, a
busy runner answered at once, another configuration served by another runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

pytestmark = pytest.mark.slow


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _runners(project, env) -> list[dict]:
    proc = project_cli(project, env, "warm", "--status")
    assert proc.returncode == 0, proc.stderr
    return [
        {"key": line.split()[0], "pid": int(line.split()[2])}
        for line in proc.stdout.splitlines()
        if line.strip()
    ]


def project_cli(project, env, *args):
    saved = project.env
    project.env = env
    try:
        return project.cli(*args)
    finally:
        project.env = saved


@pytest.fixture
def warm_env(project) -> Iterator[dict[str, str]]:
    """The project's environment with the warm runner on, its sockets in a short private
    temporary directory; every runner started is stopped at the end."""
    short = Path(tempfile.mkdtemp(prefix="bw"))  # AF_UNIX paths are short
    env = project.env | {
        "BROADSHEET_WARM": "on",
        "BROADSHEET_WARM_IDLE_MINUTES": "3",
        "TMPDIR": str(short),
    }
    try:
        yield env
    finally:
        for info_file in short.glob("broadsheet-*/*.json"):
            pid = json.loads(info_file.read_text())["pid"]
            project_cli(project, env, "warm", "--stop")
            if not _gone(pid, 30):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(short, ignore_errors=True)


def test_runs_handed_to_the_warm_runner(project, warm_env, demo_snapshot_dir, demo_snapshot):
    a, b = live_retailers(demo_snapshot, 2, contactable=True)
    project.add("tiny", make_notebook(WORKING_CELLS))

    def run(*targets, env=warm_env, deliver="outbox", report="tiny", options=()):
        options = ("--deliver", deliver, *options)
        args = project.run_args(report, demo_snapshot_dir, *targets, options=options)
        return project_cli(project, env, *args)

    run_dir = project.settings.outputs / "tiny" / "2026-11-22"

    # Two runs, two retailers: delivered as a run in its own process delivers them.
    first = run(a)
    assert first.returncode == 0, first.stderr
    assert "tiny 2026-11-22: 1/1 targets ok" in first.stdout
    assert "delivered 1 message(s)" in first.stdout
    assert "tiny: 1/1 done, 0 failed" in first.stderr  # progress, reported by the client
    second = run(b)
    assert second.returncode == 0, second.stderr
    apps = demo_snapshot.applications
    for target in (a, b):
        figures = json.loads((run_dir / target / "figures.json").read_text())
        assert figures["metrics"]["applications"]["as_at"] == int(
            (apps["Retailer__c"] == target).sum()
        )
    summary = json.loads((run_dir / "run.json").read_text())
    assert {t["id"] for t in summary["targets"]} == {a, b}  # the day's record, merged
    assert summary["timings"]["startup"] is not None  # the client's start counts
    recipients = sorted(str(m["To"]) for m in project.outbox())
    contacts = demo_snapshot.accounts.set_index("Id")["Primary_Contact_Email__c"]
    assert recipients == sorted([contacts[a], contacts[b]])

    # One runner served both, with one kernel.
    (runner,) = _runners(project, warm_env)
    up = project_cli(project, warm_env, "warm")
    assert f"pid {runner['pid']}; 2 run(s) so far, 1 kernel(s) started" in up.stdout, up.stdout

    # The ledger holds in the runner too: a rerun sends nothing again.
    again = run(a)
    assert again.returncode == 0 and "delivered 0 message(s)" in again.stdout, again.stdout
    assert len(project.outbox()) == 2

    # The same figures as a run in its own process.
    warm_figures = (run_dir / a / "figures.json").read_bytes()
    cold = run(a, env=warm_env | {"BROADSHEET_WARM": "off"}, deliver="none")
    assert cold.returncode == 0, cold.stderr
    assert (run_dir / a / "figures.json").read_bytes() == warm_figures

    # Bad input: the runner's one line and exit status 2, and it serves on.
    bad = run(a, report="nosuch")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("broadsheet: ")
    assert "nosuch" in bad.stderr and "tiny" in bad.stderr  # the known reports are named

    # Busy: a second run while one is in progress is answered at once (the client then
    # runs in its own process) rather than queued.
    sock_path = next(Path(warm_env["TMPDIR"]).glob("broadsheet-*/*.sock"))
    spec = {
        "report": "tiny",
        "as_of": "2026-11-22",
        "source": str(demo_snapshot_dir),
        "targets": [b],
        "deliver": "none",
    }
    with socket.socket(socket.AF_UNIX) as busy_one, socket.socket(socket.AF_UNIX) as other:
        busy_one.connect(str(sock_path))
        busy_one.sendall((json.dumps({"op": "run", "spec": spec}) + "\n").encode())
        other.connect(str(sock_path))
        other.sendall((json.dumps({"op": "run", "spec": spec}) + "\n").encode())
        assert json.loads(other.makefile().readline()) == {"busy": True}
        messages = [json.loads(line) for line in busy_one.makefile()]
    assert messages[-1]["done"]["exit"] == 0

    # A fan-out goes to the runner's Dask cluster, which it keeps, workers and their
    # kernels, for the next fan-out.
    fanned = []
    for _ in range(2):
        many = run(a, b, deliver="none", options=("--workers", "2"))
        assert many.returncode == 0 and "2/2 targets ok" in many.stdout, many.stderr
        fanned.append({c.pid for c in psutil.Process(runner["pid"]).children(recursive=True)})
    assert (
        fanned[0] == fanned[1] and len(fanned[0]) >= 5
    )  # kernel, 2 workers (+ nannies), 2 kernels
    for target in (a, b):
        figures = json.loads((run_dir / target / "figures.json").read_text())
        assert figures["metrics"]["applications"]["as_at"] == int(
            (apps["Retailer__c"] == target).sum()
        )

    # Another configuration is another runner; the stale one of this directory stops.
    other_env = warm_env | {"BROADSHEET_COMPANY": "Another Company Ltd"}
    moved = run(b, env=other_env, deliver="none")
    assert moved.returncode == 0, moved.stderr
    assert _gone(runner["pid"])
    assert all(_gone(pid, 30) for pid in fanned[1])  # its kernels, workers and nannies too
    (now,) = _runners(project, other_env)
    assert now["key"] != runner["key"]

    # Asked to stop, it lists what it asks; a runner killed with SIGTERM (systemctl stop,
    # kill) takes its kernel and socket with it.
    listed = project_cli(project, other_env, "warm", "--status")
    assert f"pid {now['pid']}" in listed.stdout
    children = psutil.Process(now["pid"]).children(recursive=True)
    assert children  # its warm kernel
    os.kill(now["pid"], signal.SIGTERM)
    assert _gone(now["pid"])
    assert all(_gone(child.pid, 30) for child in children)
    assert not list(Path(warm_env["TMPDIR"]).glob("broadsheet-*/*.sock"))
    assert project_cli(project, other_env, "warm", "--stop").stdout == ""
