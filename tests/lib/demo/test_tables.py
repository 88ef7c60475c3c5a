"""The demo generator: determinism, Salesforce shape, and the invariants reports rely on."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from lib import demo, lenders, products, snapshot
from lib.errors import InputError

LONDON = ZoneInfo("Europe/London")
STATUSES = {"Submitted", "Referred", "Approved", "Declined", "Signed", "Paid", "Cancelled"}


def _end_of(as_of: date) -> pd.Timestamp:
    """The first instant after ``as_of`` in London, in UTC."""
    return pd.Timestamp(datetime.combine(as_of + timedelta(days=1), datetime.min.time(), LONDON))


def test_same_arguments_give_the_same_bytes(demo_tables, demo_as_of, tmp_path):
    again = demo.generate(as_of=demo_as_of, retailers=30, seed=7)
    first = snapshot.write(demo_tables, tmp_path / "a", source="demo", as_of=demo_as_of)
    second = snapshot.write(again, tmp_path / "b", source="demo", as_of=demo_as_of)
    for table in snapshot.SCHEMA:
        name = f"{table}.parquet"
        assert (first / name).read_bytes() == (second / name).read_bytes(), table
    assert (
        snapshot.load(first).manifest["content_hash"]
        == snapshot.load(second).manifest["content_hash"]
    )


def test_another_seed_gives_other_data(demo_tables, demo_as_of):
    other = demo.generate(as_of=demo_as_of, retailers=30, seed=8)
    assert not other["accounts"]["Id"].equals(demo_tables["accounts"]["Id"])


def test_columns_are_exactly_the_salesforce_api_names_in_stored_types(demo_tables):
    assert set(demo_tables) == set(snapshot.SCHEMA)
    for table, columns in snapshot.SCHEMA.items():
        frame = demo_tables[table]
        assert list(frame.columns) == list(columns), table
        for column, logical in columns.items():
            dtype = frame[column].dtype
            if logical == "datetime":
                assert str(dtype) == "datetime64[us, UTC]", (table, column)
            elif logical == "currency":
                assert dtype == np.float64, (table, column)
            elif logical == "bool":
                assert pd.api.types.is_bool_dtype(dtype), (table, column)
            elif logical == "date":
                values = frame[column].dropna()
                assert all(type(v) is date for v in values), (table, column)
            else:
                assert pd.api.types.is_string_dtype(dtype), (table, column)


def test_ids_look_like_salesforce_ids(demo_tables):
    for table, prefix in (("users", "005"), ("accounts", "001"), ("applications", "a0X")):
        ids = demo_tables[table]["Id"]
        assert ids.is_unique, table
        assert ids.str.fullmatch(rf"{prefix}[0-9A-Za-z]{{15}}").all(), table
    # The 18-character suffix is Salesforce's case-safe checksum of the first 15.
    assert demo.sf_ids("001", np.array([0]))[0][:15] == "0018d0000000000"
    assert demo.sf_ids("001", np.array([0]))[0][15:] == "AAA"


def test_references_and_foreign_keys(demo_tables):
    users, accounts, apps = (demo_tables[t] for t in ("users", "accounts", "applications"))
    assert apps["Name"].str.fullmatch(r"APP-\d{7}").all()
    assert apps["Name"].is_unique
    assert apps["Retailer__c"].isin(accounts["Id"]).all()
    assert accounts["OwnerId"].isin(users["Id"]).all()


def test_users_are_bdms_some_inactive_scaled_with_retailers(demo_tables, demo_as_of):
    users = demo_tables["users"]
    assert (~users["IsActive"]).sum() == 2
    assert users["IsActive"].sum() == round(30 / 12)
    big = demo.generate(as_of=demo_as_of, retailers=150, seed=7)["users"]
    assert big["IsActive"].sum() == round(150 / 12)
    # Every active BDM manages at least one Live retailer, so each gets a portfolio report.
    accounts = demo_tables["accounts"]
    live_owners = set(accounts.loc[accounts["Retailer_Status__c"] == "Live", "OwnerId"])
    assert set(users.loc[users["IsActive"], "Id"]) <= live_owners


def test_decision_is_set_iff_its_date_is(demo_tables):
    apps = demo_tables["applications"]
    assert (apps["Decision__c"].notna() == apps["Decision_Date__c"].notna()).all()
    assert set(apps["Decision__c"].dropna()) == {"Approved", "Declined"}


def test_stage_dates_are_ordered(demo_tables):
    apps = demo_tables["applications"]
    order = ["Submitted_Date__c", "Decision_Date__c", "Signed_Date__c", "Paid_Date__c"]
    for earlier, later in zip(order, order[1:], strict=False):
        both = apps[earlier].notna() & apps[later].notna()
        assert (apps.loc[both, earlier] <= apps.loc[both, later]).all(), (earlier, later)
    # A later stage never exists without the earlier one.
    assert apps["Submitted_Date__c"].notna().all()
    assert apps.loc[apps["Signed_Date__c"].notna(), "Decision__c"].eq("Approved").all()
    assert apps.loc[apps["Paid_Date__c"].notna(), "Signed_Date__c"].notna().all()
    cancelled = apps["Cancelled_Date__c"].notna()
    for column in order:
        both = cancelled & apps[column].notna()
        assert (apps.loc[both, column] <= apps.loc[both, "Cancelled_Date__c"]).all(), column
    assert not (cancelled & apps["Paid_Date__c"].notna()).any()


def test_status_is_the_latest_stage(demo_tables):
    apps = demo_tables["applications"]
    assert set(apps["Status__c"]) == STATUSES
    expected = np.select(
        [
            apps["Cancelled_Date__c"].notna(),
            apps["Paid_Date__c"].notna(),
            apps["Signed_Date__c"].notna(),
            apps["Decision__c"].eq("Approved").fillna(False),
            apps["Decision__c"].eq("Declined").fillna(False),
        ],
        ["Cancelled", "Paid", "Signed", "Approved", "Declined"],
        "undecided",
    )
    undecided = expected == "undecided"
    assert (apps["Status__c"][~undecided] == expected[~undecided]).all()
    assert apps["Status__c"][undecided].isin(["Submitted", "Referred"]).all()


def test_system_modstamp_is_the_latest_event(demo_tables):
    apps = demo_tables["applications"]
    events = apps[
        [
            "Submitted_Date__c",
            "Decision_Date__c",
            "Signed_Date__c",
            "Paid_Date__c",
            "Cancelled_Date__c",
        ]
    ]
    assert (apps["SystemModstamp"] == events.max(axis=1)).all()


def test_nothing_after_the_end_of_as_of_in_london(demo_tables, demo_as_of):
    end = _end_of(demo_as_of)
    apps = demo_tables["applications"]
    for column in apps.columns:
        if str(apps[column].dtype).startswith("datetime64"):
            assert (apps[column].dropna() < end).all(), column
    onboarded = demo_tables["accounts"]["Onboarded_Date__c"].dropna()
    assert max(onboarded) <= demo_as_of
    # Three years of history, up to as_of itself.
    first = apps["Submitted_Date__c"].min().tz_convert(LONDON).date()
    last = apps["Submitted_Date__c"].max().tz_convert(LONDON).date()
    assert first <= date(2023, 12, 1)
    assert last >= demo_as_of - timedelta(days=2)


def test_as_of_cuts_off_events_in_a_british_summer_time_day():
    as_of = date(2025, 7, 15)
    apps = demo.generate(as_of=as_of, retailers=10, seed=3)["applications"]
    assert (apps["SystemModstamp"] < _end_of(as_of)).all()
    assert apps["SystemModstamp"].max() >= _end_of(as_of) - pd.Timedelta(days=1)


def test_every_retailer_status_and_the_onboarding_rules(demo_tables, demo_as_of):
    accounts, apps = demo_tables["accounts"], demo_tables["applications"]
    assert set(accounts["Retailer_Status__c"]) == {"Onboarding", "Live", "Suspended", "Closed"}
    onboarding = accounts["Retailer_Status__c"] == "Onboarding"
    assert accounts.loc[onboarding, "Onboarded_Date__c"].isna().all()
    assert accounts.loc[~onboarding, "Onboarded_Date__c"].notna().all()
    assert not apps["Retailer__c"].isin(accounts.loc[onboarding, "Id"]).any()
    live = accounts[accounts["Retailer_Status__c"] == "Live"]
    recently = live["Onboarded_Date__c"] >= demo_as_of - timedelta(days=35)
    assert recently.any(), "some retailers were onboarded in the last few weeks"
    last = apps.groupby("Retailer__c")["Submitted_Date__c"].max().reindex(live["Id"])
    quiet = last < _end_of(demo_as_of) - pd.Timedelta(days=30)
    assert quiet.any(), "some Live retailers have gone quiet"


def test_names_need_escaping_and_unicode(demo_tables):
    names = demo_tables["accounts"]["Name"]
    for char in "&'/<":
        assert names.str.contains(char, regex=False).any(), char
    assert names.map(lambda s: not s.isascii()).any()
    assert names.is_unique
    assert "Harbour & Sons" in set(names)


def test_contact_emails_are_sometimes_null_or_malformed(demo_as_of):
    emails = demo.generate(as_of=demo_as_of, retailers=150, seed=7)["accounts"][
        "Primary_Contact_Email__c"
    ]
    valid = emails.dropna().str.fullmatch(r"[a-z0-9.\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)+")
    assert emails.isna().any()
    assert (~valid).any()
    assert valid.mean() > 0.8


def test_messy_lenders_normalise_to_the_panel_plus_unknowns(demo_tables):
    raw = demo_tables["applications"]["Lender_Name__c"]
    assert raw.isna().any()
    assert raw.nunique() > 40  # many spellings of the same eight lenders
    canonical = lenders.normalise_series(raw)
    assert set(lenders.CANONICAL) <= set(canonical)
    assert "Unknown" in set(canonical)
    unknown = set(canonical) - set(lenders.CANONICAL) - {"Unknown"}
    assert unknown, "some lenders are off the panel"
    assert canonical.isin(lenders.CANONICAL).mean() > 0.97


def test_messy_product_codes(demo_tables):
    codes = demo_tables["applications"]["Product_Code__c"]
    assert codes.isna().any()
    present = set(codes.dropna())
    assert any(re.fullmatch(r"[A-Z]+-\d+", c) for c in present)  # BNPL-12
    assert any(re.fullmatch(r"[a-z]+ \d+", c) for c in present)  # ifc 24
    assert any(re.fullmatch(r"[A-Z]+_0\d\d", c) for c in present)  # IBC_060
    assert any(re.fullmatch(r"[a-z]+\d+", c) for c in present)  # hp36
    assert set(products.family_series(codes)) == set(products.FAMILIES)
    assert set(products.term_bucket_series(codes)) == set(products.TERM_BUCKETS)


def test_amounts_are_realistic_with_some_nulls(demo_tables):
    amounts = demo_tables["applications"]["Loan_Amount__c"]
    assert amounts.isna().any()
    assert amounts.isna().mean() < 0.02
    assert amounts.min() >= 200 and amounts.max() <= 25_000


def test_funnel_rates_and_timings(demo_tables, demo_as_of):
    apps = demo_tables["applications"]
    decided = apps["Decision__c"].dropna()
    assert 0.6 <= (decided == "Approved").mean() <= 0.7
    hours = (apps["Decision_Date__c"] - apps["Submitted_Date__c"]).dt.total_seconds() / 3600
    assert hours.max() <= 10 * 24
    pay = (apps["Paid_Date__c"] - apps["Signed_Date__c"]).dt.total_seconds() / 86400
    assert 1 <= pay.median() <= 7
    # Some cancellations happen after signing; undecided ones are recent (the pipeline).
    assert (apps["Cancelled_Date__c"].notna() & apps["Signed_Date__c"].notna()).any()
    undecided = apps[apps["Decision__c"].isna() & apps["Cancelled_Date__c"].isna()]
    assert len(undecided) > 0
    assert (undecided["Submitted_Date__c"] > _end_of(demo_as_of) - pd.Timedelta(days=31)).all()


def test_weekends_are_quiet(demo_tables):
    local = demo_tables["applications"]["Submitted_Date__c"].dt.tz_convert(LONDON)
    per_day = local.dt.day_of_week.value_counts()
    assert per_day[[5, 6]].max() < 0.6 * per_day[[0, 1, 2, 3, 4]].min()


def test_volume_per_live_retailer_and_speed(demo_as_of):
    started = time.perf_counter()
    tables = demo.generate(as_of=demo_as_of, retailers=150, seed=7)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0
    accounts, apps = tables["accounts"], tables["applications"]
    live = accounts.loc[accounts["Retailer_Status__c"] == "Live", "Id"]
    recent = apps[apps["Submitted_Date__c"] >= _end_of(demo_as_of) - pd.Timedelta(days=30)]
    per_retailer = recent.groupby("Retailer__c").size().reindex(live, fill_value=0)
    assert 35 <= per_retailer.mean() <= 65
    assert per_retailer.std() > 10  # varied a lot between retailers


def test_small_and_bad_arguments(demo_as_of):
    one = demo.generate(as_of=demo_as_of, retailers=1, seed=1)
    assert len(one["accounts"]) == 1
    assert list(one["accounts"]["Retailer_Status__c"]) == ["Live"]
    with pytest.raises(InputError, match="retailers"):
        demo.generate(as_of=demo_as_of, retailers=0)
    with pytest.raises(InputError, match="seed"):
        demo.generate(as_of=demo_as_of, seed=-1)


def test_leap_day_as_of():
    tables = demo.generate(as_of=date(2028, 2, 29), retailers=5, seed=1)
    assert len(tables["applications"]) > 0


def test_the_applications_knob_scales_the_book_and_keeps_its_shape(demo_as_of):
    small = demo.generate(as_of=demo_as_of, retailers=30, seed=7)
    big = demo.generate(as_of=demo_as_of, retailers=30, seed=7, applications=60_000)
    n = len(big["applications"])
    assert abs(n - 60_000) < 1_500  # a Poisson draw around the asked-for total
    assert big["accounts"].equals(small["accounts"]) and big["users"].equals(small["users"])
    share = big["applications"]["Retailer__c"].value_counts(normalize=True)
    before = small["applications"]["Retailer__c"].value_counts(normalize=True)
    assert (share - before).abs().max() < 0.02  # each retailer keeps its share of the book
    with pytest.raises(InputError, match="applications"):
        demo.generate(as_of=demo_as_of, retailers=3, applications=0)
