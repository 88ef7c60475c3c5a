"""All four reports on the edge-case demo book: every target renders, nobody sees another's
data, every published number is the registry's, and the Word pack opens in LibreOffice.

The book (``tests/fixtures/edge.py``) holds a 255-character retailer name, a control
character in a name, two retailers of one name, a Live retailer with no applications, a
BDM whose retailers are all suspended, a BDM with one retailer, null amounts, events on
both clock changes and on 29 February, and a lender spelled five ways.
"""

from __future__ import annotations

import json
import shutil
from email import policy
from email.parser import BytesParser

import pytest

from lib import lenders, metrics, periods
from lib.demo import edge
from lib.settings import Settings
from runner import declarations
from tests.fixtures.edge import EDGE_AS_OF
from tests.fixtures.reports import (
    BOARD_AS_OF,
    leaks,
    libreoffice_pdf,
    month_windows,
    pdf_pages,
    registry_figures,
    same,
)

pytestmark = pytest.mark.slow

EMAIL_BUDGET = 102 * 1024  # Gmail clips longer bodies


def _figures(runs, report: str, target: str) -> dict:
    return json.loads((runs.dir(report, target) / "figures.json").read_text(encoding="utf-8"))


def test_every_target_of_every_report_succeeds(edge_runs):
    accounts, users = edge_runs.snapshot.accounts, edge_runs.snapshot.users
    for report, run in edge_runs.runs.items():
        assert run.result.exit_status == 0, (report, [t.error for t in run.result.failed])
    weekly = {t.id: t.name for t in edge_runs.runs["retailer_weekly"].result.targets}
    live = accounts[accounts["Retailer_Status__c"] == "Live"]
    assert set(weekly) == set(live["Id"])
    for name in (edge.LONG_NAME, edge.CONTROL_NAME, edge.TWIN_NAME, "Ángel's Empty Workshop"):
        assert name in weekly.values(), name
    # The BDM whose retailers are all suspended gets no portfolio; the one with one does.
    bdms = {t.name for t in edge_runs.runs["bdm_portfolio"].result.targets}
    assert "Nadia Single-Retailer" in bdms and "Ewan All-Suspended" not in bdms
    assert "Ewan All-Suspended" in set(users["Name"])
    for report, run in edge_runs.runs.items():
        for t in run.result.targets:
            folder = edge_runs.dir(report, t.id)
            assert (folder / "email.html").stat().st_size <= EMAIL_BUDGET, (report, t.name)


def test_every_message_is_delivered_with_a_one_line_subject(edge_runs):
    outputs = next(iter(edge_runs.runs.values())).outputs
    messages = [
        BytesParser(policy=policy.default).parse(p.open("rb"))
        for p in sorted((outputs / "outbox").glob("*.eml"))
    ]
    for report, run in edge_runs.runs.items():
        failed = [d for d in run.result.deliveries if d.get("status") == "failed"]
        assert not failed, (report, failed)
    subjects = {m["X-Broadsheet-Target"]: str(m["Subject"]) for m in messages}
    accounts = edge_runs.snapshot.accounts
    control = accounts.loc[accounts["Name"] == edge.CONTROL_NAME, "Id"].item()
    assert "Bell & Sons <Kitchens>" in subjects[control]


def test_retailer_weekly_figures_equal_the_registry(edge_runs):
    snap = edge_runs.snapshot
    for t in edge_runs.runs["retailer_weekly"].result.targets:
        fig = _figures(edge_runs, "retailer_weekly", t.id)
        expected = registry_figures(snap.for_retailers([t.id]), EDGE_AS_OF)
        same(fig["metrics"], expected["all"], t.name)
        assert fig["target"] == {"kind": "retailer", "id": t.id, "name": t.name}


def test_bdm_portfolio_and_smt_figures_equal_the_registry(edge_runs):
    snap, as_of = edge_runs.snapshot, EDGE_AS_OF
    accounts = snap.accounts
    for t in edge_runs.runs["bdm_portfolio"].result.targets:
        fig = _figures(edge_runs, "bdm_portfolio", t.id)
        owned = list(accounts.loc[accounts["OwnerId"] == t.id, "Id"])
        scoped = snap.for_retailers(owned)
        same(fig["metrics"], registry_figures(scoped, as_of)["all"], t.name)
        per_retailer = registry_figures(scoped, as_of, by="retailer")
        assert set(fig["retailers"]) == set(owned)
        for rid, entry in fig["retailers"].items():
            same(entry["metrics"], per_retailer[rid], rid)
    fig = _figures(edge_runs, "smt_dashboard", "all")
    same(fig["metrics"], registry_figures(snap, as_of)["all"], "smt")
    by_bdm = registry_figures(snap, as_of, by="bdm")
    for uid, entry in fig["bdms"].items():
        same(entry["metrics"], by_bdm[uid], uid)
    # The five spellings are one lender.
    shares = fig["metrics"]["lender_share"]["YTD"]
    assert "Harrowgate Credit" in shares
    assert {lenders.normalise(s) for s in edge.LENDER_SPELLINGS} == {"Harrowgate Credit"}


def test_board_pack_figures_equal_the_registry(edge_runs):
    snap, fig = edge_runs.snapshot, edge_runs.runs["board_pack"].figures
    params = declarations.discover(Settings().parameters_dir).get("board_pack").parameters
    rates = params["commission_rates"]
    wins = periods.windows(BOARD_AS_OF, ("M", "YTD"))
    expected = metrics.compute(snap, wins, BOARD_AS_OF, commission_rates=rates)
    same(fig["metrics"], json.loads(json.dumps(expected["all"])), "metrics")
    by_retailer = metrics.compute(snap, wins, BOARD_AS_OF, by="retailer", commission_rates=rates)
    for rid, entry in fig["retailers"].items():
        same(entry["metrics"], json.loads(json.dumps(by_retailer[rid])), rid)
    trend = metrics.compute(
        snap,
        month_windows(BOARD_AS_OF, params["trend_months"]),
        BOARD_AS_OF,
        commission_rates=rates,
    )["all"]
    windowed = {m: v for m, v in trend.items() if metrics.get(m).basis == "window"}
    same(fig["trend"]["metrics"], json.loads(json.dumps(windowed)), "trend")


def test_no_retailer_sees_another_retailers_data(edge_runs):
    accounts = edge_runs.snapshot.accounts
    names = dict(zip(accounts["Id"], accounts["Name"], strict=True))
    for t in edge_runs.runs["retailer_weekly"].result.targets:
        others = {rid: n for rid, n in names.items() if rid != t.id}
        found = leaks(edge_runs.dir("retailer_weekly", t.id), others, {t.name})
        assert not found, (t.name, found[:5])


def test_no_bdm_sees_another_bdms_retailers(edge_runs):
    accounts = edge_runs.snapshot.accounts
    for t in edge_runs.runs["bdm_portfolio"].result.targets:
        mine = accounts[accounts["OwnerId"] == t.id]
        theirs = accounts[accounts["OwnerId"] != t.id]
        forbidden = dict(zip(theirs["Id"], theirs["Name"], strict=True))
        found = leaks(edge_runs.dir("bdm_portfolio", t.id), forbidden, set(mine["Name"]))
        assert not found, (t.name, found[:5])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_the_word_pack_converts_with_libreoffice(edge_runs, tmp_path):
    proc, pdf = libreoffice_pdf(edge_runs.runs["board_pack"].path("report.docx"), tmp_path)
    assert proc.returncode == 0 and pdf.is_file(), proc.stderr
    assert pdf_pages(pdf) > 11  # more pages than sections
