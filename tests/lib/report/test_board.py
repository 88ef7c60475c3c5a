"""lib.report.board: the monthly pack's trend, chart series, rankings, pipeline ageing and
notes. The trend is computed on the hand-built book of ``book.py``; the chart helpers read
figures, so most tests give them small literal figures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import metrics, report
from lib.commentary import Fact
from lib.errors import InputError
from lib.report import Target
from lib.snapshot import Snapshot
from tests.lib.report.book import A, report_snapshot


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return report_snapshot()


@pytest.fixture(scope="module")
def fig(snap: Snapshot) -> dict[str, Any]:
    whole = Target("none", "", "All retailers")
    return report.figures("board", snap, whole, A, ["M"], per_retailer=True, per_bdm=True)


@pytest.fixture(scope="module")
def trend(snap: Snapshot) -> dict[str, Any]:
    return report.monthly_trend(snap, A, months=3)


def entry(name: str, **by_metric: dict[str, Any]) -> dict[str, Any]:
    """A ``figures["retailers"]`` / ``figures["bdms"]`` entry."""
    return {"name": name, "metrics": by_metric}


# ----------------------------------------------------------------------------- months


def test_month_key_and_label():
    assert report.month_key(date(2026, 10, 5)) == "2026-10"
    assert report.month_label("2026-10") == "Oct 2026"
    assert report.month_label("2025-01") == "Jan 2025"


def test_month_windows():
    got = report.month_windows(date(2026, 3, 15), 3)
    assert {k: w.to_json() for k, w in got.items()} == {
        "2026-01": ["2026-01-01", "2026-01-31"],
        "2026-02": ["2026-02-01", "2026-02-28"],
        "2026-03": ["2026-03-01", "2026-03-15"],  # ends at as_of
    }
    leap = report.month_windows(date(2024, 3, 31), 2)
    assert leap["2024-02"].to_json() == ["2024-02-01", "2024-02-29"]
    year = report.month_windows(date(2026, 1, 31))
    assert list(year)[0] == "2025-01" and list(year)[-1] == "2026-01" and len(year) == 13
    assert list(report.month_windows(date(2026, 1, 1), 1)) == ["2026-01"]


@pytest.mark.parametrize("months", [0, -3])
def test_month_windows_needs_a_month(months):
    with pytest.raises(InputError, match=f"months must be at least 1, got {months}"):
        report.month_windows(A, months)


@settings(max_examples=60, deadline=None)
@given(
    as_of=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    months=st.integers(1, 40),
)
def test_month_windows_tile_the_calendar(as_of, months):
    wins = list(report.month_windows(as_of, months).items())
    assert len(wins) == months
    assert wins[-1][1].end == as_of
    assert wins[-1][0] == report.month_key(as_of)
    for key, w in wins:
        assert w.start.day == 1 and report.month_key(w.start) == key
        assert report.month_key(w.end) == key
    for (_, before), (_, after) in zip(wins, wins[1:], strict=False):
        assert after.start == before.end + timedelta(days=1)  # no gap, no overlap


# ----------------------------------------------------------------------------- trend


def test_monthly_trend(trend):
    assert trend["windows"] == {
        "2026-01": ["2026-01-01", "2026-01-31"],
        "2026-02": ["2026-02-01", "2026-02-28"],
        "2026-03": ["2026-03-01", "2026-03-31"],
    }
    m = trend["metrics"]
    assert m["submissions"] == {"2026-01": 0, "2026-02": 2, "2026-03": 4}
    assert m["paid_value"] == {"2026-01": 0.0, "2026-02": 250.0, "2026-03": 3000.0}
    # March: A1, A2, A5 approved, A8 declined; nothing decided in January.
    assert m["approval_rate"] == {"2026-01": None, "2026-02": 1.0, "2026-03": 0.75}
    assert m["lender_paid_value"] == {
        "2026-01": {},
        "2026-02": {"Northwind Bank": 250.0},
        "2026-03": {"Northwind Bank": 3000.0},
    }
    assert m["commission"]["2026-03"] is None  # no rates given
    # As-at metrics have no monthly value.
    assert not {"pipeline_ans_count", "pipeline_snp_value", "inactive_retailers"} & set(m)


def test_monthly_trend_part_month_and_rates(snap):
    got = report.monthly_trend(
        snap, date(2026, 3, 15), months=2, commission_rates={"Interest Free": 0.1}
    )
    assert got["windows"]["2026-03"] == ["2026-03-01", "2026-03-15"]
    m = got["metrics"]
    assert m["submissions"] == {"2026-02": 2, "2026-03": 2}  # A1, A2 by 15 March
    # 10% of Interest Free paid: A3 in February; A4 (3 March) and A1 (9 March) by the 15th.
    assert m["commission"] == {"2026-02": 25.0, "2026-03": 300.0}


def test_monthly_trend_of_an_empty_book():
    got = report.monthly_trend(report_snapshot([], [], []), A, months=2)
    assert got["metrics"]["submissions"] == {"2026-02": 0, "2026-03": 0}
    assert got["metrics"]["avg_loan"] == {"2026-02": None, "2026-03": None}


def test_trend_series(trend):
    assert report.trend_series(trend, ["submissions", "paid_value"]) == (
        ["Jan 2026", "Feb 2026", "Mar 2026"],
        {"Submissions": [0, 2, 4], "Paid value": [0.0, 250.0, 3000.0]},
    )
    no_data = {"windows": trend["windows"], "metrics": {}}
    assert report.trend_series(no_data, ["paid"])[1] == {"Paid": [None, None, None]}


def test_trend_split(trend):
    assert report.trend_split(trend, "lender_paid_value") == (
        ["Jan 2026", "Feb 2026", "Mar 2026"],
        {"Northwind Bank": [None, 250.0, 3000.0]},
    )
    made_up = {
        "windows": {"2026-01": [], "2026-02": []},
        "metrics": {
            "product_paid_value": {
                "2026-01": {"B": 10.0, "A": 10.0, "C": 1.0},
                "2026-02": {"C": 30.0, "D": None},
            }
        },
    }
    # Largest total first (C 31), ties by name (A before B); D (nothing) is cut by top=3.
    assert report.trend_split(made_up, "product_paid_value", top=3) == (
        ["Jan 2026", "Feb 2026"],
        {"C": [1.0, 30.0], "A": [10.0, None], "B": [10.0, None]},
    )
    assert report.trend_split(made_up, "lender_paid_value") == (["Jan 2026", "Feb 2026"], {})


# ----------------------------------------------------------------------------- comparisons


def test_comparison_series(fig):
    assert report.comparison_series(
        fig["metrics"], ["submissions", "paid"], ["M", "M_prev", "M_ly"]
    ) == (
        ["Submissions", "Paid"],
        {"Month": [4, 2], "Previous month": [2, 1], "Same month last year": [1, 1]},
    )
    assert report.comparison_series({}, ["paid"], ["M"]) == (["Paid"], {"Month": [None]})


def test_split_series(fig):
    assert report.split_series(fig["metrics"], "lender_paid_value", ["M", "M_ly"]) == (
        ["Northwind Bank", "Oakfield Bank"],
        {"Month": [3000.0, None], "Same month last year": [None, 600.0]},
    )
    many = {"lender_paid_value": {"M": {f"L{i}": float(i) for i in range(12)}}}
    names, series = report.split_series(many, "lender_paid_value", ["M"], top=3)
    assert names == ["L11", "L10", "L9"] and series == {"Month": [11.0, 10.0, 9.0]}
    assert report.split_series({}, "lender_paid_value", ["M"]) == ([], {"Month": []})


def test_split_bridge(fig):
    assert report.split_bridge(
        fig["metrics"], "product_paid_value", "paid_value", "M", "M_prev"
    ) == (["Previous month", "Interest Free"], [250.0, 2750.0])
    made_up = {
        "paid_value": {"M": 900.0, "M_prev": 1000.0},
        "product_paid_value": {
            "M": {"Hire Purchase": 600.0, "Other": 300.0},
            "M_prev": {"Hire Purchase": 400.0, "Interest Free": 600.0},
        },
    }
    labels, steps = report.split_bridge(made_up, "product_paid_value", "paid_value", "M", "M_prev")
    # A new family rises from nothing, a family that stopped falls to nothing.
    assert labels == ["Previous month", "Hire Purchase", "Other", "Interest Free"]
    assert steps == [1000.0, 200.0, 300.0, -600.0]
    assert sum(steps) == made_up["paid_value"]["M"]
    # No total to start from: the bridge starts at zero.
    assert report.split_bridge({}, "product_paid_value", "paid_value", "M", "M_prev") == (
        ["Previous month"],
        [0.0],
    )


def test_comparison_notes(fig):
    assert report.comparison_notes(fig["metrics"], ["submissions", "paid_value"]) == [
        "Submissions: 4 against 1 in the same month last year (▲ 300.0%).",
        "Paid value: £3.0k against £600 in the same month last year (▲ 400.0%).",
    ]
    made_up = {
        "approval_rate": {"M": 0.5, "M_ly": 0.4, "YTD": 0.45, "YTD_prev": 0.5},
        "paid_value": {"YTD": 3250.0, "YTD_prev": 0.0},
        "paid": {"M": 3},
    }
    assert report.comparison_notes(made_up, ["approval_rate", "paid_value", "paid"]) == [
        "Approval rate: 50.0% against 40.0% in the same month last year (▲ 10.0 pp); "
        "45.0% year to date against 50.0% a year earlier (▼ 5.0 pp).",
        # From zero there is no percentage change.
        "Paid value: £3.2k year to date against £0 a year earlier (–).",
    ]


def test_is_empty_month(fig):
    assert not report.is_empty_month(fig["metrics"])
    assert report.is_empty_month({})
    assert report.is_empty_month({"submissions": {"M": 0}, "paid": {"M": None}, "signed": {}})
    # Only a cancellation still counts as something happening.
    assert not report.is_empty_month({"cancelled": {"M": 1}})
    assert report.is_empty_month({"cancelled": {"M_prev": 1}})  # another window
    assert not report.is_empty_month({"paid": {"LW": 1}}, "LW")


# ----------------------------------------------------------------------------- rankings


def test_ranked(fig):
    assert report.ranked(fig["retailers"], "submissions", "M") == [
        ("R1", "Smith & Sons <Beds>", 3),
        ("R2", "Ace Sofas", 1),
    ]  # the four with 0 are left out
    entries = {
        "b": entry("Tie", paid={"M": 2}),
        "a": entry("Tie", paid={"M": 2}),
        "c": entry("Aardvark", paid={"M": 2}),
        "d": entry("Big", paid={"M": 9}),
        "e": entry("None", paid={"M": None}),
        "f": entry("Nothing"),
    }
    assert report.ranked(entries, "paid", "M") == [
        ("d", "Big", 9),
        ("c", "Aardvark", 2),
        ("a", "Tie", 2),
        ("b", "Tie", 2),
    ]
    assert report.ranked(entries, "paid", "M", top=2) == [("d", "Big", 9), ("c", "Aardvark", 2)]
    assert report.ranked({}, "paid", "M") == []


def test_top_entries(fig):
    top = report.top_entries(fig["bdms"], "submissions", "M", 5)
    assert list(top) == ["U1"]  # U2 and U3 submitted nothing in March
    assert top["U1"] is fig["bdms"]["U1"]


def test_entity_series():
    entries = {
        "a": entry("Same", paid={"M": 1, "M_prev": 2}),
        "b": entry("Same", paid={"M": 5}),
        "c": entry("Other & Co"),
    }
    # Chart categories must not repeat: a shared name takes the id.
    assert report.entity_series(entries, "paid", ["M", "M_prev"]) == (
        ["Same (b)", "Same (a)", "Other & Co"],
        {"Month": [5, 1, None], "Previous month": [None, 2, None]},
    )


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-5, 50)), max_size=12),
    top=st.one_of(st.none(), st.integers(0, 5)),
)
def test_ranked_property(values, top):
    entries = {f"id{i}": entry(f"N{i % 3}", paid={"M": v}) for i, v in enumerate(values)}
    got = report.ranked(entries, "paid", "M", top=top)
    assert all(v for _, _, v in got)  # never a null or a zero
    assert [v for _, _, v in got] == sorted((v for _, _, v in got), reverse=True)
    kept = [v for v in values if v]
    assert len(got) == (len(kept) if top is None else min(top, len(kept)))


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_ageing(fig):
    assert report.pipeline_ageing(fig["pipeline"]) == {
        "ans": {
            "0–7": {"count": 0, "value": 0.0},
            "8–30": {"count": 1, "value": 800.0},
            "31–90": {"count": 0, "value": 0.0},
            "90+": {"count": 1, "value": 3000.0},
        },
        "snp": {
            "0–7": {"count": 0, "value": 0.0},
            "8–30": {"count": 1, "value": 500.0},
            "31–90": {"count": 0, "value": 0.0},
            "90+": {"count": 0, "value": 0.0},
        },
    }


def test_pipeline_ageing_of_nothing():
    empty = {b: {"count": 0, "value": 0.0} for b in metrics.PIPELINE_BUCKETS}
    assert report.pipeline_ageing({}) == {"ans": empty, "snp": empty}


amounts = st.one_of(st.none(), st.integers(0, 10_000_000).map(lambda p: p / 100))
items = st.fixed_dictionaries(
    {"amount": amounts, "bucket": st.sampled_from(metrics.PIPELINE_BUCKETS)}
)


@settings(max_examples=60, deadline=None)
@given(ans=st.lists(items, max_size=30), snp=st.lists(items, max_size=30))
def test_pipeline_ageing_adds_up_to_the_pipeline(ans, snp):
    got = report.pipeline_ageing({"ans": ans, "snp": snp})
    for stage, rows in (("ans", ans), ("snp", snp)):
        assert list(got[stage]) == list(metrics.PIPELINE_BUCKETS)
        assert sum(b["count"] for b in got[stage].values()) == len(rows)
        # Exact to the penny: what the pipeline_*_value metric adds up.
        pence = sum(round((r["amount"] or 0) * 100) for r in rows)
        assert sum(round(b["value"] * 100) for b in got[stage].values()) == pence


def test_ageing_series(fig):
    ageing = report.pipeline_ageing(fig["pipeline"])
    buckets = ["0–7", "8–30", "31–90", "90+"]
    assert report.ageing_series(ageing, "count") == (
        buckets,
        {"Approved but not signed": [0, 1, 0, 1], "Signed but not paid": [0, 1, 0, 0]},
    )
    assert report.ageing_series(ageing, "value")[1]["Approved but not signed"] == [
        0.0,
        800.0,
        0.0,
        3000.0,
    ]
    assert report.ageing_series({}, "count") == (
        [],
        {"Approved but not signed": [], "Signed but not paid": []},
    )


# ----------------------------------------------------------------------------- notes


def test_named_facts(fig):
    facts = report.named_facts(fig["bdms"], ["submissions", "paid_value"], "M", "M_prev")
    assert facts == [
        Fact("Bea One: Submissions", 4, 2, "count", "green", "submissions", "M"),
        Fact("Bea One: Paid value", 3000.0, 250.0, "money", "green", "paid_value", "M"),
    ]
    by_retailer = report.named_facts(fig["retailers"], ["submissions"], "M", "M_prev", top=1)
    assert [(f.label, f.value, f.previous) for f in by_retailer] == [
        ("Smith & Sons <Beds>: Submissions", 3, 1)
    ]
    # Ranked by the first metric: nobody paid anything last March but R3, so only R3 speaks.
    ly = report.named_facts(fig["retailers"], ["paid_value", "submissions"], "M_ly", "M")
    assert [f.label for f in ly] == ["Zed Kitchens: Paid value", "Zed Kitchens: Submissions"]
    assert report.named_facts({}, ["submissions"], "M", "M_prev") == []


def test_rates_note():
    assert report.rates_note({"Interest Free": 0.03, "Hire Purchase": 0.015}) == (
        "Commission rates applied to paid value: Interest Free 3.00%, Hire Purchase 1.50%."
    )
    assert report.rates_note({}) == "No commission rates are set, so commission is not available."


def test_names_note():
    assert report.names_note("Inactive", ["Quiet Ltd", "Old Hands"]) == (
        "Inactive: Quiet Ltd, Old Hands."
    )
    many = [f"R{i}" for i in range(11)]
    assert report.names_note("Inactive", many) == (
        "Inactive: R0, R1, R2, R3, R4, R5, R6, R7 and 3 more."
    )
    assert report.names_note("Inactive", many, limit=10) == (
        "Inactive: R0, R1, R2, R3, R4, R5, R6, R7, R8, R9 and 1 more."
    )
    assert report.names_note("Inactive", []) is None
