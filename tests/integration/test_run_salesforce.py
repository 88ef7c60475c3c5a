"""``broadsheet run … --source salesforce`` against the HTTPS stand-in gives the same numbers
as the demo source on the same data, and records the API usage in run.json. It signs in by
the JWT bearer flow, and no secret reaches any file the run writes."""

from __future__ import annotations

import json

import pytest

from lib import snapshot
from lib.settings import Settings
from runner.run import prepare, run
from runner.spec import RunSpec
from tests.fixtures.salesforce import SALESFORCE_AS_OF
from tests.standins.salesforce import CLIENT_SECRET

pytestmark = pytest.mark.slow


def test_salesforce_and_demo_sources_give_the_same_figures(
    salesforce_jwt, salesforce_tables, tmp_path
):
    salesforce_standin = salesforce_jwt
    accounts = salesforce_tables["accounts"]
    live = accounts[accounts["Retailer_Status__c"] == "Live"].sort_values("Name")
    target = str(live["Id"].iloc[0])

    from_sf = Settings(outputs=tmp_path / "sf")
    result = run(
        RunSpec(
            report="retailer_weekly",
            as_of=SALESFORCE_AS_OF,
            source="salesforce",
            targets=(target,),
            deliver="none",
            workers=1,
        ),
        from_sf,
    )
    assert result.exit_status == 0, result.failed
    calls = salesforce_standin.calls
    assert result.api["calls"] == calls and calls > 0
    summary = json.loads(
        (
            from_sf.outputs / "retailer_weekly" / SALESFORCE_AS_OF.isoformat() / "run.json"
        ).read_text()
    )
    assert summary["api"]["calls"] == calls and summary["api"]["limit"] == 705_000
    assert summary["api"]["auth"] == "jwt"
    assert summary["api"]["token_requests"] == salesforce_standin.token_requests == 1
    key = [
        line
        for line in salesforce_standin.jwt_key_file.read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    for path in (p for p in from_sf.outputs.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for secret in (CLIENT_SECRET, "PRIVATE KEY", *key, *salesforce_standin.issued):
            assert secret.encode() not in data, (path, secret[:12])

    demo_dir = snapshot.write(
        salesforce_tables, tmp_path / "demo-snapshot", source="demo", as_of=SALESFORCE_AS_OF
    )
    from_demo = Settings(outputs=tmp_path / "demo")
    assert (
        run(
            RunSpec(
                report="retailer_weekly",
                as_of=SALESFORCE_AS_OF,
                source=str(demo_dir),
                targets=(target,),
                deliver="none",
                workers=1,
            ),
            from_demo,
        ).exit_status
        == 0
    )

    def figures(settings):
        path = (
            settings.outputs
            / "retailer_weekly"
            / SALESFORCE_AS_OF.isoformat()
            / target
            / "figures.json"
        )
        return json.loads(path.read_text())

    a, b = figures(from_sf), figures(from_demo)
    for key in ("metrics", "pipeline", "windows", "target", "commentary"):
        assert a[key] == b[key], key

    # A second report the same day reuses the extraction: no more API calls.
    prepare(RunSpec(report="smt_dashboard", as_of=SALESFORCE_AS_OF, source="salesforce"), from_sf)
    assert salesforce_standin.calls == calls
