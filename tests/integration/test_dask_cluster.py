"""A run through a real ``dask scheduler`` with two ``dask worker`` processes on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.runner import WORKING_CELLS, live_retailers, make_notebook

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=(logs / "scheduler.log").open("w"),
            stderr=subprocess.STDOUT,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    DASK,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                    "--local-directory",
                    str(tmp_path / f"w{i}"),
                ],
                stdout=(logs / f"worker{i}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    from dask.distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(2, timeout=30)
            break
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield address
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def test_run_on_an_existing_cluster(project, cluster, demo_snapshot_dir, demo_snapshot):
    project.add("tiny", make_notebook([*WORKING_CELLS, "import os\nprint(os.getppid())"]))
    targets = live_retailers(demo_snapshot, 4)
    args = project.run_args(
        "tiny", demo_snapshot_dir, *targets, options=("--deliver", "none", "--scheduler", cluster)
    )
    proc = project.cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((project.settings.outputs / "tiny/2026-11-22/run.json").read_text())
    assert [t["status"] for t in summary["targets"]] == ["ok"] * 4
    apps = demo_snapshot.applications
    parents = set()
    for t in targets:
        out = project.settings.outputs / "tiny/2026-11-22" / t
        fig = json.loads((out / "figures.json").read_text())
        assert fig["metrics"]["applications"]["as_at"] == int((apps["Retailer__c"] == t).sum())
        nb = json.loads((out / "notebook.ipynb").read_text())
        parents.add("".join(nb["cells"][-1]["outputs"][0]["text"]).strip())
    # Kernels are children of the worker processes: both workers took targets.
    assert len(parents) == 2
