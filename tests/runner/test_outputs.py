"""The outputs tree: atomic writes, what a killed writer leaves, an unwritable folder."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lib.errors import ConfigError
from runner.outputs import sweep_temporaries, writable

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
