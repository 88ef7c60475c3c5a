"""Since the last report, end to end: two weekly runs of one retailer through the runner.

The first run (week ending 15 Nov) has no earlier report; between it and the second (week
ending 22 Nov) one application paid out in the first week has its amount corrected. The
second run's figures.json lists the restatement with both values, and its email and
report show it in the "Since last week" block.
"""

from __future__ import annotations

import html
import json
from datetime import date

import pytest

from lib import formatting as fmt
from lib import snapshot as snapshot_mod
from lib.report import since
from lib.settings import Settings
from runner.run import run
from runner.spec import RunSpec

pytestmark = pytest.mark.slow

WEEK1, WEEK2 = date(2026, 11, 15), date(2026, 11, 22)


@pytest.fixture(scope="module")
def two_weeks(demo_snapshot, demo_tables, tmp_path_factory):
    apps = demo_snapshot.applications
    live = set(
        demo_snapshot.accounts.loc[demo_snapshot.accounts["Retailer_Status__c"] == "Live", "Id"]
    )
    paid = (
        apps.loc[
            (apps["paid_day"] >= "2026-11-09")
            & (apps["paid_day"] <= "2026-11-15")
            & (apps["amount"] > 0)
            & apps["Retailer__c"].isin(live)
        ]
        .sort_values("Name")
        .iloc[0]
    )
    root = tmp_path_factory.mktemp("since-last")
    tables = {k: v.copy() for k, v in demo_tables.items()}
    row = tables["applications"]["Name"] == paid["Name"]
    tables["applications"].loc[row, "Loan_Amount__c"] = float(paid["amount"]) + 635.0
    corrected = snapshot_mod.write(tables, root / "corrected", source="demo", as_of=WEEK2)
    settings = Settings(outputs=root / "outputs")
    target = str(paid["Retailer__c"])
    results = []
    for as_of, source in ((WEEK1, demo_snapshot.path), (WEEK2, corrected)):
        spec = RunSpec(
            report="retailer_weekly",
            as_of=as_of,
            source=str(source),
            targets=(target,),
            deliver="none",
            workers=1,
        )
        results.append(run(spec, settings))
    assert all(r.exit_status == 0 for r in results), [t.error for r in results for t in r.failed]
    folder = {
        d: settings.outputs / "retailer_weekly" / d.isoformat() / target for d in (WEEK1, WEEK2)
    }
    return folder


def _figures(folder):
    return json.loads((folder / "figures.json").read_text())


def test_first_run_has_no_previous_report(two_weeks):
    first = _figures(two_weeks[WEEK1])
    assert first["since_last"] == since.empty()
    assert "This is the first report" in (two_weeks[WEEK1] / "email.html").read_text()


def test_second_run_lists_moves_and_the_restatement(two_weeks):
    first, second = _figures(two_weeks[WEEK1]), _figures(two_weeks[WEEK2])
    moved = second["since_last"]
    assert moved["previous_as_of"] == "2026-11-15"
    for stage in since.STAGES:
        before = {i["ref"] for i in first["pipeline"][stage]}
        now = {i["ref"] for i in second["pipeline"][stage]}
        left = {m["ref"] for m in moved["pipeline"][stage]["left"]}
        assert (before - left) | set(moved["pipeline"][stage]["new"]) == now
    published = first["metrics"]["paid_value"]["LW"]
    assert {
        "metric": "paid_value",
        "window": "LW",
        "published": published,
        "now": published + 635.0,
    } in moved["restated"]
    assert second["metrics"]["paid_value"]["LW_prev"] == published + 635.0
    line = (
        f"Restated: last week's paid value {fmt.money(published)} → {fmt.money(published + 635.0)}"
    )
    for name in ("email.html", "report.html"):
        page = html.unescape((two_weeks[WEEK2] / name).read_text())
        assert "Since last week" in page and line in page, name
    assert line in (two_weeks[WEEK2] / "email.txt").read_text()


@pytest.mark.browser
def test_since_block_screenshot(two_weeks, chromium, screenshots):
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.goto((two_weeks[WEEK2] / "report.html").as_uri())
    block = page.locator(".bs-since").first
    assert "Since last week" in block.inner_text()
    path = screenshots / "since_last_week.png"
    block.screenshot(path=str(path))
    print(f"since-last-week block: {path}")
    page.close()
