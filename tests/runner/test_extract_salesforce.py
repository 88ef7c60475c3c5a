"""``broadsheet extract --source salesforce`` end to end: a subprocess against the stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lib import snapshot
from tests.fixtures.salesforce import SALESFORCE_AS_OF
from tests.standins.salesforce import SalesforceStandin

AS_OF = SALESFORCE_AS_OF.isoformat()


def _broadsheet(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(salesforce_standin: SalesforceStandin, tmp_path: Path) -> dict[str, str]:
    """The process environment: the stand-in's SALESFORCE_* and CA bundle, outputs in tmp."""
    root = str(Path(__file__).resolve().parents[2])
    return {
        **os.environ,  # the fixture has set SALESFORCE_* and REQUESTS_CA_BUNDLE here
        "BROADSHEET_OUTPUTS": str(tmp_path / "outputs"),
        "PYTHONPATH": root,
    }


def test_extract_writes_the_snapshot_then_refreshes_incrementally(
    salesforce_standin: SalesforceStandin, salesforce_tables, env, tmp_path: Path
) -> None:
    first = _broadsheet(
        "extract", "--source", "salesforce", "--as-of", AS_OF, cwd=tmp_path, env=env
    )
    assert first.returncode == 0, first.stderr
    out = Path(first.stdout.strip().splitlines()[-1])
    assert out == tmp_path / "outputs" / "snapshots" / "salesforce" / AS_OF

    snap = snapshot.load(out)
    api = snap.manifest["api"]
    assert snap.manifest["source"] == "salesforce"
    assert api["refresh"] == "full" and api["calls"] == salesforce_standin.calls
    assert api["used"] == salesforce_standin.api_used and api["limit"] == 705_000
    for table in snapshot.SCHEMA:
        got = getattr(snap, table)[list(snapshot.SCHEMA[table])]
        want = salesforce_tables[table].sort_values("Id", ignore_index=True)
        pd.testing.assert_frame_equal(got, want, obj=table)
    # No secret reached the manifest.
    text = (out / "manifest.json").read_text()
    assert env["SALESFORCE_ACCESS_TOKEN"] not in text

    # The next run finds that snapshot and reads only what changed.
    salesforce_standin.reset_counters()
    again = _broadsheet(
        "extract", "--source", "salesforce", "--as-of", AS_OF, cwd=tmp_path, env=env
    )
    assert again.returncode == 0, again.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["api"]["refresh"] == "incremental"
    assert manifest["api"]["calls"] == salesforce_standin.calls == 4
    assert manifest["content_hash"] == snap.manifest["content_hash"]

    # --full reads everything again.
    salesforce_standin.reset_counters()
    full = _broadsheet(
        "extract", "--source", "salesforce", "--as-of", AS_OF, "--full", cwd=tmp_path, env=env
    )
    assert full.returncode == 0, full.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["api"]["refresh"] == "full" and manifest["api"]["calls"] == api["calls"]


def test_extract_without_configuration_exits_2_naming_the_variables(env, tmp_path: Path) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("SALESFORCE_")}
    result = _broadsheet(
        "extract", "--source", "salesforce", "--as-of", AS_OF, cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert "SALESFORCE_INSTANCE_URL" in result.stderr and "SALESFORCE_USERNAME" in result.stderr
    assert "Traceback" not in result.stderr
