"""The three weekly reports on demo data: numbers, privacy, recipients and sizes."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import openpyxl
import pytest

from lib.report import pipeline_list
from tests.fixtures.reports import leaks, registry_figures

pytestmark = pytest.mark.slow

def _figures(runs, report: str, target: str) -> dict:
    return json.loads((runs.dir(report, target) / "figures.json").read_text())


def test_every_run_succeeded(weekly_runs):
    for report, result in weekly_runs.results.items():
        assert result.exit_status == 0, (report, [t.error for t in result.failed])
    live = weekly_runs.results["retailer_weekly"]
    assert len(live.targets) >= 10


def test_retailer_weekly_figures_equal_the_registry(weekly_runs, demo_snapshot, demo_as_of):
    for t in weekly_runs.results["retailer_weekly"].targets:
        fig = _figures(weekly_runs, "retailer_weekly", t.id)
        expected = registry_figures(demo_snapshot.for_retailers([t.id]), demo_as_of)["all"]
        assert fig["metrics"] == expected, t.id
        assert fig["target"] == {"kind": "retailer", "id": t.id, "name": t.name}
        assert fig["windows"]["LW"] == ["2026-11-16", "2026-11-22"]
        apps = demo_snapshot.applications
        own = set(apps.loc[apps["Retailer__c"] == t.id, "Name"])
        assert {i["ref"] for s in ("ans", "snp") for i in fig["pipeline"][s]} <= own


def test_bdm_portfolio_figures_equal_the_registry(weekly_runs, demo_snapshot, demo_as_of):
    accounts = demo_snapshot.accounts
    for t in weekly_runs.results["bdm_portfolio"].targets:
        fig = _figures(weekly_runs, "bdm_portfolio", t.id)
        owned = list(accounts.loc[accounts["OwnerId"] == t.id, "Id"])
        scoped = demo_snapshot.for_retailers(owned)
        assert fig["metrics"] == registry_figures(scoped, demo_as_of)["all"]
        per_retailer = registry_figures(scoped, demo_as_of, by="retailer")
        assert set(fig["retailers"]) == set(owned)
        for rid, entry in fig["retailers"].items():
            assert entry["metrics"] == per_retailer[rid]


def test_smt_dashboard_covers_the_whole_book(weekly_runs, demo_snapshot, demo_as_of):
    fig = _figures(weekly_runs, "smt_dashboard", "all")
    assert fig["metrics"] == registry_figures(demo_snapshot, demo_as_of)["all"]
    # Every retailer regardless of status or admin toggles.
    assert set(fig["retailers"]) == set(demo_snapshot.accounts["Id"])
    assert {e["status"] for e in fig["retailers"].values()} >= {
        "Live",
        "Suspended",
        "Closed",
        "Onboarding",
    }
    by_bdm = registry_figures(demo_snapshot, demo_as_of, by="bdm")
    for uid, entry in fig["bdms"].items():
        assert entry["metrics"] == by_bdm[uid]


def _list_rows(fig: dict) -> list[list[str]]:
    """The pipeline list the figures give, as the CSV writes it."""
    lst = pipeline_list(fig)
    return [list(lst.columns)] + [
        [
            f"{v:.2f}"
            if isinstance(v, float)
            else v.isoformat()
            if hasattr(v, "isoformat")
            else str(v)
            for v in row
        ]
        for row in lst.rows
    ]


def test_pipeline_lists_equal_the_figures(weekly_runs):
    checked = 0
    for report in ("retailer_weekly", "bdm_portfolio"):
        for t in weekly_runs.results[report].targets:
            folder = weekly_runs.dir(report, t.id)
            fig = _figures(weekly_runs, report, t.id)
            expected = _list_rows(fig)
            refs = sorted(i["ref"] for s in ("ans", "snp") for i in fig["pipeline"][s])
            assert sorted(r[1] for r in expected[1:]) == refs
            with (folder / "pipeline.csv").open(encoding="utf-8-sig", newline="") as fh:
                assert list(csv.reader(fh)) == expected, (report, t.id)
            ws = openpyxl.load_workbook(folder / "pipeline.xlsx")["Pipeline"]
            # Typed cells: amounts are numbers, stage dates real dates.
            lst = pipeline_list(fig)
            xlsx = [
                tuple(v.date() if isinstance(v, datetime) else v for v in row)
                for row in ws.iter_rows(values_only=True)
            ]
            assert xlsx[0] == lst.columns
            amount = lst.columns.index("Amount")
            for got, want in zip(xlsx[1:], lst.rows, strict=True):
                assert float(got[amount]) == want[amount]
                assert got[:amount] + got[amount + 1 :] == want[:amount] + want[amount + 1 :]
            assert ws.freeze_panes == "A2" and ws.auto_filter.ref
            days = [int(r[-1]) for r in expected[1:]]
            assert days == sorted(days, reverse=True)
            checked += len(refs)
    assert checked > 50  # the demo book has a pipeline to work from


def test_no_retailer_sees_another_retailers_data(weekly_runs, demo_snapshot):
    names = dict(zip(demo_snapshot.accounts["Id"], demo_snapshot.accounts["Name"], strict=True))
    for t in weekly_runs.results["retailer_weekly"].targets:
        others = {rid: n for rid, n in names.items() if rid != t.id}
        found = leaks(weekly_runs.dir("retailer_weekly", t.id), others, {t.name})
        assert not found, (t.name, found[:5])


def test_no_bdm_sees_another_bdms_retailers(weekly_runs, demo_snapshot):
    accounts = demo_snapshot.accounts
    for t in weekly_runs.results["bdm_portfolio"].targets:
        mine = accounts[accounts["OwnerId"] == t.id]
        theirs = accounts[accounts["OwnerId"] != t.id]
        forbidden = dict(zip(theirs["Id"], theirs["Name"], strict=True))
        found = leaks(weekly_runs.dir("bdm_portfolio", t.id), forbidden, set(mine["Name"]))
        assert not found, (t.name, found[:5])


def test_size_budgets(weekly_runs):
    for report, limit in (("retailer_weekly", 2e6), ("bdm_portfolio", 2e6), ("smt_dashboard", 5e6)):
        for t in weekly_runs.results[report].targets:
            folder = weekly_runs.dir(report, t.id)
            assert (folder / "report.html").stat().st_size < limit, (report, t.id)
            assert (folder / "email.html").stat().st_size < 102 * 1024, (report, t.id)


def test_outputs_are_self_contained_and_email_safe(weekly_runs):
    for report in weekly_runs.results:
        for t in weekly_runs.results[report].targets:
            folder = weekly_runs.dir(report, t.id)
            page = (folder / "report.html").read_text()
            assert (
                'src="http' not in page
                and "src='http" not in page
                and '<link rel="stylesheet" href="http' not in page
            )
            assert page.count("Plotly.newPlot") >= 1 and page.count("plotly.js v") <= 1
            email = (folder / "email.html").read_text()
            assert "<script" not in email and "data:" not in email and "<style" not in email
            cids = [c for c in email.split('src="cid:')[1:]]
            assert cids, (report, t.id)
            for c in cids:
                assert (folder / c.split('"')[0]).is_file()
            assert 'alt=""' not in email and "<th" in email


def _messages(outbox: Path) -> list:
    return [
        BytesParser(policy=policy.default).parse(p.open("rb")) for p in sorted(outbox.glob("*.eml"))
    ]


def test_each_retailer_message_goes_to_its_primary_contact(weekly_runs, demo_snapshot):
    contact = dict(
        zip(
            demo_snapshot.accounts["Id"],
            demo_snapshot.accounts["Primary_Contact_Email__c"],
            strict=True,
        )
    )
    msgs = [
        m
        for m in _messages(weekly_runs.settings.outputs / "outbox")
        if m["X-Broadsheet-Report"] == "retailer_weekly"
    ]
    result = weekly_runs.results["retailer_weekly"]
    skipped = {s["target"] for s in result.skipped_recipients}
    assert len(msgs) == len(result.targets) - len(skipped) and msgs
    for m in msgs:
        rid = m["X-Broadsheet-Target"]
        assert m["To"].addresses[0].addr_spec == contact[rid]
        assert (
            "Weekly retailer report" in m["Subject"] and "week ending 22 Nov 2026" in m["Subject"]
        )
        names = [p.get_filename() for p in m.iter_attachments()]
        assert names == [
            "retailer_weekly-2026-11-22.html",
            "retailer_weekly-2026-11-22-pipeline.xlsx",
            "retailer_weekly-2026-11-22-pipeline.csv",
        ]
    for s in result.skipped_recipients:  # null and malformed contacts are reported, not sent
        assert s["reason"]
