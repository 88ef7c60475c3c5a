"""Every metric of domain §6 on a small hand-built book whose answers are worked out by hand.

The book (as of A = 2026-03-31; W = March 2026, W_prev = February 2026, W_ly = March 2025):

    users     U1, U2 (BDMs), U3 (owns no retailer)
    accounts  R1 U1 Live      onboarded 2026-03-10
              R2 U1 Live      onboarded 2025-06-01
              R3 U2 Suspended onboarded 2026-02-15
              R4 U2 Live      never onboarded, no applications

Each expected number below is written as a literal derived from the table ``APPS``; the
comments show the arithmetic.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import metrics
from lib.errors import ConfigError, InputError, SnapshotError, UnknownNameError
from lib.metrics import REGISTRY, compute, pipeline_items
from lib.periods import Window
from lib.snapshot import Snapshot
from tests.fixtures.data import book_snapshot

A = date(2026, 3, 31)
WINDOWS = {
    "W": Window(date(2026, 3, 1), date(2026, 3, 31)),
    "W_prev": Window(date(2026, 2, 1), date(2026, 2, 28)),
    "W_ly": Window(date(2025, 3, 1), date(2025, 3, 31)),
}
RATES = {"Interest Free": 0.02, "Buy Now Pay Later": 0.03, "Hire Purchase": 0.01}

USERS = [("U1", "Bea One"), ("U2", "Cal Two"), ("U3", "Dee Three")]
ACCOUNTS = [
    ("R1", "U1", "Live", "2026-03-10"),
    ("R2", "U1", "Live", "2025-06-01"),
    ("R3", "U2", "Suspended", "2026-02-15"),
    ("R4", "U2", "Live", None),
]
# id, retailer, lender, family, amount, submitted (UTC), decision, decided (UTC),
# signed day, paid day, cancelled day. All UTC times fall in GMT, so UTC day = London day.
APPS = [
    ("A1", "R1", "Northwind Bank", "Interest Free", 1000.00, "2026-03-02T09:00", "Approved", "2026-03-02T15:00", "2026-03-05", "2026-03-09", None),
    ("A2", "R1", "Northwind Bank", "Buy Now Pay Later", 500.50, "2026-03-03T10:00", "Approved", "2026-03-04T10:00", "2026-03-10", "2026-03-20", None),
    ("A3", "R1", "Oakfield Bank", "Interest Free", None, "2026-03-04T08:00", "Approved", "2026-03-04T20:00", "2026-03-06", "2026-03-16", None),
    ("A4", "R1", "Oakfield Bank", "Hire Purchase", 2000.00, "2026-03-10T12:00", "Declined", "2026-03-11T00:00", None, None, None),
    ("A5", "R1", "Northwind Bank", "Interest Free", 750.00, "2026-03-20T09:00", "Approved", "2026-03-25T09:00", None, None, None),
    ("A6", "R2", "Oakfield Bank", "Interest Bearing", 1200.00, "2026-02-10T09:00", "Approved", "2026-02-11T09:00", "2026-02-20", "2026-03-03", None),
    ("A7", "R2", "Northwind Bank", "Interest Free", 800.00, "2026-02-12T10:00", "Approved", "2026-02-12T14:00", "2026-02-25", None, "2026-03-05"),
    ("A8", "R2", "Oakfield Bank", "Buy Now Pay Later", 300.00, "2026-03-15T10:00", "Approved", "2026-03-16T10:00", "2026-03-20", None, None),
    ("A9", "R2", "Kestrel Money", "Other", 450.00, "2026-01-05T09:00", "Approved", "2026-01-06T09:00", "2026-04-02", None, None),
    ("A10", "R3", "Northwind Bank", "Interest Free", 5000.00, "2025-12-01T09:00", "Approved", "2025-12-02T09:00", "2025-12-05", None, "2026-04-10"),
    ("A11", "R3", "Oakfield Bank", "Interest Free", 2500.00, "2026-02-20T09:00", "Declined", "2026-02-21T09:00", None, None, None),
    ("A12", "R3", "Northwind Bank", "Hire Purchase", None, "2026-03-28T10:00", "Approved", "2026-04-01T10:00", None, None, None),
    ("A13", "R1", "Northwind Bank", "Interest Free", 400.00, "2026-02-26T09:00", "Approved", "2026-02-26T19:00", "2026-02-28", "2026-03-02", None),
    ("A14", "R2", "Oakfield Bank", "Interest Free", 600.00, "2025-03-10T09:00", "Approved", "2025-03-11T09:00", "2025-03-12", "2025-03-20", None),
    ("A15", "R3", "Northwind Bank", "Buy Now Pay Later", 350.00, "2026-03-05T09:00", "Approved", "2026-03-05T11:00", None, None, "2026-03-12"),
]  # fmt: skip


# ----------------------------------------------------------------------------- builders


def make_snapshot(
    apps: list[tuple] = APPS,
    accounts: list[tuple] = ACCOUNTS,
    users: list[tuple] = USERS,
) -> Snapshot:
    return book_snapshot(apps, accounts, users, as_of=A)


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return make_snapshot()


@pytest.fixture(scope="module")
def book(snap: Snapshot) -> dict[str, Any]:
    return compute(snap, WINDOWS, A, commission_rates=RATES)["all"]


@pytest.fixture(scope="module")
def by_retailer(snap: Snapshot) -> dict[str, Any]:
    return compute(snap, WINDOWS, A, by="retailer", commission_rates=RATES)


@pytest.fixture(scope="module")
def by_bdm(snap: Snapshot) -> dict[str, Any]:
    return compute(snap, WINDOWS, A, by="bdm", commission_rates=RATES)


def values(result: dict[str, Any], window: str) -> dict[str, Any]:
    """``{metric_id: value}`` of one window key."""
    return {m: v[window] for m, v in result.items() if window in v}


# ----------------------------------------------------------------------------- registry

DOMAIN_IDS = [
    "submissions", "submitted_value", "decisions", "approvals", "declines", "approval_rate",
    "signed", "paid", "paid_value", "avg_loan", "cancelled", "sign_rate", "conversion",
    "median_hours_to_decision", "median_days_to_pay", "active_retailers", "new_retailers",
    "inactive_retailers", "pipeline_ans_count", "pipeline_ans_value", "pipeline_snp_count",
    "pipeline_snp_value", "lender_share", "product_share", "top10_concentration", "commission",
]  # fmt: skip
EXTRA_IDS = ["lender_paid_value", "product_paid_value", "lender_submissions"]


def test_registry_has_every_domain_metric_once_in_display_order():
    names = REGISTRY.names()
    assert set(DOMAIN_IDS + EXTRA_IDS + ["growth", "growth_ly"]) == set(names)
    assert len(names) == len(set(names))
    domain_positions = [names.index(m) for m in DOMAIN_IDS if m not in EXTRA_IDS]
    # The domain's own metrics keep the domain's order (extras slot in beside their kin).
    assert domain_positions == sorted(domain_positions)


def test_registry_entries_are_complete():
    units = {"count", "money", "rate", "hours", "days", "share", "map"}
    for name in REGISTRY:
        m = REGISTRY.get(name)
        assert m.id == name
        assert m.label.strip()
        assert len(m.definition.strip()) > 40, name
        assert m.unit in units, name
        assert m.basis in {"window", "as_at"}, name
    as_at = {m for m in REGISTRY if REGISTRY.get(m).basis == "as_at"}
    assert as_at == {
        "inactive_retailers",
        "pipeline_ans_count",
        "pipeline_ans_value",
        "pipeline_snp_count",
        "pipeline_snp_value",
    }


def test_registry_rows_for_the_methodology_appendix():
    rows = metrics.registry_rows()
    assert [r[0] for r in rows] == REGISTRY.names()
    assert rows[0] == (
        "submissions",
        "Submissions",
        "count",
        "Number of applications whose submission date (Submitted_Date__c) falls in W.",
    )
    assert all(rule.strip() for rule in metrics.GENERAL_RULES)


def test_growth_applies_to_count_and_money_metrics_only():
    assert metrics.GROWTH_BASES == (
        "submissions", "submitted_value", "decisions", "approvals", "declines", "signed",
        "paid", "paid_value", "avg_loan", "cancelled", "active_retailers", "new_retailers",
        "commission",
    )  # fmt: skip
    g = metrics.get("growth_paid_value")
    assert (g.id, g.label, g.unit) == ("growth_paid_value", "Paid value growth", "rate")
    assert metrics.get("growth_ly_declines").higher_is_better is False
    assert metrics.get("approval_rate").unit == "rate"
    for bad in ("growth_approval_rate", "growth_pipeline_ans_count", "nope"):
        with pytest.raises(UnknownNameError):
            metrics.get(bad)


def test_map_metrics_say_what_their_items_are():
    maps = {m: metrics.item_unit(m) for m in REGISTRY if REGISTRY.get(m).unit == "map"}
    assert maps == {
        "lender_share": "share",
        "lender_paid_value": "money",
        "lender_submissions": "count",
        "product_share": "share",
        "product_paid_value": "money",
    }
    assert metrics.item_unit("paid_value") is None


def test_growth_rule():
    assert metrics.growth(12, 10) == 0.2
    assert metrics.growth(0, 10) == -1.0
    assert metrics.growth(5, 0) is None
    assert metrics.growth(5, None) is None
    assert metrics.growth(None, 5) is None


# ----------------------------------------------------------------------------- whole book


def test_book_w(book):
    assert values(book, "W") == {
        "submissions": 8,  # A1 A2 A3 A4 A5 A8 A12 A15
        "submitted_value": 4900.5,  # 1000 + 500.50 + 0 (A3 null) + 2000 + 750 + 300 + 0 + 350
        "decisions": 7,  # A1 A2 A3 A4 A5 A8 A15; A12 is decided after A
        "approvals": 6,
        "declines": 1,  # A4
        "approval_rate": 6 / 7,
        "signed": 4,  # A1 A2 A3 A8
        "paid": 5,  # A1 A2 A3 A6 A13
        "paid_value": 3100.5,  # 1000 + 500.50 + 0 + 1200 + 400
        "avg_loan": 620.1,  # 3100.50 / 5
        "cancelled": 2,  # A7 (after signing) and A15 (before signing)
        "sign_rate": 4 / 6,
        "conversion": 0.375,  # of the 8 submitted, A1 A2 A3 paid by A
        "median_hours_to_decision": 12.0,  # 2 6 12 12 24 24 120
        "median_days_to_pay": 10.0,  # 2 4 10 10 11
        "active_retailers": 3,  # R1 R2 R3
        "new_retailers": 1,  # R1
        "lender_share": {"Northwind Bank": 1900.5 / 3100.5, "Oakfield Bank": 1200 / 3100.5},
        "lender_paid_value": {"Northwind Bank": 1900.5, "Oakfield Bank": 1200.0},
        "lender_submissions": {"Northwind Bank": 5, "Oakfield Bank": 3},
        "product_share": {
            "Interest Free": 1400 / 3100.5,
            "Interest Bearing": 1200 / 3100.5,
            "Buy Now Pay Later": 500.5 / 3100.5,
        },
        "product_paid_value": {
            "Interest Free": 1400.0,
            "Interest Bearing": 1200.0,
            "Buy Now Pay Later": 500.5,
        },
        "top10_concentration": 1.0,  # only two retailers were paid
        # 1400 × 0.02 + 500.50 × 0.03 + 1200 × 0 (Interest Bearing has no rate)
        "commission": 43.015,
        "growth_submissions": 1.0,  # (8 − 4) / 4
        "growth_submitted_value": 0.5 / 4900,
        "growth_decisions": 0.75,
        "growth_approvals": 1.0,
        "growth_declines": 0.0,
        "growth_signed": 1 / 3,
        "growth_paid": None,  # nothing was paid in February
        "growth_paid_value": None,
        "growth_avg_loan": None,
        "growth_cancelled": None,
        "growth_active_retailers": 0.0,
        "growth_new_retailers": 0.0,
        "growth_commission": None,
        "growth_ly_submissions": 7.0,  # (8 − 1) / 1
        "growth_ly_submitted_value": 4300.5 / 600,
        "growth_ly_decisions": 6.0,
        "growth_ly_approvals": 5.0,
        "growth_ly_declines": None,
        "growth_ly_signed": 3.0,
        "growth_ly_paid": 4.0,
        "growth_ly_paid_value": 2500.5 / 600,
        "growth_ly_avg_loan": pytest.approx(20.1 / 600, rel=1e-12),
        "growth_ly_cancelled": None,
        "growth_ly_active_retailers": 2.0,
        "growth_ly_new_retailers": None,
        "growth_ly_commission": pytest.approx(31.015 / 12, rel=1e-12),
    }


def test_book_w_prev(book):
    got = values(book, "W_prev")
    assert got == {
        "submissions": 4,  # A6 A7 A11 A13
        "submitted_value": 4900.0,
        "decisions": 4,
        "approvals": 3,
        "declines": 1,  # A11
        "approval_rate": 0.75,
        "signed": 3,  # A6 A7 A13
        "paid": 0,
        "paid_value": 0.0,
        "avg_loan": None,  # 0 / 0
        "cancelled": 0,
        "sign_rate": 1.0,
        "conversion": 0.5,  # A6 and A13 were paid in March, on or before A
        "median_hours_to_decision": 17.0,  # 4 10 24 24 → (10 + 24) / 2
        "median_days_to_pay": None,
        "active_retailers": 3,  # R1 R2 R3
        "new_retailers": 1,  # R3
        "lender_share": {},
        "lender_paid_value": {},
        "lender_submissions": {"Northwind Bank": 2, "Oakfield Bank": 2},
        "product_share": {},
        "product_paid_value": {},
        "top10_concentration": None,
        "commission": 0.0,
    }
    assert all(type(v) is int for k, v in got.items() if metrics.get(k).unit == "count")


def test_book_w_ly(book):
    got = values(book, "W_ly")  # A14 only
    assert (got["submissions"], got["paid"], got["paid_value"], got["avg_loan"]) == (
        1,
        1,
        600.0,
        600.0,
    )
    assert got["median_hours_to_decision"] == 24.0
    assert got["median_days_to_pay"] == 8.0
    assert got["lender_share"] == {"Oakfield Bank": 1.0}
    assert got["commission"] == 12.0  # 600 × 0.02, exact
    assert got["new_retailers"] == 0


def test_book_as_at(book):
    assert values(book, "as_at") == {
        "inactive_retailers": 1,  # R4; R1 submitted on A − 29; R3 is not Live
        "pipeline_ans_count": 2,  # A5; A9 (signed after A)
        "pipeline_ans_value": 1200.0,
        "pipeline_snp_count": 2,  # A8; A10 (cancelled after A)
        "pipeline_snp_value": 5300.0,
    }


def test_output_shape_and_json_ready(book, by_retailer):
    order = [m for m in REGISTRY if m not in ("growth", "growth_ly")]
    assert list(book)[: len(order)] == order
    assert set(book["submissions"]) == {"W", "W_prev", "W_ly"}
    assert set(book["growth_submissions"]) == {"W"}  # only W has a _prev
    assert set(book["growth_ly_submissions"]) == {"W"}
    assert book["pipeline_ans_count"] == {"as_at": 2}
    json.dumps(by_retailer, allow_nan=False)

    def plain(v: object) -> bool:
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        return v is None or type(v) in (int, float)

    assert plain(by_retailer)


# ----------------------------------------------------------------------------- by retailer


def test_every_retailer_is_a_group(by_retailer):
    assert list(by_retailer) == ["R1", "R2", "R3", "R4"]


def test_retailer_r1(by_retailer):
    r1 = by_retailer["R1"]
    got = values(r1, "W")
    assert {k: v for k, v in got.items() if not k.startswith("growth")} == {
        "submissions": 5,
        "submitted_value": 4250.5,  # 1000 + 500.50 + 0 + 2000 + 750
        "decisions": 5,
        "approvals": 4,
        "declines": 1,
        "approval_rate": 0.8,
        "signed": 3,
        "paid": 4,  # A1 A2 A3 A13
        "paid_value": 1900.5,
        "avg_loan": 475.125,
        "cancelled": 0,
        "sign_rate": 0.75,
        "conversion": 0.6,
        "median_hours_to_decision": 12.0,  # 6 12 12 24 120
        "median_days_to_pay": 7.0,  # 2 4 10 10
        "active_retailers": 1,
        "new_retailers": 1,
        # A3 was paid with no amount: Oakfield is listed with a 0 share, not left out
        "lender_share": {"Northwind Bank": 1.0, "Oakfield Bank": 0.0},
        "lender_paid_value": {"Northwind Bank": 1900.5, "Oakfield Bank": 0.0},
        "lender_submissions": {"Northwind Bank": 3, "Oakfield Bank": 2},
        "product_share": {"Interest Free": 1400 / 1900.5, "Buy Now Pay Later": 500.5 / 1900.5},
        "product_paid_value": {"Interest Free": 1400.0, "Buy Now Pay Later": 500.5},
        "top10_concentration": 1.0,
        "commission": 43.015,
    }
    assert values(r1, "as_at") == {
        "inactive_retailers": 0,
        "pipeline_ans_count": 1,  # A5
        "pipeline_ans_value": 750.0,
        "pipeline_snp_count": 0,
        "pipeline_snp_value": 0.0,
    }


def test_retailer_r2_and_r3(by_retailer):
    r2, r3 = values(by_retailer["R2"], "W"), values(by_retailer["R3"], "W")
    assert (r2["submissions"], r2["paid"], r2["paid_value"], r2["cancelled"]) == (1, 1, 1200.0, 1)
    assert r2["conversion"] == 0.0  # A8 not paid: 0 of 1, which is 0 and not undefined
    assert r2["median_days_to_pay"] == 11.0  # A6: 20 Feb → 3 Mar
    assert values(by_retailer["R2"], "as_at") == {
        "inactive_retailers": 0,
        "pipeline_ans_count": 1,  # A9
        "pipeline_ans_value": 450.0,
        "pipeline_snp_count": 1,  # A8
        "pipeline_snp_value": 300.0,
    }
    assert r3["submissions"] == 2  # A12 (null amount) and A15
    assert r3["submitted_value"] == 350.0
    assert r3["sign_rate"] == 0.0  # 0 signed of 1 approval
    assert (r3["paid"], r3["paid_value"], r3["avg_loan"]) == (0, 0.0, None)
    assert r3["top10_concentration"] is None
    assert r3["lender_share"] == {}
    assert r3["median_hours_to_decision"] == 2.0
    assert values(by_retailer["R3"], "as_at")["pipeline_snp_value"] == 5000.0  # A10


def test_retailer_without_data_gets_zeros_and_nones(by_retailer):
    r4 = values(by_retailer["R4"], "W")
    assert r4["submissions"] == r4["paid"] == r4["active_retailers"] == 0
    assert r4["paid_value"] == r4["commission"] == 0.0
    for rate in ("approval_rate", "avg_loan", "sign_rate", "conversion", "top10_concentration"):
        assert r4[rate] is None
    assert r4["median_hours_to_decision"] is None
    assert r4["lender_share"] == r4["lender_submissions"] == {}
    assert r4["growth_submissions"] is None
    assert by_retailer["R4"]["inactive_retailers"] == {"as_at": 1}


# ----------------------------------------------------------------------------- by BDM


def test_bdm_groups(by_bdm):
    assert list(by_bdm) == ["U1", "U2"]  # U3 owns no retailer
    u1, u2 = values(by_bdm["U1"], "W"), values(by_bdm["U2"], "W")
    assert (u1["submissions"], u1["decisions"], u1["approvals"]) == (6, 6, 5)
    assert u1["approval_rate"] == 5 / 6
    assert u1["median_hours_to_decision"] == 18.0  # 6 12 12 24 24 120 → (12 + 24) / 2
    assert (u1["paid"], u1["paid_value"], u1["active_retailers"]) == (5, 3100.5, 2)
    assert u1["top10_concentration"] == 1.0
    assert (u2["submissions"], u2["paid"], u2["active_retailers"]) == (2, 0, 1)
    assert values(by_bdm["U1"], "as_at") == {
        "inactive_retailers": 0,
        "pipeline_ans_count": 2,
        "pipeline_ans_value": 1200.0,
        "pipeline_snp_count": 1,
        "pipeline_snp_value": 300.0,
    }
    assert values(by_bdm["U2"], "as_at") == {
        "inactive_retailers": 1,  # R4
        "pipeline_ans_count": 0,
        "pipeline_ans_value": 0.0,
        "pipeline_snp_count": 1,
        "pipeline_snp_value": 5000.0,
    }
    assert by_bdm["U2"]["new_retailers"] == {"W": 0, "W_prev": 1, "W_ly": 0}


def test_orphans_are_unassigned():
    apps = [
        ("B1", "RX", "Northwind Bank", "Other", 100.0, "2026-03-02T09:00", None, None, None, None, None),
        ("B2", None, "Northwind Bank", "Other", 50.0, "2026-03-02T09:00", None, None, None, None, None),
        ("B3", "R1", "Northwind Bank", "Other", 10.0, "2026-03-02T09:00", None, None, None, None, None),
    ]  # fmt: skip
    accounts = [("R1", None, "Live", None), ("R2", "U1", "Live", None)]
    snap = make_snapshot(apps, accounts)
    by_r = compute(snap, WINDOWS, A, by="retailer")
    assert {k: v["submissions"]["W"] for k, v in by_r.items()} == {
        "R1": 1,
        "R2": 0,
        "RX": 1,
        "unassigned": 1,
    }
    by_b = compute(snap, WINDOWS, A, by="bdm")
    assert {k: v["submissions"]["W"] for k, v in by_b.items()} == {"U1": 0, "unassigned": 3}
    assert by_b["unassigned"]["active_retailers"]["W"] == 2  # RX and R1; no retailer ≠ one
    assert by_b["unassigned"]["inactive_retailers"]["as_at"] == 0
    assert by_b["U1"]["inactive_retailers"]["as_at"] == 1  # R2
    whole = compute(snap, WINDOWS, A)["all"]
    assert whole["active_retailers"]["W"] == 2
    # B2 has no retailer: it is in the total but cannot be one of the top retailers
    apps_paid = [a[:9] + ("2026-03-03", None) for a in apps]
    paid = compute(make_snapshot(apps_paid, accounts), WINDOWS, A)["all"]
    assert paid["top10_concentration"]["W"] == 11000 / 16000


# ----------------------------------------------------------------------------- rules


def test_top10_takes_the_ten_largest_retailers():
    accounts = [(f"S{i:02d}", "U1", "Live", None) for i in range(1, 13)]
    apps = [
        (f"T{i}", f"S{i:02d}", "Northwind Bank", "Other", float(i), "2026-03-02T09:00",
         "Approved", "2026-03-02T10:00", "2026-03-03", "2026-03-04", None)
        for i in range(1, 13)
    ]  # fmt: skip
    got = compute(make_snapshot(apps, accounts), WINDOWS, A)["all"]
    assert got["top10_concentration"]["W"] == 75 / 78  # (3 + … + 12) / (1 + … + 12)
    assert got["active_retailers"]["W"] == 12


def test_inactive_window_is_the_30_days_ending_at_a():
    accounts = [("R1", "U1", "Live", None), ("R2", "U1", "Live", None), ("R3", "U1", "Live", None)]
    apps = [
        ("C1", "R1", "Northwind Bank", "Other", 1.0, "2026-03-02T09:00", None, None, None, None, None),  # A − 29
        ("C2", "R2", "Northwind Bank", "Other", 1.0, "2026-03-01T23:00", None, None, None, None, None),  # A − 30
        ("C3", "R3", "Northwind Bank", "Other", 1.0, "2026-04-01T09:00", None, None, None, None, None),  # after A
    ]  # fmt: skip
    got = compute(make_snapshot(apps, accounts), {}, A, by="retailer")
    assert {k: v["inactive_retailers"]["as_at"] for k, v in got.items()} == {
        "R1": 0,
        "R2": 1,
        "R3": 1,
    }
    assert metrics.inactive_since(A) == date(2026, 3, 2)


def test_days_are_london_days():
    # 23:30 UTC on 28 Mar is 28 Mar in London (GMT); 23:30 UTC on 31 Mar is 1 Apr (BST).
    apps = [
        ("D1", "R1", "Northwind Bank", "Other", 1.0, "2026-03-28T23:30", None, None, None, None, None),
        ("D2", "R1", "Northwind Bank", "Other", 1.0, "2026-03-31T23:30", None, None, None, None, None),
    ]  # fmt: skip
    snap = make_snapshot(apps, [("R1", "U1", "Live", None)])
    got = compute(snap, {"D": Window(date(2026, 3, 29), date(2026, 4, 1))}, date(2026, 4, 1))
    assert got["all"]["submissions"]["D"] == 1  # D2 is 1 Apr in London: in; D1: out


def test_hours_to_decision_across_the_clock_change():
    # 00:30 UTC 29 Mar → 00:30 UTC 30 Mar is 24 elapsed hours although the clocks went forward.
    apps = [
        ("E1", "R1", "Northwind Bank", "Other", 1.0, "2026-03-29T00:30", "Declined", "2026-03-30T00:30", None, None, None),
    ]  # fmt: skip
    got = compute(make_snapshot(apps, [("R1", "U1", "Live", None)]), WINDOWS, A)["all"]
    assert got["median_hours_to_decision"]["W"] == 24.0


def test_nothing_after_as_of_is_counted(snap):
    feb20 = date(2026, 2, 20)
    got = compute(snap, WINDOWS, feb20, commission_rates=RATES)["all"]
    # February cut off at A = 20 Feb: A6 (10th), A7 (12th), A11 (20th); A13 (26th) is later.
    assert got["submissions"]["W_prev"] == 3
    assert got["decisions"]["W_prev"] == 2  # A6, A7; A11 was decided on the 21st
    assert got["signed"]["W_prev"] == 1  # A6 on the 20th; A7 and A13 later
    assert got["submissions"]["W"] == 0  # March is entirely after A
    assert got["growth_submissions"] == {"W": -1.0}  # (0 − 3) / 3
    # conversion counts payouts on or before A only: A6 was paid on 3 Mar
    assert got["conversion"]["W_prev"] == 0.0


def test_commission_rates():
    snap = make_snapshot()
    assert compute(snap, WINDOWS, A)["all"]["commission"] == {
        "W": None,
        "W_prev": None,
        "W_ly": None,
    }
    assert compute(snap, WINDOWS, A)["all"]["growth_commission"] == {"W": None}
    got = compute(snap, WINDOWS, A, commission_rates={})["all"]["commission"]
    assert got == {"W": 0.0, "W_prev": 0.0, "W_ly": 0.0}
    with pytest.raises(ConfigError, match="Interest free"):
        compute(snap, WINDOWS, A, commission_rates={"Interest free": 0.02})
    for bad in (1.5, -0.01, float("nan"), "0.02", True):
        with pytest.raises(ConfigError, match="commission_rates"):
            compute(snap, WINDOWS, A, commission_rates={"Interest Free": bad})


def test_commission_is_exact():
    # 3p at 10 % is 0.3p exactly; float arithmetic would give 0.0030000000000000005.
    apps = [
        ("F1", "R1", "Northwind Bank", "Interest Free", 0.03, "2026-03-02T09:00", "Approved",
         "2026-03-02T10:00", "2026-03-03", "2026-03-04", None),
    ]  # fmt: skip
    snap = make_snapshot(apps, [("R1", "U1", "Live", None)])
    for rate in (0.1, Decimal("0.1"), np.float64(0.1)):
        got = compute(snap, WINDOWS, A, commission_rates={"Interest Free": rate})["all"]
        assert got["commission"]["W"] == 0.003


def test_bad_arguments(snap):
    with pytest.raises(InputError, match="portfolio"):
        compute(snap, WINDOWS, A, by="portfolio")
    with pytest.raises(InputError, match="as_at"):
        compute(snap, {"as_at": WINDOWS["W"]}, A)
    broken = Snapshot(
        snap.path,
        snap.manifest,
        snap.users,
        snap.accounts,
        snap.applications.drop(columns="paid_day"),
    )
    with pytest.raises(SnapshotError, match="paid_day"):
        compute(broken, WINDOWS, A)


def test_empty_book():
    got = compute(make_snapshot([], [], []), WINDOWS, A, by="retailer")
    assert got == {}
    whole = compute(make_snapshot([], [], []), WINDOWS, A)["all"]
    assert whole["submissions"] == {"W": 0, "W_prev": 0, "W_ly": 0}
    assert whole["approval_rate"]["W"] is None
    assert whole["pipeline_ans_count"] == {"as_at": 0}
    assert pipeline_items(make_snapshot([], [], []), A).empty


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_items(snap):
    items = pipeline_items(snap, A)
    assert list(items.columns) == [
        "stage", "ref", "retailer", "lender", "product", "amount", "date", "days", "bucket"
    ]  # fmt: skip
    assert items.to_dict("records") == [
        # A9: decided 6 Jan, signed after A
        {"stage": "ans", "ref": "APP-A9", "retailer": "R2", "lender": "Kestrel Money",
         "product": "Other", "amount": 450.0, "date": date(2026, 1, 6), "days": 84,
         "bucket": "31–90"},
        {"stage": "ans", "ref": "APP-A5", "retailer": "R1", "lender": "Northwind Bank",
         "product": "Interest Free", "amount": 750.0, "date": date(2026, 3, 25), "days": 6,
         "bucket": "0–7"},
        # A10: signed 5 Dec, cancelled after A
        {"stage": "snp", "ref": "APP-A10", "retailer": "R3", "lender": "Northwind Bank",
         "product": "Interest Free", "amount": 5000.0, "date": date(2025, 12, 5), "days": 116,
         "bucket": "90+"},
        {"stage": "snp", "ref": "APP-A8", "retailer": "R2", "lender": "Oakfield Bank",
         "product": "Buy Now Pay Later", "amount": 300.0, "date": date(2026, 3, 20),
         "days": 11, "bucket": "8–30"},
    ]  # fmt: skip
    assert all(type(d) is int for d in items["days"].tolist())


def test_pipeline_backdated(snap):
    feb28 = date(2026, 2, 28)
    items = pipeline_items(snap, feb28)
    assert [(r.stage, r.ref, r.days, r.bucket) for r in items.itertuples()] == [
        ("ans", "APP-A9", 53, "31–90"),
        ("snp", "APP-A10", 85, "31–90"),
        ("snp", "APP-A6", 8, "8–30"),  # paid 3 Mar: not yet at A
        ("snp", "APP-A7", 3, "0–7"),  # cancelled 5 Mar: not yet at A
        ("snp", "APP-A13", 0, "0–7"),  # signed on A itself
    ]
    got = compute(snap, {}, feb28)["all"]
    assert got == {
        "inactive_retailers": {"as_at": 1},  # R2 submitted 10 Feb, R1 26 Feb; R4 never
        "pipeline_ans_count": {"as_at": 1},
        "pipeline_ans_value": {"as_at": 450.0},
        "pipeline_snp_count": {"as_at": 4},
        "pipeline_snp_value": {"as_at": 7400.0},  # 5000 + 1200 + 800 + 400
    }


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0–7"), (7, "0–7"), (8, "8–30"), (30, "8–30"), (31, "31–90"), (90, "31–90"), (91, "90+")],
)
def test_pipeline_bucket_edges(days, bucket):
    decided = A - timedelta(days=days)
    apps = [
        ("P1", "R1", "Northwind Bank", "Other", None, f"{decided}T08:00", "Approved",
         f"{decided}T09:00", None, None, None),
    ]  # fmt: skip
    items = pipeline_items(make_snapshot(apps, [("R1", "U1", "Live", None)]), A)
    assert items[["days", "bucket", "amount"]].to_dict("records") == [
        {"days": days, "bucket": bucket, "amount": 0.0}
    ]


# ----------------------------------------------------------------------------- properties

ADDITIVE = [
    m
    for m in REGISTRY
    if REGISTRY.get(m).unit in ("count", "money") and m not in ("avg_loan", "commission")
] + ["commission"]
BASE = date(2026, 1, 1)
PROPERTY_WINDOWS = {
    "X": Window(date(2026, 1, 10), date(2026, 2, 9)),
    "X_prev": Window(date(2025, 12, 10), date(2026, 1, 9)),
    "Y": Window(date(2026, 2, 1), date(2026, 3, 31)),
}
day_offsets = st.one_of(st.none(), st.integers(min_value=-40, max_value=100))


@st.composite
def books(draw: st.DrawFn) -> Snapshot:
    accounts = [
        (f"R{i}", draw(st.sampled_from(["U1", "U2", "U3", None])),
         draw(st.sampled_from(["Live", "Suspended", "Onboarding"])),
         None if (o := draw(day_offsets)) is None else (BASE + timedelta(days=o)).isoformat())
        for i in range(draw(st.integers(1, 5)))
    ]  # fmt: skip
    retailer_ids = [a[0] for a in accounts] + ["RX", None]
    apps = []
    for i in range(draw(st.integers(0, 25))):
        sub = BASE + timedelta(days=draw(st.integers(-40, 100)), hours=draw(st.integers(0, 23)))

        def later(limit: int, start: date = sub) -> str | None:
            gap = draw(st.one_of(st.none(), st.integers(0, limit)))
            return None if gap is None else (start + timedelta(days=gap)).strftime("%Y-%m-%d")

        decision = draw(st.sampled_from(["Approved", "Declined", None]))
        decided = None
        if decision:
            decided = (sub + timedelta(hours=draw(st.integers(0, 200)))).strftime("%Y-%m-%dT%H:%M")
        apps.append(
            (f"Q{i}", draw(st.sampled_from(retailer_ids)),
             draw(st.sampled_from(["Northwind Bank", "Oakfield Bank", "Unknown"])),
             draw(st.sampled_from(["Interest Free", "Hire Purchase", "Other"])),
             draw(st.one_of(st.none(), st.integers(0, 500_000).map(lambda p: p / 100)))
             , sub.strftime("%Y-%m-%dT%H:%M"), decision, decided,
             later(60), later(90), later(120))
        )  # fmt: skip
    return make_snapshot(apps, accounts, USERS)


def _pence(v: float | None) -> int:
    return 0 if v is None else round(v * 100)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=books(), as_of_offset=st.integers(20, 100))
def test_groups_add_up_to_the_whole_book(snap, as_of_offset):
    as_of = BASE + timedelta(days=as_of_offset)
    kwargs = {"commission_rates": {"Interest Free": 0.02, "Other": 0.5}}
    whole = compute(snap, PROPERTY_WINDOWS, as_of, **kwargs)["all"]
    json.dumps(whole, allow_nan=False)
    for by in ("retailer", "bdm"):
        groups = compute(snap, PROPERTY_WINDOWS, as_of, by=by, **kwargs)
        for m in ADDITIVE:
            for key, total in whole[m].items():
                parts = [g[m][key] for g in groups.values()]
                if REGISTRY.get(m).unit == "count":
                    assert sum(parts) == total, (by, m, key)
                elif m == "commission":
                    assert sum(parts) == pytest.approx(total, abs=1e-6), (by, m, key)
                else:  # money is summed in whole pence: exact
                    assert sum(map(_pence, parts)) == _pence(total), (by, m, key)
        for key in PROPERTY_WINDOWS:
            merged: dict[str, int] = {}
            for g in groups.values():
                for lender, n in g["lender_submissions"][key].items():
                    merged[lender] = merged.get(lender, 0) + n
            assert merged == whole["lender_submissions"][key]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=books(), as_of_offset=st.integers(20, 100))
def test_a_retailer_group_equals_that_retailer_alone(snap, as_of_offset):
    as_of = BASE + timedelta(days=as_of_offset)
    rates = {"Interest Free": 0.02, "Other": 0.5}
    groups = compute(snap, PROPERTY_WINDOWS, as_of, by="retailer", commission_rates=rates)
    for rid in snap.accounts["Id"]:
        alone = compute(snap.for_retailers([rid]), PROPERTY_WINDOWS, as_of, commission_rates=rates)
        assert alone["all"] == groups[rid], rid


def test_result_has_no_numpy_scalars(by_bdm):
    def walk(v: object) -> None:
        assert not isinstance(v, np.generic), v
        if isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(by_bdm)
