"""Since the last report: pipeline movements and restated figures (lib.report.since)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from lib import blocks, report
from lib import formatting as fmt
from lib import snapshot as snapshot_mod
from lib.figures import jsonable
from lib.report import since

SUNDAYS = [date(2026, 11, 22) - timedelta(weeks=k) for k in range(7, -1, -1)]  # 8 weeks


def _figures(snap, target, as_of):
    scoped = report.scope(snap, target)
    fig = report.figures("retailer_weekly", scoped, target, as_of, ["LW", "MTD"])
    return jsonable(fig), scoped


def _refs(fig, stage):
    return {i["ref"] for i in fig["pipeline"][stage]}


def _check_identity(previous, current, moved):
    for stage in since.STAGES:
        before, now = _refs(previous, stage), _refs(current, stage)
        new = set(moved["pipeline"][stage]["new"])
        left = {m["ref"] for m in moved["pipeline"][stage]["left"]}
        assert (before - left) | new == now, stage
        assert not new & before and left <= before
        assert len(left) == len(moved["pipeline"][stage]["left"])


@pytest.mark.parametrize("scope", ["book", "retailer"])
def test_set_identity_over_consecutive_demo_weeks(demo_snapshot, scope):
    if scope == "book":
        target = report.Target("none", "all", "All retailers")
    else:
        target = report.retailer_target(demo_snapshot, "")
    moved_any = set()
    previous = None
    for as_of in SUNDAYS:
        fig, scoped = _figures(demo_snapshot, target, as_of)
        moved = since.since_last(fig, previous, scoped)
        if previous is None:
            assert moved["previous_as_of"] is None
        else:
            assert moved["previous_as_of"] == previous["as_of"]
            _check_identity(previous, fig, moved)
            # The same data seen a week later restates nothing.
            assert moved["restated"] == []
            for left in moved["pipeline"]["ans"]["left"]:
                moved_any.add(left["to"])
                if left["to"] == "signed":
                    assert left["ref"] in _refs(fig, "snp")
            for left in moved["pipeline"]["snp"]["left"]:
                moved_any.add(left["to"])
                assert left["to"] in ("paid", "cancelled", "gone")
        previous = fig
    if scope == "book":
        # Eight weeks of a live book see applications signed, paid out and cancelled.
        assert {"signed", "paid", "cancelled"} <= moved_any


@settings(max_examples=60, deadline=None)
@given(
    before=st.dictionaries(st.sampled_from(since.STAGES), st.sets(st.integers(0, 30))),
    after=st.dictionaries(st.sampled_from(since.STAGES), st.sets(st.integers(0, 30))),
)
def test_pipeline_moves_identity(before, after):
    prev = {s: [f"APP-{i:03d}" for i in v] for s, v in before.items()}
    now = {s: [f"APP-{i:03d}" for i in v] for s, v in after.items()}
    where = {r: "paid" for refs in prev.values() for r in refs}
    moved = since.pipeline_moves(prev, now, where)
    for s in since.STAGES:
        new = set(moved[s]["new"])
        left = {m["ref"] for m in moved[s]["left"]}
        assert (set(prev.get(s, ())) - left) | new == set(now.get(s, ()))
        assert moved[s]["new"] == sorted(new)
        assert all(m["to"] == "paid" for m in moved[s]["left"])


def _paid_in(snap, first, last):
    """An application paid out in [first, last] with an amount, and its retailer."""
    apps = snap.applications
    mask = (apps["paid_day"] >= str(first)) & (apps["paid_day"] <= str(last)) & (apps["amount"] > 0)
    row = apps.loc[mask].sort_values("Name").iloc[0]
    return row["Name"], row["Retailer__c"]


def test_a_changed_amount_is_restated_with_both_values(demo_snapshot, demo_tables, tmp_path):
    week1, week2 = date(2026, 11, 15), date(2026, 11, 22)
    ref, retailer = _paid_in(demo_snapshot, date(2026, 11, 9), week1)
    target = report.retailer_target(demo_snapshot, retailer)
    tables = {k: v.copy() for k, v in demo_tables.items()}
    apps = tables["applications"]
    row = apps["Name"] == ref
    old = float(apps.loc[row, "Loan_Amount__c"].iloc[0])
    apps.loc[row, "Loan_Amount__c"] = old + 635.0
    corrected = snapshot_mod.load(
        snapshot_mod.write(tables, tmp_path / "b", source="demo", as_of=week2)
    )

    previous, _ = _figures(demo_snapshot, target, week1)
    current, scoped = _figures(corrected, target, week2)
    moved = since.since_last(current, previous, scoped)
    paid = [r for r in moved["restated"] if r["metric"] == "paid_value"]
    assert paid == [
        {
            "metric": "paid_value",
            "window": "LW",
            "published": previous["metrics"]["paid_value"]["LW"],
            "now": previous["metrics"]["paid_value"]["LW"] + 635.0,
        }
    ]
    # Every metric that moved is a value of that one application; counts did not move.
    assert {r["metric"] for r in moved["restated"]} <= {
        "paid_value",
        "avg_loan",
        "commission",
        "submitted_value",
        "pipeline_ans_value",
    }
    block = blocks.since_last(moved, current["pipeline"], as_of=current["as_of"])
    line = (
        f"Restated: last week's paid value {fmt.money(paid[0]['published'])} → "
        f"{fmt.money(paid[0]['now'])}"
    )
    assert str(escape(line)) in block.html and str(escape(line)) in block.email
    assert line in block.text
    assert "Since last week" in block.html


def test_rounding_is_not_a_restatement():
    previous = {
        "as_of": "2026-11-15",
        "windows": {"LW": ["2026-11-09", "2026-11-15"]},
        "metrics": {
            "paid_value": {"LW": 100.2},
            "approval_rate": {"LW": 0.50001},
            "conversion": {"LW": 0.1},
        },
    }
    current = {
        "as_of": "2026-11-22",
        "windows": {"LW": ["2026-11-16", "2026-11-22"], "LW_prev": ["2026-11-09", "2026-11-15"]},
        "metrics": {
            "paid_value": {"LW_prev": 100.4},
            "approval_rate": {"LW_prev": 0.50002},
            "conversion": {"LW_prev": 0.3},
        },
    }
    assert since.restatements(previous, current) == []
    current["metrics"]["paid_value"]["LW_prev"] = 100.6
    assert since.restatements(previous, current) == [
        {"metric": "paid_value", "window": "LW", "published": 100.2, "now": 100.6}
    ]


def test_board_month_is_compared_with_the_month_before():
    previous = {
        "as_of": "2026-09-30",
        "windows": {"M": ["2026-09-01", "2026-09-30"], "M_prev": ["2026-08-01", "2026-08-31"]},
        "metrics": {"submissions": {"M": 10, "M_prev": 3}},
    }
    current = {
        "as_of": "2026-10-31",
        "windows": {"M": ["2026-10-01", "2026-10-31"], "M_prev": ["2026-09-01", "2026-09-30"]},
        "metrics": {"submissions": {"M": 12, "M_prev": 11}},
    }
    assert since.restatements(previous, current) == [
        {"metric": "submissions", "window": "M", "published": 10, "now": 11}
    ]


def test_first_report_has_no_previous(demo_snapshot):
    target = report.retailer_target(demo_snapshot, "")
    fig, scoped = _figures(demo_snapshot, target, SUNDAYS[-1])
    moved = since.since_last(fig, None, scoped)
    assert moved == since.empty()
    assert moved["previous_as_of"] is None
    block = blocks.since_last(moved, fig["pipeline"], as_of=fig["as_of"])
    assert "This is the first report" in block.html


def test_destinations_take_the_latest_event(demo_snapshot):
    apps = demo_snapshot.applications
    paid = apps.loc[apps["paid_day"].notna() & apps["signed_day"].notna()].iloc[0]
    declined = apps.loc[apps["Decision__c"] == "Declined"].iloc[0]
    as_of = paid["paid_day"].date()
    found = since.destinations(demo_snapshot, [paid["Name"], declined["Name"], "APP-NOPE"], as_of)
    assert found[paid["Name"]] == "paid"
    assert found["APP-NOPE"] == "gone"
    assert found[declined["Name"]] in ("declined", "cancelled")
    # Before the payout, the same application had only been signed.
    before = since.destinations(demo_snapshot, [paid["Name"]], paid["signed_day"].date())
    assert before[paid["Name"]] == "signed"


def test_stage_line_states_the_identity():
    moves = {
        "new": ["A", "B", "C"],
        "left": [
            {"ref": "X", "to": "signed"},
            {"ref": "Y", "to": "signed"},
            {"ref": "Z", "to": "cancelled"},
        ],
    }
    line = blocks.since.stage_line("ans", moves, 14)
    assert line == "Approved but not signed: 14 → 14 (3 new; 2 signed, 1 cancelled)"
    assert blocks.since.stage_line("snp", {"new": [], "left": []}, 2) == (
        "Signed but not paid: 2 → 2 (none new; none left)"
    )
