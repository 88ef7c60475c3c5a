"""The edge-case demo: the awkward corners are there, and the company underneath is not moved."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from lib import demo, lenders, snapshot
from lib.demo import edge
from lib.periods import LONDON

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return demo.generate(as_of=AS_OF, retailers=6, seed=7, edge_cases=True)


@pytest.fixture(scope="module")
def snap(tables, tmp_path_factory) -> snapshot.Snapshot:
    out = tmp_path_factory.mktemp("edge") / AS_OF.isoformat()
    return snapshot.load(snapshot.write(tables, out, source="demo", as_of=AS_OF))


def test_the_generated_company_is_left_as_it_was(tables):
    plain = demo.generate(as_of=AS_OF, retailers=6, seed=7)
    for name, frame in plain.items():
        pd.testing.assert_frame_equal(tables[name].iloc[: len(frame)], frame)
        assert len(tables[name]) > len(frame)


def test_names_as_salesforce_allows_them(snap):
    names = list(snap.accounts["Name"])
    assert edge.LONG_NAME in names and len(edge.LONG_NAME) == 255 and " " not in edge.LONG_NAME
    assert edge.CONTROL_NAME in names and "\x07" in edge.CONTROL_NAME
    assert names.count(edge.TWIN_NAME) == 2


def test_a_live_retailer_without_applications(snap):
    accounts, apps = snap.accounts, snap.applications
    live = accounts.loc[accounts["Retailer_Status__c"] == "Live", "Id"]
    idle = set(live) - set(apps["Retailer__c"])
    assert len(idle) == 1


def test_bdms_with_one_retailer_and_with_every_retailer_suspended(snap):
    accounts, users = snap.accounts, snap.users
    by_owner = accounts.groupby("OwnerId")["Retailer_Status__c"].agg(list)
    names = dict(zip(users["Id"], users["Name"], strict=True))
    assert by_owner[users.loc[users["Name"] == "Nadia Single-Retailer", "Id"].item()] == ["Live"]
    suspended = users.loc[users["Name"] == "Ewan All-Suspended", "Id"].item()
    assert by_owner[suspended] == ["Suspended", "Suspended"]
    assert users.set_index("Id").loc[suspended, "IsActive"], names[suspended]


def test_null_amounts_count_but_add_nothing(snap):
    apps = snap.applications
    ours = apps[apps["Name"].str.startswith("APP-9")]
    nulls = ours[ours["Loan_Amount__c"].isna()]
    assert len(nulls) > 10 and (nulls["amount"] == 0).all()
    assert nulls["Paid_Date__c"].notna().any() and (nulls["Status__c"] == "Signed").any()


def test_events_on_both_clock_changes_and_on_29_february(snap):
    apps = snap.applications
    submitted = apps["Submitted_Date__c"]
    # 2026: clocks went forward on 29 March and back on 25 October, at 01:00 UTC.
    for day in ("2026-03-29", "2026-10-25"):
        change = pd.Timestamp(f"{day} 01:00", tz="UTC")
        near = apps[(submitted - change).abs() <= pd.Timedelta(hours=2)]
        assert len(near) == 6, day  # three each for two retailers
        assert set(near["submitted_day"].dt.date) == {date.fromisoformat(day)}
    # A quarter past midnight BST on 25 October is still 24 October in UTC.
    early = pd.Timestamp(datetime(2026, 10, 25, 0, 15, tzinfo=LONDON)).tz_convert("UTC")
    assert early.date() == date(2026, 10, 24) and (submitted == early).sum() == 2
    leap = apps[apps["submitted_day"] == pd.Timestamp("2024-02-29")]
    assert len(leap) == 4


def test_one_lender_spelled_five_ways(snap):
    apps = snap.applications
    raw = set(apps.loc[apps["lender"] == "Harrowgate Credit", "Lender_Name__c"])
    assert raw == set(edge.LENDER_SPELLINGS)
    assert {lenders.normalise(s) for s in edge.LENDER_SPELLINGS} == {"Harrowgate Credit"}


def test_nothing_after_as_of(snap):
    end = pd.Timestamp(datetime.combine(AS_OF + timedelta(days=1), datetime.min.time(), LONDON))
    for column in ("Submitted_Date__c", "Decision_Date__c", "Signed_Date__c", "Paid_Date__c"):
        assert (snap.applications[column].dropna() < end).all(), column
