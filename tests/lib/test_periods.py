"""Period windows, London days and working days (domain §3-4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import ConfigError, InputError, UnknownNameError
from lib.periods import (
    LONDON,
    Window,
    board_month_as_of,
    check_as_of,
    default_as_of,
    first_working_day,
    is_working_day,
    local_day,
    quarter_start,
    windows,
    year_start,
)

ALL_KEYS = ("LW", "MTD", "QTD", "YTD")

as_ofs = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
fiscal_months = st.integers(min_value=1, max_value=12)


def d(text: str) -> date:
    return date.fromisoformat(text)


def w(start: str, end: str) -> Window:
    return Window(d(start), d(end))


# --- Window -----------------------------------------------------------------------------


def test_window_contains_days_and_json() -> None:
    window = w("2026-03-01", "2026-03-31")
    assert d("2026-03-01") in window
    assert d("2026-03-31") in window
    assert d("2026-04-01") not in window
    assert pd.Timestamp("2026-03-15 23:59") in window
    assert pd.NaT not in window
    assert None not in window
    assert window.days() == 31
    assert window.to_json() == ["2026-03-01", "2026-03-31"]


def test_window_refuses_end_before_start() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        w("2026-03-02", "2026-03-01")


# --- properties -------------------------------------------------------------------------


@given(as_of=as_ofs, fy=fiscal_months)
def test_every_window_is_non_empty_and_ends_by_as_of(as_of: date, fy: int) -> None:
    got = windows(as_of, ALL_KEYS, fiscal_year_start_month=fy)
    assert list(got) == [k for key in ALL_KEYS for k in (key, f"{key}_prev")]
    for window in got.values():
        assert window.days() >= 1
        assert window.end <= as_of


@given(as_of=as_ofs, fy=fiscal_months)
def test_each_previous_window_ends_before_its_window_starts(as_of: date, fy: int) -> None:
    got = windows(as_of, ALL_KEYS, fiscal_year_start_month=fy)
    for key in ALL_KEYS:
        assert got[f"{key}_prev"].end < got[key].start


@given(as_of=as_ofs)
def test_last_week_is_the_latest_complete_monday_to_sunday(as_of: date) -> None:
    got = windows(as_of, ["LW"])
    lw, prev = got["LW"], got["LW_prev"]
    assert (lw.start.weekday(), lw.end.weekday(), lw.days()) == (0, 6, 7)
    assert 0 <= (as_of - lw.end).days < 7
    assert prev == Window(lw.start - timedelta(days=7), lw.end - timedelta(days=7))


@given(as_of=as_ofs, fy=fiscal_months)
def test_to_date_windows_start_on_their_period_and_end_on_as_of(as_of: date, fy: int) -> None:
    got = windows(as_of, ALL_KEYS, fiscal_year_start_month=fy)
    assert got["MTD"] == Window(as_of.replace(day=1), as_of)
    assert got["YTD"].start.month == fy and got["YTD"].start.day == 1
    assert (as_of - got["YTD"].start).days < 366
    qs = got["QTD"].start
    assert qs.day == 1 and (qs.month - fy) % 3 == 0 and (as_of - qs).days < 92
    assert got["QTD"].end == got["YTD"].end == as_of
    # Previous to-date windows start a period earlier and are never longer, except
    # that a period's last day compares with the whole (maybe longer) previous period.
    assert got["MTD_prev"].start == (got["MTD"].start - timedelta(days=1)).replace(day=1)
    assert got["MTD_prev"].end.month == got["MTD_prev"].start.month
    assert got["QTD_prev"].end < qs
    assert abs(got["YTD_prev"].days() - got["YTD"].days()) <= 1


@given(run_date=as_ofs)
def test_board_month_windows(run_date: date) -> None:
    as_of = board_month_as_of(run_date)
    got = windows(as_of, ["M"])
    assert list(got) == ["M", "M_prev", "M_ly"]
    assert got["M"].end == as_of and got["M"].end + timedelta(days=1) == run_date.replace(day=1)
    assert got["M_prev"].end + timedelta(days=1) == got["M"].start
    assert (got["M_ly"].start.year, got["M_ly"].start.month) == (as_of.year - 1, as_of.month)
    assert (got["M_ly"].end + timedelta(days=1)).day == 1
    for window in got.values():
        assert window.start.day == 1


# --- hand-written windows ---------------------------------------------------------------

CASES = {
    # Month end and quarter end: every previous window is the whole previous period.
    "2026-03-31": {
        "LW": w("2026-03-23", "2026-03-29"),
        "LW_prev": w("2026-03-16", "2026-03-22"),
        "MTD": w("2026-03-01", "2026-03-31"),
        "MTD_prev": w("2026-02-01", "2026-02-28"),
        "QTD": w("2026-01-01", "2026-03-31"),
        "QTD_prev": w("2025-10-01", "2025-12-31"),
        "YTD": w("2026-01-01", "2026-03-31"),
        "YTD_prev": w("2025-01-01", "2025-03-31"),
    },
    # Day 30 clamped to February's 28; 89 days into Q1 -> 89 days into Q4.
    "2026-03-30": {
        "LW": w("2026-03-23", "2026-03-29"),
        "LW_prev": w("2026-03-16", "2026-03-22"),
        "MTD": w("2026-03-01", "2026-03-30"),
        "MTD_prev": w("2026-02-01", "2026-02-28"),
        "QTD": w("2026-01-01", "2026-03-30"),
        "QTD_prev": w("2025-10-01", "2025-12-28"),
        "YTD": w("2026-01-01", "2026-03-30"),
        "YTD_prev": w("2025-01-01", "2025-03-30"),
    },
    # A Sunday as_of: last week ends that day.
    "2026-03-29": {
        "LW": w("2026-03-23", "2026-03-29"),
        "MTD_prev": w("2026-02-01", "2026-02-28"),
    },
    # Mid-quarter: 45 days into Q2 -> 45 days into Q1.
    "2026-05-15": {
        "LW": w("2026-05-04", "2026-05-10"),
        "MTD_prev": w("2026-04-01", "2026-04-15"),
        "QTD": w("2026-04-01", "2026-05-15"),
        "QTD_prev": w("2026-01-01", "2026-02-14"),
    },
    # New Year's Day (a Thursday).
    "2026-01-01": {
        "LW": w("2025-12-22", "2025-12-28"),
        "LW_prev": w("2025-12-15", "2025-12-21"),
        "MTD": w("2026-01-01", "2026-01-01"),
        "MTD_prev": w("2025-12-01", "2025-12-01"),
        "QTD_prev": w("2025-10-01", "2025-10-01"),
        "YTD": w("2026-01-01", "2026-01-01"),
        "YTD_prev": w("2025-01-01", "2025-01-01"),
    },
    # Leap day: the last day of February, so the whole of January; 29 Feb -> 28 Feb.
    "2024-02-29": {
        "LW": w("2024-02-19", "2024-02-25"),
        "LW_prev": w("2024-02-12", "2024-02-18"),
        "MTD": w("2024-02-01", "2024-02-29"),
        "MTD_prev": w("2024-01-01", "2024-01-31"),
        "QTD": w("2024-01-01", "2024-02-29"),
        "QTD_prev": w("2023-10-01", "2023-11-29"),
        "YTD": w("2024-01-01", "2024-02-29"),
        "YTD_prev": w("2023-01-01", "2023-02-28"),
    },
    "2028-02-29": {
        "MTD_prev": w("2028-01-01", "2028-01-31"),
        "YTD_prev": w("2027-01-01", "2027-02-28"),
    },
    "2028-02-28": {
        "MTD_prev": w("2028-01-01", "2028-01-28"),
        "YTD_prev": w("2027-01-01", "2027-02-28"),
    },
    # The year after a leap year: same dates, the 29th no longer exists.
    "2025-02-28": {
        "MTD_prev": w("2025-01-01", "2025-01-31"),
        "YTD_prev": w("2024-01-01", "2024-02-28"),
    },
    # March after a leap February: day 29 exists, day 30 is clamped.
    "2024-03-29": {"MTD_prev": w("2024-02-01", "2024-02-29")},
    "2024-03-30": {"MTD_prev": w("2024-02-01", "2024-02-29")},
    "2025-03-29": {"MTD_prev": w("2025-02-01", "2025-02-28")},
    # A 30-day month after a 31-day one: April's last day takes all of March.
    "2026-04-30": {"MTD_prev": w("2026-03-01", "2026-03-31")},
}


@pytest.mark.parametrize("as_of", sorted(CASES))
def test_hand_written_windows(as_of: str) -> None:
    got = windows(d(as_of), ALL_KEYS)
    for key, expected in CASES[as_of].items():
        assert got[key] == expected, key


FISCAL_APRIL = {
    "2026-02-15": {
        "QTD": w("2026-01-01", "2026-02-15"),
        "QTD_prev": w("2025-10-01", "2025-11-15"),
        "YTD": w("2025-04-01", "2026-02-15"),
        "YTD_prev": w("2024-04-01", "2025-02-15"),
    },
    "2026-04-01": {
        "QTD": w("2026-04-01", "2026-04-01"),
        "QTD_prev": w("2026-01-01", "2026-01-01"),
        "YTD": w("2026-04-01", "2026-04-01"),
        "YTD_prev": w("2025-04-01", "2025-04-01"),
    },
    "2026-06-30": {
        "QTD": w("2026-04-01", "2026-06-30"),
        "QTD_prev": w("2026-01-01", "2026-03-31"),
        "YTD": w("2026-04-01", "2026-06-30"),
    },
    "2026-03-31": {
        "QTD": w("2026-01-01", "2026-03-31"),
        "QTD_prev": w("2025-10-01", "2025-12-31"),
        "YTD": w("2025-04-01", "2026-03-31"),
        "YTD_prev": w("2024-04-01", "2025-03-31"),
    },
}


@pytest.mark.parametrize("as_of", sorted(FISCAL_APRIL))
def test_fiscal_year_starting_in_april(as_of: str) -> None:
    got = windows(d(as_of), ALL_KEYS, fiscal_year_start_month=4)
    for key, expected in FISCAL_APRIL[as_of].items():
        assert got[key] == expected, key
    # Weeks and months do not care about the fiscal year.
    plain = windows(d(as_of), ALL_KEYS)
    assert {k: got[k] for k in ("LW", "LW_prev", "MTD", "MTD_prev")} == {
        k: plain[k] for k in ("LW", "LW_prev", "MTD", "MTD_prev")
    }


def test_quarter_previous_window_is_clamped_to_a_shorter_quarter() -> None:
    # Fiscal December: Mar-May (92 days) follows Dec-Feb (90 days in 2025/26).
    got = windows(d("2026-05-30"), ["QTD"], fiscal_year_start_month=12)
    assert got["QTD"] == w("2026-03-01", "2026-05-30")
    assert got["QTD_prev"] == w("2025-12-01", "2026-02-28")


def test_year_and_quarter_start() -> None:
    assert year_start(d("2026-03-31"), 4) == d("2025-04-01")
    assert year_start(d("2026-04-01"), 4) == d("2026-04-01")
    assert quarter_start(d("2026-03-31"), 4) == d("2026-01-01")
    assert quarter_start(d("2026-12-31")) == d("2026-10-01")
    assert quarter_start(d("2027-01-15"), 11) == d("2026-11-01")


def test_board_month() -> None:
    assert board_month_as_of(d("2026-03-02")) == d("2026-02-28")
    assert board_month_as_of(d("2026-01-05")) == d("2025-12-31")
    got = windows(d("2028-02-29"), ["M"])
    assert got == {
        "M": w("2028-02-01", "2028-02-29"),
        "M_prev": w("2028-01-01", "2028-01-31"),
        "M_ly": w("2027-02-01", "2027-02-28"),
    }
    assert windows(d("2029-02-28"), ["M"])["M_ly"] == w("2028-02-01", "2028-02-29")


def test_windows_in_the_order_asked() -> None:
    got = windows(d("2026-03-31"), ["M", "LW"])
    assert list(got) == ["M", "M_prev", "M_ly", "LW", "LW_prev"]
    assert list(windows(d("2026-03-31"), "MTD")) == ["MTD", "MTD_prev"]


def test_board_month_needs_a_month_end() -> None:
    with pytest.raises(InputError, match="2026-03-30"):
        windows(d("2026-03-30"), ["M"])


def test_unknown_period_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="did you mean one of: LW, M, MTD, QTD, YTD"):
        windows(d("2026-03-31"), ["WTD"])


@pytest.mark.parametrize("month", [0, 13, -1, 4.0, "4", None, True])
def test_fiscal_month_outside_1_to_12_is_a_config_error(month: object) -> None:
    with pytest.raises(ConfigError) as info:
        windows(d("2026-03-31"), fiscal_year_start_month=month)  # type: ignore[arg-type]
    assert info.value.field == "fiscal_year_start_month"
    assert "fiscal_year_start_month" in str(info.value)


# --- as_of ------------------------------------------------------------------------------


def test_default_as_of_is_yesterday_in_london() -> None:
    # 23:30 UTC on 15 July is already 16 July in London.
    assert default_as_of(datetime(2026, 7, 15, 23, 30, tzinfo=UTC)) == d("2026-07-15")
    assert default_as_of(datetime(2026, 1, 15, 23, 30, tzinfo=UTC)) == d("2026-01-14")
    assert default_as_of(datetime(2026, 3, 1, 0, 5, tzinfo=LONDON)) == d("2026-02-28")
    assert default_as_of(datetime(2026, 3, 1, 0, 5)) == d("2026-02-28")
    assert default_as_of() <= datetime.now(LONDON).date()


def test_check_as_of() -> None:
    today = d("2026-03-02")
    assert check_as_of(d("2026-03-01"), today=today) == d("2026-03-01")
    assert check_as_of(today, today=today) == today
    with pytest.raises(InputError, match="2026-03-03"):
        check_as_of(d("2026-03-03"), today=today)
    with pytest.raises(InputError, match="future"):
        check_as_of(datetime.now(LONDON).date() + timedelta(days=1))


# --- local_day --------------------------------------------------------------------------


def days_of(*values: object) -> list[object]:
    got = local_day(pd.Series(list(values), dtype=object))
    assert str(got.dtype) == "datetime64[ns]"
    return [None if pd.isna(v) else v.date().isoformat() for v in got]


def test_late_evening_utc_is_the_next_london_day_in_summer_only() -> None:
    assert days_of("2026-07-15T23:30:00.000+0000", "2026-01-15T23:30:00.000+0000") == [
        "2026-07-16",
        "2026-01-15",
    ]


@pytest.mark.parametrize(
    ("utc", "london_day"),
    [
        # Clocks go forward at 01:00 UTC on 29 March 2026.
        ("2026-03-28T23:30:00.000+0000", "2026-03-28"),
        ("2026-03-29T00:30:00.000+0000", "2026-03-29"),
        ("2026-03-29T01:30:00.000+0000", "2026-03-29"),
        ("2026-03-29T22:59:59.000+0000", "2026-03-29"),
        ("2026-03-29T23:00:00.000+0000", "2026-03-30"),
        # Clocks go back at 01:00 UTC on 25 October 2026; 01:30 London happens twice.
        ("2026-10-24T22:59:59.000+0000", "2026-10-24"),
        ("2026-10-24T23:00:00.000+0000", "2026-10-25"),
        ("2026-10-25T00:30:00.000+0000", "2026-10-25"),
        ("2026-10-25T01:30:00.000+0000", "2026-10-25"),
        ("2026-10-25T23:30:00.000+0000", "2026-10-25"),
        ("2026-10-26T00:00:00.000+0000", "2026-10-26"),
    ],
)
def test_dst_change_days(utc: str, london_day: str) -> None:
    assert days_of(utc) == [london_day]


def test_local_day_keeps_nulls_index_and_name() -> None:
    s = pd.Series(
        ["2026-03-02T09:15:00.000+0000", None, "", "2026-03-02"],
        index=[10, 20, 30, 40],
        name="Submitted_Date__c",
    )
    got = local_day(s)
    assert list(got.index) == [10, 20, 30, 40]
    assert got.name == "Submitted_Date__c"
    assert got[10] == pd.Timestamp("2026-03-02")
    assert got[[20, 30]].isna().all()
    assert got[40] == pd.Timestamp("2026-03-02")


def test_local_day_of_tz_aware_and_empty_series() -> None:
    aware = pd.Series(pd.to_datetime(["2026-07-15 23:30", None], utc=True)).astype(
        "datetime64[us, UTC]"
    )
    got = local_day(aware)
    assert got[0] == pd.Timestamp("2026-07-16") and pd.isna(got[1])
    assert str(got.dtype) == "datetime64[ns]"
    assert local_day(pd.Series([], dtype="datetime64[us, UTC]")).dtype == "datetime64[ns]"


@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
    )
)
def test_local_day_agrees_with_zoneinfo(instant: datetime) -> None:
    got = local_day(pd.Series([instant.isoformat()]))[0]
    assert got == pd.Timestamp(instant.astimezone(LONDON).date())


# --- working days -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2027, 1, "2027-01-04"),  # Fri 1 Jan New Year's Day, then a weekend
        (2026, 1, "2026-01-02"),  # Thu 1 Jan
        (2022, 1, "2022-01-04"),  # Sat 1 Jan, observed Mon 3 Jan
        (2023, 1, "2023-01-03"),  # Sun 1 Jan, observed Mon 2 Jan
        (2024, 4, "2024-04-02"),  # Easter Monday 1 April
        (2018, 4, "2018-04-03"),  # Easter Sunday 1 April, Monday 2 April
        (2029, 4, "2029-04-03"),  # Easter Sunday 1 April, Monday 2 April
        (2027, 5, "2027-05-04"),  # Sat 1 May, early May bank holiday Mon 3 May
        (2023, 5, "2023-05-02"),  # Mon 1 May bank holiday
        (2026, 3, "2026-03-02"),  # Sun 1 March
        (2026, 6, "2026-06-01"),  # an ordinary Monday
    ],
)
def test_first_working_day(year: int, month: int, expected: str) -> None:
    assert first_working_day(year, month) == d(expected)


def test_is_working_day() -> None:
    assert is_working_day(d("2026-12-24"))
    assert not is_working_day(d("2026-12-25"))
    assert not is_working_day(d("2026-12-28"))  # Boxing Day (Sat 26th) observed
    assert not is_working_day(d("2026-03-28"))  # a Saturday
    assert not is_working_day(d("2022-09-19"))  # a one-off bank holiday
    assert is_working_day(d("2026-11-30"))  # St Andrew's Day is Scotland's only


@given(year=st.integers(min_value=2000, max_value=2060), month=st.integers(1, 12))
def test_first_working_day_is_the_first_weekday_that_is_no_holiday(year: int, month: int) -> None:
    got = first_working_day(year, month)
    assert (got.year, got.month) == (year, month)
    assert got.weekday() < 5 and is_working_day(got)
    assert all(not is_working_day(date(year, month, day)) for day in range(1, got.day))
