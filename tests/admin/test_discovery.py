"""Discovery: retailers onboarded since the last discovery wait for approval."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from admin import retailers
from lib import snapshot
from runner.cli import main
from runner.state.models import Discovery, utcnow
from runner.state.view import runner_view

ORCHARD = "0018d00003Zot5gAAB"  # onboarded 2026-11-10 in the 30-retailer demo
CALDBECK = "0018d00003Zot9BAAR"  # onboarded 2026-10-21
BEACON = "0018d00003Zot34AAB"  # onboarded 2026-04-13
ONBOARDING = "0018d00003Zot3tAAB"  # status Onboarding, no onboarding date yet


@pytest.fixture
def october_snapshot(demo_tables, tmp_path) -> Path:
    """The demo book as it was on 15 October: without the two retailers onboarded since."""
    tables = dict(demo_tables)
    tables["accounts"] = demo_tables["accounts"][
        ~demo_tables["accounts"]["Id"].isin([ORCHARD, CALDBECK])
    ]
    return snapshot.write(tables, tmp_path / "october", source="demo", as_of=date(2026, 10, 15))


def test_the_first_discovery_is_a_baseline_that_blocks_nobody(admin_env, october_snapshot):
    discovery, new = retailers.discover(admin_env.store, october_snapshot, source="demo")
    assert discovery.baseline and discovery.found == 0 and new == []
    rows = admin_env.store.retailers()
    assert len(rows) == 28 - 2  # every onboarded retailer; the two still onboarding are not
    assert {r.enablement for r in rows.values()} == {"enabled"}
    assert ONBOARDING not in rows
    assert runner_view(admin_env.engine).blocked_retailers == frozenset()


def test_retailers_onboarded_since_are_pending_until_approved(
    admin_env, october_snapshot, demo_snapshot_dir
):
    retailers.discover(admin_env.store, october_snapshot, source="demo")
    discovery, new = retailers.discover(admin_env.store, demo_snapshot_dir, source="demo")
    assert not discovery.baseline and discovery.found == 2 and discovery.as_of == date(2026, 11, 22)
    assert [(r["id"], r["enablement"], r["onboarded"]) for r in new] == [
        (CALDBECK, "pending", date(2026, 10, 21)),
        (ORCHARD, "pending", date(2026, 11, 10)),
    ]
    assert runner_view(admin_env.engine).blocked_retailers == {ORCHARD, CALDBECK}

    admin_env.store.update_retailer(ORCHARD, enablement="enabled")  # what "approve" does
    assert runner_view(admin_env.engine).blocked_retailers == {CALDBECK}
    # Running it again finds nothing new and undoes no decision.
    again, new = retailers.discover(admin_env.store, demo_snapshot_dir, source="demo")
    assert again.found == 0 and new == []
    assert runner_view(admin_env.engine).blocked_retailers == {CALDBECK}


def test_discovery_never_overrides_the_admin(admin_env, october_snapshot, demo_snapshot_dir):
    retailers.discover(admin_env.store, october_snapshot, source="demo")
    admin_env.store.update_retailer(BEACON, enablement="disabled")
    admin_env.store.update_retailer(
        ORCHARD, extras=["ops@orchard.example"]
    )  # edited before it was found
    retailers.discover(admin_env.store, demo_snapshot_dir, source="demo")
    rows = admin_env.store.retailers()
    assert rows[BEACON].enablement == "disabled"
    assert rows[ORCHARD].enablement == "pending" and rows[ORCHARD].extras == ["ops@orchard.example"]


def test_discovery_and_approval_through_the_api(admin_client, keyed, admin_env):
    # An earlier discovery saw the book up to 15 October; the app's source is the 22 November demo.
    with admin_env.store.sessions.begin() as s:
        s.add(
            Discovery(
                run_at=utcnow(),
                as_of=date(2026, 10, 15),
                source="demo",
                snapshot="-",
                baseline=True,
                found=0,
            )
        )
    assert admin_client.get("/api/discovery", headers=keyed).json()["pending"] == []
    result = admin_client.post("/api/discovery", json={"as_of": "2026-11-22"}, headers=keyed).json()
    assert result["discovery"]["found"] == 2 and not result["discovery"]["baseline"]
    assert {r["id"] for r in result["new"]} == {ORCHARD, CALDBECK}
    state = admin_client.get("/api/discovery", headers=keyed).json()
    assert state["last"]["id"] == result["discovery"]["id"]
    assert [r["id"] for r in state["pending"]] == [CALDBECK, ORCHARD]

    approved = admin_client.post(f"/api/retailers/{ORCHARD}/approve", headers=keyed)
    assert approved.status_code == 200 and approved.json()["enablement"] == "enabled"
    assert [
        r["id"] for r in admin_client.get("/api/discovery", headers=keyed).json()["pending"]
    ] == [CALDBECK]
    assert runner_view(admin_env.engine).blocked_retailers == {CALDBECK}
    assert admin_client.post("/api/retailers/nope/approve", headers=keyed).status_code == 404


def test_discovery_refuses_a_future_day(admin_client, keyed):
    response = admin_client.post("/api/discovery", json={"as_of": "2999-01-01"}, headers=keyed)
    assert response.status_code == 422 and "future" in response.json()["message"]


def test_broadsheet_discover(project, demo_snapshot_dir):
    # In-process (click's runner): the console script's imports alone take seconds.
    cli = CliRunner()
    first = cli.invoke(main, ["discover", "--source", str(demo_snapshot_dir)], env=project.env)
    assert first.exit_code == 0, first.output
    assert "data up to 2026-11-22" in first.stdout and "baseline" in first.stdout
    bad = cli.invoke(main, ["discover", "--source", "nowhere"], env=project.env)
    assert bad.exit_code == 2
    assert (
        bad.stderr.splitlines()[-1]
        == "broadsheet: --source nowhere: not demo, salesforce or a snapshot directory"
    )


def test_the_retailers_shown_come_from_the_latest_finished_snapshot(tmp_path, demo_snapshot_dir):
    root = tmp_path / "snapshots"
    for source, day in (
        ("demo", "2026-11-20"),
        ("demo", "2026-11-22"),
        ("salesforce", "2026-11-23"),
    ):
        (root / source / day).mkdir(parents=True)
        (root / source / day / "manifest.json").write_text("{}")
    (root / "demo" / ".2026-11-24.abc.tmp").mkdir()
    (root / "demo" / ".2026-11-24.abc.tmp" / "manifest.json").write_text("{}")
    assert retailers.latest_snapshot(tmp_path, "demo") == root / "demo" / "2026-11-22"
    assert retailers.latest_snapshot(tmp_path, "salesforce") == root / "salesforce" / "2026-11-23"
    assert retailers.latest_snapshot(tmp_path, "/no/such/dir") == root / "salesforce" / "2026-11-23"
    assert retailers.latest_snapshot(tmp_path, str(demo_snapshot_dir)) == demo_snapshot_dir
    assert retailers.latest_snapshot(tmp_path / "empty", "demo") is None
