"""lib.report.assemble on the hand-built book of ``tests/lib/report/book.py``: targets,
scoping (a retailer's figures hold only its own rows), figures.json and commentary notes.

Expected numbers are literals worked out in book.py's docstring.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import demo, periods, report, snapshot
from lib.errors import InputError
from lib.report import Target
from lib.snapshot import Snapshot
from tests.lib.report.book import ACCOUNTS, APPS, NAMES, USERS, A, report_snapshot

WHOLE = Target("none", "", "All retailers")
RATES = {"Interest Free": 0.02}


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return report_snapshot()


@pytest.fixture(scope="module")
def fig(snap: Snapshot) -> dict[str, Any]:
    return report.figures(
        "monthly", snap, WHOLE, A, ["M"], commission_rates=RATES, per_retailer=True, per_bdm=True
    )


def raw_tables(snap: Snapshot) -> dict[str, Any]:
    """What ``snapshot.write`` takes (it drops the derived columns)."""
    return {"users": snap.users, "accounts": snap.accounts, "applications": snap.applications}


# ----------------------------------------------------------------------------- open_snapshot


def test_target_to_json_leaves_out_the_contact(snap):
    target = Target("retailer", "R1", "Smith & Sons <Beds>", email="owner@smith.example")
    assert target.to_json() == {"kind": "retailer", "id": "R1", "name": "Smith & Sons <Beds>"}
    # The delivery address is the runner's business, never a published figure.
    fig = report.figures("weekly", report.scope(snap, target), target, A, ["M"])
    assert "owner@smith.example" not in json.dumps(fig)


def test_open_snapshot_from_a_path_is_loaded_once_until_rewritten(snap, tmp_path):
    out = tmp_path / "snap"
    snapshot.write(raw_tables(snap), out, source="test", as_of=A)

    first, day = report.open_snapshot(str(out), "2026-03-31")
    assert day == A
    assert sorted(first.applications["Id"]) == sorted(a[0] for a in APPS)
    assert dict(zip(first.accounts["Id"], first.accounts["Name"], strict=True)) == NAMES
    # A warm kernel serving many targets loads the snapshot once.
    again, _ = report.open_snapshot(str(out), "2026-03-31", monthly=True)
    assert again is first

    # Rewritten in place (a new extract): the next run sees the new data.
    one_app = report_snapshot(APPS[:1])
    snapshot.write(raw_tables(one_app), out, source="test", as_of=A)
    fresh, _ = report.open_snapshot(str(out), "2026-03-31")
    assert list(fresh.applications["Id"]) == ["A1"]


def test_open_snapshot_without_a_path_builds_the_demo_once(snap, tmp_path, monkeypatch):
    calls: list[date] = []

    def generate(as_of: date) -> dict[str, Any]:
        calls.append(as_of)
        return raw_tables(snap)

    monkeypatch.setattr(report.assemble, "DEMO_OUTPUTS", tmp_path)
    monkeypatch.setattr(demo, "generate", generate)
    monkeypatch.setattr(periods, "default_as_of", lambda now=None: A)

    loaded, day = report.open_snapshot("", "")
    assert day == A  # yesterday, by default
    assert calls == [A]
    assert (tmp_path / "snapshots" / "demo" / "2026-03-31" / snapshot.MANIFEST).is_file()
    assert len(loaded.applications) == len(APPS)

    # Already built: reused, not regenerated; an explicit as_of is the report's day.
    _, day = report.open_snapshot("", "2026-03-15")
    assert day == date(2026, 3, 15)
    assert calls == [A, date(2026, 3, 15)]
    _, day = report.open_snapshot("", "2026-03-15")
    assert calls == [A, date(2026, 3, 15)]


def test_open_snapshot_monthly_default_is_the_last_month_end(snap, tmp_path, monkeypatch):
    calls: list[date] = []
    monkeypatch.setattr(report.assemble, "DEMO_OUTPUTS", tmp_path)
    monkeypatch.setattr(demo, "generate", lambda as_of: calls.append(as_of) or raw_tables(snap))
    monkeypatch.setattr(periods, "default_as_of", lambda now=None: date(2026, 4, 14))

    _, day = report.open_snapshot("", "", monthly=True)
    # The pack covers March; the demo data is yesterday's, as a live extract would be.
    assert day == date(2026, 3, 31)
    assert calls == [date(2026, 4, 14)]
    # On the first of a month, yesterday is itself the month end.
    monkeypatch.setattr(periods, "default_as_of", lambda now=None: date(2026, 3, 31))
    assert report.open_snapshot("", "", monthly=True)[1] == date(2026, 3, 31)
    # An explicit as_of is taken as it is.
    assert report.open_snapshot("", "2026-02-28", monthly=True)[1] == date(2026, 2, 28)


# ----------------------------------------------------------------------------- targets


def test_retailer_target(snap):
    assert report.retailer_target(snap, "R3") == Target("retailer", "R3", "Zed Kitchens")
    # Empty (interactive use): the first Live retailer by name; Suspended R3 and Closed R6
    # are never the default.
    assert report.retailer_target(snap, "") == Target("retailer", "R2", "Ace Sofas")


def test_retailer_target_errors(snap):
    with pytest.raises(InputError, match="'R9' is not in the snapshot"):
        report.retailer_target(snap, "R9")
    closed = report_snapshot([], [("R6", None, "Closed", None)], [])
    with pytest.raises(InputError, match="no Live retailer"):
        report.retailer_target(closed, "")


def test_bdm_target(snap):
    # Ada Gone sorts first and owns Live R5, but is inactive.
    assert report.bdm_target(snap, "") == Target("bdm", "U1", "Bea One")
    # Asked for by id, an inactive BDM still gets a report.
    assert report.bdm_target(snap, "U3") == Target("bdm", "U3", "Ada Gone")


def test_bdm_target_errors(snap):
    with pytest.raises(InputError, match="BDM 'U9' is not in the snapshot"):
        report.bdm_target(snap, "U9")
    # The only Live retailer's BDM is inactive; U2 owns a Suspended one only.
    no_live = report_snapshot(APPS, [("R3", "U2", "Suspended", None), ("R5", "U3", "Live", None)])
    with pytest.raises(InputError, match="no active BDM with a Live retailer"):
        report.bdm_target(no_live, "")


# ----------------------------------------------------------------------------- scope


def test_scope_of_a_retailer_holds_only_its_rows(snap):
    mine = report.scope(snap, Target("retailer", "R1", NAMES["R1"]))
    assert list(mine.accounts["Id"]) == ["R1"]
    assert sorted(mine.applications["Id"]) == ["A1", "A2", "A3", "A8"]
    assert list(mine.users["Id"]) == ["U1"]  # its BDM, nobody else's


def test_scope_of_a_bdm_holds_only_their_retailers(snap):
    u1 = report.scope(snap, Target("bdm", "U1", "Bea One"))
    assert list(u1.accounts["Id"]) == ["R1", "R2"]
    assert sorted(u1.applications["Id"]) == ["A1", "A2", "A3", "A4", "A5", "A8"]
    u2 = report.scope(snap, Target("bdm", "U2", "Cal Two"))
    assert list(u2.accounts["Id"]) == ["R3", "R4"]  # not R6, which has no owner
    assert sorted(u2.applications["Id"]) == ["A6", "A7"]
    assert report.scope(snap, Target("bdm", "U9", "Nobody")).applications.empty
    # A BDM's portfolio report lists their retailers and their pipeline only.
    bea = Target("bdm", "U1", "Bea One")
    fig = report.figures("portfolio", report.scope(snap, bea), bea, A, ["M"], per_retailer=True)
    assert list(fig["retailers"]) == ["R1", "R2"]
    assert {r["retailer"] for stage in fig["pipeline"].values() for r in stage} == {"R1", "R2"}


def test_scope_of_the_whole_book_is_the_book(snap):
    assert report.scope(snap, WHOLE) is snap


def test_a_retailers_figures_mention_no_other_retailer(snap):
    target = Target("retailer", "R1", NAMES["R1"])
    fig = report.figures("weekly", report.scope(snap, target), target, A, ["M"])
    text = json.dumps(fig, ensure_ascii=False)
    for rid, name in NAMES.items():
        if rid != "R1":
            assert name not in text
            assert f'"{rid}"' not in text
    # R1's one pipeline item is the only application named.
    assert [a[0] for a in APPS if f'"APP-{a[0]}"' in text] == ["A2"]
    assert fig["metrics"]["submissions"] == {"M": 3, "M_prev": 1, "M_ly": 0}
    assert fig["metrics"]["paid_value"] == {"M": 1000.0, "M_prev": 250.0, "M_ly": 0.0}


@st.composite
def books(draw: st.DrawFn) -> Snapshot:
    n = draw(st.integers(1, 5))
    accounts = [
        (f"R{i}", draw(st.sampled_from(["U1", "U2", None])), "Live", None) for i in range(n)
    ]
    owners = [draw(st.sampled_from([a[0] for a in accounts] + ["RX"])) for _ in range(12)]
    # The book's applications, handed out to random retailers (RX is in no account).
    apps = [(f"Q{i}", rid, *APPS[i % len(APPS)][2:]) for i, rid in enumerate(owners)]
    return report_snapshot(apps, accounts, USERS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books())
def test_scope_never_leaks_property(book):
    for rid in book.accounts["Id"]:
        mine = report.scope(book, Target("retailer", rid, ""))
        assert set(mine.applications["Retailer__c"]) <= {rid}
        expected = (book.applications["Retailer__c"] == rid).sum()
        assert len(mine.applications) == expected
    for uid in ("U1", "U2", "U3"):
        theirs = report.scope(book, Target("bdm", uid, ""))
        owned = set(book.accounts.loc[book.accounts["OwnerId"] == uid, "Id"])
        assert set(theirs.accounts["Id"]) == owned
        assert set(theirs.applications["Retailer__c"]) <= owned
        assert set(theirs.users["Id"]) <= {uid}


# ----------------------------------------------------------------------------- figures


def test_windows():
    assert {k: w.to_json() for k, w in report.windows(A, ["M"]).items()} == {
        "M": ["2026-03-01", "2026-03-31"],
        "M_prev": ["2026-02-01", "2026-02-28"],
        "M_ly": ["2025-03-01", "2025-03-31"],
    }
    april_year = report.windows(date(2026, 5, 31), ["YTD"], fiscal_year_start_month=4)
    assert {k: w.to_json() for k, w in april_year.items()} == {
        "YTD": ["2026-04-01", "2026-05-31"],
        "YTD_prev": ["2025-04-01", "2025-05-31"],
    }


def test_pipeline(snap):
    def since(days: int) -> str:  # the stage's date: A less the days waiting
        return (A - timedelta(days=days)).isoformat()

    assert report.pipeline(snap, A) == {
        "ans": [
            {"ref": "APP-A6", "lender": "Oakfield Bank", "product": "Hire Purchase",
             "amount": 3000.0, "date": since(120), "days": 120, "bucket": "90+"},
            {"ref": "APP-A5", "lender": "Northwind Bank", "product": "Interest Free",
             "amount": 800.0, "date": since(11), "days": 11, "bucket": "8–30"},
        ],
        "snp": [
            {"ref": "APP-A2", "lender": "Oakfield Bank", "product": "Buy Now Pay Later",
             "amount": 500.0, "date": since(19), "days": 19, "bucket": "8–30"},
        ],
    }  # fmt: skip
    with_retailer = report.pipeline(snap, A, with_retailer=True)
    assert [r["retailer"] for r in with_retailer["ans"] + with_retailer["snp"]] == [
        "R3",
        "R2",
        "R1",
    ]
    row = with_retailer["ans"][0]
    assert [type(row[k]) for k in ("ref", "amount", "days", "retailer")] == [str, float, int, str]


def test_pipeline_of_an_empty_book():
    assert report.pipeline(report_snapshot([], [], []), A) == {"ans": [], "snp": []}


def test_figures_of_the_whole_book(fig):
    assert list(fig) == ["report", "target", "as_of", "windows", "metrics", "pipeline", "retailers", "bdms"]  # fmt: skip
    assert fig["report"] == "monthly"
    assert fig["target"] == {"kind": "none", "id": "", "name": "All retailers"}
    assert fig["as_of"] == "2026-03-31"
    assert fig["windows"]["M_ly"] == ["2025-03-01", "2025-03-31"]
    m = fig["metrics"]
    assert m["submissions"] == {"M": 4, "M_prev": 2, "M_ly": 1}
    assert m["paid"] == {"M": 2, "M_prev": 1, "M_ly": 1}
    assert m["paid_value"] == {"M": 3000.0, "M_prev": 250.0, "M_ly": 600.0}
    assert m["lender_paid_value"]["M"] == {"Northwind Bank": 3000.0}
    # 2% of Interest Free paid value; Hire Purchase (M_ly) has no rate.
    assert m["commission"] == {"M": 60.0, "M_prev": 5.0, "M_ly": 0.0}
    assert m["pipeline_ans_count"] == {"as_at": 2}
    assert m["pipeline_ans_value"] == {"as_at": 3800.0}
    assert m["pipeline_snp_value"] == {"as_at": 500.0}
    assert m["inactive_retailers"] == {"as_at": 2}
    assert [r["ref"] for r in fig["pipeline"]["ans"]] == ["APP-A6", "APP-A5"]
    assert fig["pipeline"]["ans"][0]["retailer"] == "R3"  # roll-ups name the retailer
    json.dumps(fig, allow_nan=False)


def test_figures_per_retailer(fig):
    got = {
        rid: (e["name"], e["status"], e["bdm"], e["metrics"]["submissions"])
        for rid, e in fig["retailers"].items()
    }
    assert got == {
        "R1": ("Smith & Sons <Beds>", "Live", "U1", {"M": 3, "M_prev": 1, "M_ly": 0}),
        "R2": ("Ace Sofas", "Live", "U1", {"M": 1, "M_prev": 1, "M_ly": 0}),
        "R3": ("Zed Kitchens", "Suspended", "U2", {"M": 0, "M_prev": 0, "M_ly": 1}),
        "R4": ("Quiet Ltd", "Live", "U2", {"M": 0, "M_prev": 0, "M_ly": 0}),
        "R5": ("Old Hands", "Live", "U3", {"M": 0, "M_prev": 0, "M_ly": 0}),
        "R6": ("Shut Co", "Closed", None, {"M": 0, "M_prev": 0, "M_ly": 0}),
    }
    assert fig["retailers"]["R2"]["metrics"]["paid_value"] == {
        "M": 2000.0,
        "M_prev": 0.0,
        "M_ly": 0.0,
    }


def test_figures_per_bdm(fig):
    got = {uid: (e["name"], e["metrics"]["submissions"]) for uid, e in fig["bdms"].items()}
    # R6 has no owner: its (empty) group is "unassigned", which is nobody's report.
    assert got == {
        "U1": ("Bea One", {"M": 4, "M_prev": 2, "M_ly": 0}),
        "U2": ("Cal Two", {"M": 0, "M_prev": 0, "M_ly": 1}),
        "U3": ("Ada Gone", {"M": 0, "M_prev": 0, "M_ly": 0}),
    }
    assert list(fig["bdms"]["U1"]) == ["name", "metrics"]


@pytest.mark.parametrize("rates", [None, {}])
def test_no_commission_rates_means_no_commission(snap, rates):
    fig = report.figures("weekly", snap, WHOLE, A, ["M"], commission_rates=rates)
    assert fig["metrics"]["commission"] == {"M": None, "M_prev": None, "M_ly": None}
    assert "retailers" not in fig and "bdms" not in fig
    assert "retailer" not in fig["pipeline"]["ans"][0]


def test_figures_of_an_empty_book():
    empty = report_snapshot([], [], [])
    fig = report.figures("weekly", empty, WHOLE, A, ["M"], per_retailer=True, per_bdm=True)
    assert fig["metrics"]["submissions"] == {"M": 0, "M_prev": 0, "M_ly": 0}
    assert fig["metrics"]["approval_rate"] == {"M": None, "M_prev": None, "M_ly": None}
    assert fig["metrics"]["pipeline_ans_count"] == {"as_at": 0}
    assert fig["pipeline"] == {"ans": [], "snp": []}
    assert fig["retailers"] == {} and fig["bdms"] == {}
    json.dumps(fig, allow_nan=False)


def test_figures_of_a_window_with_no_data(snap):
    # June 2024: before the first application.
    fig = report.figures("monthly", snap, WHOLE, date(2024, 6, 30), ["M"])
    m = fig["metrics"]
    assert m["submissions"] == {"M": 0, "M_prev": 0, "M_ly": 0}
    assert m["paid_value"] == {"M": 0.0, "M_prev": 0.0, "M_ly": 0.0}
    assert m["avg_loan"]["M"] is None
    assert m["lender_paid_value"]["M"] == {}
    assert fig["pipeline"] == {"ans": [], "snp": []}


# ----------------------------------------------------------------------------- notes


def test_inactive_retailers(snap):
    assert report.inactive_retailers(snap, A) == ["Old Hands", "Quiet Ltd"]


def test_inactive_retailers_window_edge(snap):
    # The 30 days ending at A are 2-31 March. Without A2 and A8, R1's latest submission is
    # A1: on 2 March it counts, moved to 1 March it does not.
    on_edge = report_snapshot([APPS[0], *APPS[2:7]])
    assert report.inactive_retailers(on_edge, A) == ["Old Hands", "Quiet Ltd"]
    a1 = ("A1", *APPS[0][1:5], "2026-03-01T09:00", *APPS[0][6:])
    quiet = report_snapshot([a1, *APPS[2:7]])
    assert report.inactive_retailers(quiet, A) == ["Old Hands", "Quiet Ltd", "Smith & Sons <Beds>"]
    # At 15 March (14 Feb - 15 Mar), R2's A4 (10 Feb) is too early and A5 (20 Mar) too late.
    assert report.inactive_retailers(snap, date(2026, 3, 15)) == [
        "Ace Sofas",
        "Old Hands",
        "Quiet Ltd",
    ]
    assert report.inactive_retailers(report_snapshot([], ACCOUNTS), A) == [
        "Ace Sofas",
        "Old Hands",
        "Quiet Ltd",
        "Smith & Sons <Beds>",
    ]


def test_pipeline_notes(snap):
    assert report.pipeline_notes(report.pipeline(snap, A)) == [
        "Approved but not signed: 2 applications worth £3.8k; 1 of them waiting over 30 days.",
        "Signed but not paid: 1 application worth £500; 0 of them waiting over 30 days.",
    ]


def test_pipeline_notes_edges():
    assert report.pipeline_notes({"ans": [], "snp": []}) == []
    assert report.pipeline_notes({}) == []
    # Unknown amounts and ages count as nothing; 30 days is not "over 30".
    items = {
        "snp": [
            {"amount": None, "days": None},
            {"amount": 1234.5, "days": 30},
            {"amount": 1, "days": 31},
        ]
    }
    assert report.pipeline_notes(items) == [
        "Signed but not paid: 3 applications worth £1.2k; 1 of them waiting over 30 days."
    ]  # fmt: skip


def test_period_series(fig):
    assert report.period_series(fig["metrics"], "submissions", ["M"]) == (
        ["Month"],
        {"This period": [4], "Previous period": [2]},
    )
    week = {"submissions": {"LW": 5, "LW_prev": 0, "MTD": None}}
    assert report.period_series(week, "submissions", ["LW", "MTD"]) == (
        ["Last week", "Month to date"],
        {"This period": [5, None], "Previous period": [0, None]},
    )
    assert report.period_series({}, "paid", ["LW"]) == (
        ["Last week"],
        {"This period": [None], "Previous period": [None]},
    )


def test_portfolio_retailers(fig):
    # Closed R6 had no submissions in M: left out; Suspended R3 stays.
    assert report.portfolio_retailers(fig["retailers"], "M") == ["R2", "R5", "R4", "R1", "R3"]
    entries = {
        "a": {"name": "Zeta", "status": "Closed", "metrics": {"submissions": {"YTD": 2}}},
        "b": {"name": "Alpha", "status": "Onboarding", "metrics": {"submissions": {"YTD": 0}}},
        "c": {"name": "Alpha", "status": "Live", "metrics": {}},
        "d": {"name": "Alpha", "status": "Suspended", "metrics": {"submissions": {"YTD": None}}},
    }
    assert report.portfolio_retailers(entries) == ["c", "d", "a"]
    assert report.portfolio_retailers({}) == []


def test_volume_drops():
    def entry(name: str, now: Any, before: Any) -> dict[str, Any]:
        return {"name": name, "metrics": {"submissions": {"LW": now, "LW_prev": before}}}

    entries = {
        "1": entry("Up & Co", 12, 10),
        "2": entry("Halved", 5, 10),
        "3": entry("From nothing", 3, 0),
        "4": entry("Unknown", None, 7),
        "5": entry("Also halved", 1, 6),
        "6": entry("Gone", 0, 4),
        "7": {"name": "No data", "metrics": {}},
    }
    # Largest absolute fall first; a fall from zero or to an unknown value is no drop.
    assert report.volume_drops(entries) == [
        "Also halved: submissions 6 → 1 (▼ 83.3%)",
        "Halved: submissions 10 → 5 (▼ 50.0%)",
        "Gone: submissions 4 → 0 (▼ 100.0%)",
    ]
    assert report.volume_drops(entries, top=1) == ["Also halved: submissions 6 → 1 (▼ 83.3%)"]
    money = {"1": {"name": "Big", "metrics": {"paid_value": {"M": 1500.0, "M_prev": 12000.0}}}}
    assert report.volume_drops(money, "M", metric_id="paid_value") == [
        "Big: paid value £12.0k → £1.5k (▼ 87.5%)"
    ]
    assert report.volume_drops({}) == []


def test_names(fig):
    assert report.names(fig["retailers"]) == NAMES
    assert report.names(fig["bdms"]) == {"U1": "Bea One", "U2": "Cal Two", "U3": "Ada Gone"}
    assert report.names({}) == {}


@pytest.mark.parametrize("as_of", ["2026-13-01", "22/11/2026", "yesterday"])
def test_a_malformed_as_of_names_the_parameter(as_of):
    with pytest.raises(InputError, match=r"parameter as_of: .* is not a date \(YYYY-MM-DD\)"):
        report.open_snapshot("", as_of)
