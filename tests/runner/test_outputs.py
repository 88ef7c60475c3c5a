"""The outputs tree: atomic writes, what a killed writer leaves, an unwritable folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from lib.errors import ConfigError
from runner.outputs import previous_figures, sweep_temporaries, writable

ROOT = Path(__file__).resolve().parents[2]

KILLED_RENDER = """
import os, signal, sys
from pathlib import Path
from runner.outputs import write_atomic
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
write_atomic(Path(sys.argv[1]) / "0015g00000AbCdEAAV" / "report.html", "<p>half a report</p>")
"""


def test_a_render_killed_mid_write_is_swept_from_the_run_folder(tmp_path):
    run_dir = tmp_path / "tiny" / "2026-11-22"
    proc = subprocess.run([sys.executable, "-c", KILLED_RENDER, str(run_dir)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    (left,) = (run_dir / "0015g00000AbCdEAAV").iterdir()
    assert sweep_temporaries(run_dir, recursive=True) == [left]
    assert list((run_dir / "0015g00000AbCdEAAV").iterdir()) == []


def test_an_outputs_folder_under_a_file_names_the_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="BROADSHEET_OUTPUTS: cannot write to the outputs folder"):
        writable(tmp_path / "file" / "outputs")
    assert writable(tmp_path / "new" / "outputs").is_dir()
    assert list((tmp_path / "new" / "outputs").iterdir()) == []


def _run(outputs: Path, folder: str, targets: dict[str, str]) -> None:
    run = outputs / "retailer_weekly" / folder
    for target, status in targets.items():
        (run / target).mkdir(parents=True)
        if status == "ok":
            (run / target / "figures.json").write_text(json.dumps({"as_of": folder[:10]}))
    summary = {"targets": [{"id": t, "status": s} for t, s in targets.items()]}
    (run / "run.json").write_text(json.dumps(summary))


def test_latest_earlier_completed_run_per_target(tmp_path: Path) -> None:
    _run(tmp_path, "2026-11-08", {"A": "ok", "B": "ok", "C": "ok"})
    _run(tmp_path, "2026-11-15", {"A": "ok", "B": "failed"})
    _run(tmp_path, "2026-11-15-test", {"A": "ok", "C": "ok"})  # a test send: never compared
    _run(tmp_path, "2026-11-22", {"A": "ok", "B": "ok", "C": "ok"})  # this very run
    (tmp_path / "retailer_weekly" / "2026-11-20").mkdir()  # no run.json: not completed

    found = previous_figures(tmp_path, "retailer_weekly", date(2026, 11, 22))
    assert {t: p.parent.parent.name for t, p in found.items()} == {
        "A": "2026-11-15",
        "B": "2026-11-08",  # failed last week: the week before
        "C": "2026-11-08",  # not a target last week
    }
    assert previous_figures(tmp_path, "retailer_weekly", date(2026, 11, 8)) == {}
    assert previous_figures(tmp_path, "bdm_portfolio", date(2026, 11, 22)) == {}
