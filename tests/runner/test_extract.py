"""``broadsheet extract``: the real console script, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from lib import snapshot
from lib.errors import InputError
from runner import cli
from runner import extract as extract_mod

BROADSHEET = Path(sys.executable).parent / "broadsheet"


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BROADSHEET), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_extract_demo_writes_a_snapshot_and_prints_its_directory(tmp_path):
    out = tmp_path / "snap"
    done = _run(
        "extract", "--source", "demo", "--as-of", "2026-11-22", "--out", str(out), "--retailers", "20",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "demo"
    assert manifest["as_of"] == "2026-11-22"
    assert manifest["schema_version"] == 1
    assert manifest["row_counts"]["accounts"] == 20
    assert manifest["row_counts"]["applications"] > 1000
    assert manifest["content_hash"].startswith("sha256:")
    assert manifest["generator"] == {"name": "lib.demo", "retailers": 20, "seed": 7}
    assert snapshot.load(out).manifest == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_default_directory_is_under_broadsheet_outputs(tmp_path, monkeypatch):
    # In-process (the subprocess tests above and below cover the console script itself).
    outputs = tmp_path / "elsewhere"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BROADSHEET_OUTPUTS", str(outputs))
    done = CliRunner().invoke(
        cli.main,
        ["extract", "--source", "demo", "--as-of", "2026-11-22", "--retailers", "3", "--seed", "2"],
    )
    assert done.exit_code == 0, done.output
    expected = outputs / "snapshots" / "demo" / "2026-11-22"
    assert Path(done.stdout.strip()) == expected
    assert json.loads((expected / "manifest.json").read_text())["generator"]["seed"] == 2


def test_future_as_of_is_one_line_and_exit_2(tmp_path):
    future = (date.today() + timedelta(days=3)).isoformat()
    out = tmp_path / "snap"
    done = _run("extract", "--source", "demo", "--as-of", future, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("broadsheet: ") and future in lines[0]
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_bad_out_is_refused_before_extracting_and_left_alone(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setattr(extract_mod.demo, "generate", _must_not_run)
    done = CliRunner().invoke(
        cli.main, ["extract", "--source", "demo", "--as-of", "2026-11-22", "--out", str(tmp_path)]
    )
    assert done.exit_code == 2
    assert done.stderr.startswith("broadsheet: ") and "not a snapshot" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def _must_not_run(**kwargs):
    raise AssertionError("generated data for an --out that is refused anyway")


def test_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    def failing(path: Path, data: bytes) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot, "_write_file", failing)
    with pytest.raises(OSError):
        extract_mod.extract("demo", date(2026, 11, 22), tmp_path / "snap", retailers=2)
    assert list(tmp_path.iterdir()) == []


def test_extract_function_errors(tmp_path):
    with pytest.raises(InputError, match="did you mean one of: demo, salesforce"):
        extract_mod.extract("oracle", date(2026, 11, 22), tmp_path / "s")
    with pytest.raises(InputError, match="future"):
        extract_mod.extract("demo", date.today() + timedelta(days=2), tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


def test_extract_function_default_dir(tmp_path):
    path = extract_mod.extract("demo", date(2026, 11, 22), None, retailers=2, outputs=tmp_path)
    assert path == snapshot.default_dir(tmp_path, "demo", date(2026, 11, 22))
    assert snapshot.load(path).manifest["row_counts"]["accounts"] == 2
