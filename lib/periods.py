"""Period windows, the London calendar day and working days (domain §3 and §4).

A window is a closed range of Europe/London calendar days. ``windows(as_of)`` builds the
report periods (``LW``, ``MTD``, ``QTD``, ``YTD``, ``M``) together with the windows they
are compared against (``<key>_prev``, and ``M_ly`` for the board month).
"""

from __future__ import annotations

import calendar
import functools
import logging
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pandas as pd

from lib.errors import ConfigError, InputError, UnknownNameError

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
DEFAULT_KEYS = ("LW", "MTD", "QTD", "YTD")

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Window:
    """A closed range of local calendar days, ``start`` and ``end`` both included."""

    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, d: object) -> bool:
        # NaT is a datetime subclass whose comparisons are all False; say so explicitly.
        if d is None or d is pd.NaT:
            return False
        if isinstance(d, datetime):  # includes pd.Timestamp; a datetime never equals a date
            d = d.date()
        if not isinstance(d, date):
            return False
        return self.start <= d <= self.end

    def days(self) -> int:
        """Number of days in the window, both ends included."""
        return (self.end - self.start).days + 1

    def to_json(self) -> list[str]:
        """The window as ``["YYYY-MM-DD", "YYYY-MM-DD"]``."""
        return [self.start.isoformat(), self.end.isoformat()]


def default_as_of(now: datetime | None = None) -> date:
    """Yesterday in Europe/London: the last complete day of data at ``now``.

    Args:
        now: The moment of the run; defaults to the current time. A naive datetime is
            taken as London wall-clock time, since that is the schedule's time zone.

    Returns:
        The London calendar day before ``now``.
    """
    if now is None:
        now = datetime.now(LONDON)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=LONDON)
    return now.astimezone(LONDON).date() - _ONE_DAY


def check_as_of(as_of: date, *, today: date | None = None) -> date:
    """Refuse an ``as_of`` in the future.

    Args:
        as_of: The last day of data the run should include.
        today: Today's London date; defaults to the current one.

    Returns:
        ``as_of`` as a date.

    Raises:
        InputError: ``as_of`` is after today; the message names both dates.
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if today is None:
        today = datetime.now(LONDON).date()
    if as_of > today:
        raise InputError(
            f"as_of {as_of.isoformat()} is in the future (today in Europe/London is "
            f"{today.isoformat()}); use {(today - _ONE_DAY).isoformat()} or earlier"
        )
    if as_of == today:
        log.warning("as_of %s is today: its data is not complete yet", as_of.isoformat())
    return as_of


def check_fiscal_year_start_month(month: object) -> int:
    """Validate the ``fiscal_year_start_month`` report parameter.

    Args:
        month: The value from the report's parameters.

    Returns:
        The month as an int from 1 (calendar year) to 12.

    Raises:
        ConfigError: ``month`` is not a whole number from 1 to 12.
    """
    if isinstance(month, numbers.Integral) and not isinstance(month, bool) and 1 <= month <= 12:
        return int(month)
    raise ConfigError(
        f"must be a whole number from 1 to 12 (1 = calendar year, 4 = April), got {month!r}",
        field="fiscal_year_start_month",
    )


def _add_months(first: date, n: int) -> date:
    """The first day of the month ``n`` months after the month of ``first``."""
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _one_year_earlier(d: date) -> date:
    # 29 Feb has no twin in a common year; the domain maps it to 28 Feb.
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return d.replace(year=d.year - 1)


def year_start(d: date, fiscal_year_start_month: int = 1) -> date:
    """First day of the (fiscal) year containing ``d``."""
    fy = check_fiscal_year_start_month(fiscal_year_start_month)
    return date(d.year if d.month >= fy else d.year - 1, fy, 1)


def quarter_start(d: date, fiscal_year_start_month: int = 1) -> date:
    """First day of the quarter containing ``d``; quarters follow the (fiscal) year."""
    ys = year_start(d, fiscal_year_start_month)
    months_in = (d.year - ys.year) * 12 + d.month - ys.month
    return _add_months(ys, months_in // 3 * 3)


def _lw(a: date, fy: int) -> dict[str, Window]:
    end = a - timedelta(days=(a.weekday() + 1) % 7)  # the latest Sunday on or before a
    week = timedelta(days=7)
    return {
        "LW": Window(end - timedelta(days=6), end),
        "LW_prev": Window(end - week - timedelta(days=6), end - week),
    }


def _mtd(a: date, fy: int) -> dict[str, Window]:
    start = a.replace(day=1)
    prev_start = _add_months(start, -1)
    prev_end = _month_end(prev_start)
    if a != _month_end(a):
        prev_end = prev_start.replace(day=min(a.day, prev_end.day))
    return {"MTD": Window(start, a), "MTD_prev": Window(prev_start, prev_end)}


def _qtd(a: date, fy: int) -> dict[str, Window]:
    start = quarter_start(a, fy)
    prev_start = _add_months(start, -3)
    prev_end = start - _ONE_DAY
    if a != _add_months(start, 3) - _ONE_DAY:
        prev_end = min(prev_start + (a - start), prev_end)
    return {"QTD": Window(start, a), "QTD_prev": Window(prev_start, prev_end)}


def _ytd(a: date, fy: int) -> dict[str, Window]:
    start = year_start(a, fy)
    return {
        "YTD": Window(start, a),
        "YTD_prev": Window(_one_year_earlier(start), _one_year_earlier(a)),
    }


def _m(a: date, fy: int) -> dict[str, Window]:
    if a != _month_end(a):
        raise InputError(
            f"period M needs as_of on the last day of a month, got {a.isoformat()}; "
            f"for a board pack run on date R use board_month_as_of(R)"
        )
    start = a.replace(day=1)
    prev_start = _add_months(start, -1)
    ly_start = _add_months(start, -12)
    return {
        "M": Window(start, a),
        "M_prev": Window(prev_start, _month_end(prev_start)),
        "M_ly": Window(ly_start, _month_end(ly_start)),
    }


_BUILDERS: dict[str, Callable[[date, int], dict[str, Window]]] = {
    "LW": _lw,
    "MTD": _mtd,
    "QTD": _qtd,
    "YTD": _ytd,
    "M": _m,
}


def windows(
    as_of: date,
    keys: Iterable[str] = DEFAULT_KEYS,
    *,
    fiscal_year_start_month: int = 1,
) -> dict[str, Window]:
    """The period windows for ``as_of`` and their comparison windows (domain §4).

    Args:
        as_of: The last complete day of data.
        keys: Periods among ``LW``, ``MTD``, ``QTD``, ``YTD``, ``M``.
        fiscal_year_start_month: Month (1-12) the year starts in; YTD and QTD follow it.

    Returns:
        ``{key: window, key + "_prev": window, ...}`` in the order of ``keys``; ``M``
        also adds ``M_ly``, the same month a year earlier.

    Raises:
        UnknownNameError: A key is not one of the periods above.
        ConfigError: ``fiscal_year_start_month`` is not 1-12.
        InputError: ``M`` was asked for and ``as_of`` is not the last day of a month.
    """
    fy = check_fiscal_year_start_month(fiscal_year_start_month)
    if isinstance(keys, str):  # a lone "MTD" would otherwise iterate as "M", "T", "D"
        keys = (keys,)
    out: dict[str, Window] = {}
    for key in keys:
        builder = _BUILDERS.get(key)
        if builder is None:
            raise UnknownNameError("period", key, list(_BUILDERS))
        out.update(builder(as_of, fy))
    return out


def board_month_as_of(run_date: date) -> date:
    """The ``as_of`` of a board pack run on ``run_date``: the last day of the month before."""
    return run_date.replace(day=1) - _ONE_DAY


def local_day(values: pd.Series) -> pd.Series:
    """The Europe/London calendar day of each instant, as naive local midnight.

    Args:
        values: Tz-aware datetimes, or ISO 8601 strings as the Salesforce REST API sends
            them (``2026-03-02T09:15:00.000+0000``). Naive datetimes and strings without
            an offset are taken as UTC, Salesforce's time zone; a bare date stays that day.

    Returns:
        A ``datetime64[ns]`` series with the same index and name; nulls stay ``NaT``.

    Raises:
        ValueError: A string is not an ISO 8601 date or datetime.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        instants = s
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        instants = s.dt.tz_localize("UTC")
    else:
        instants = pd.to_datetime(s, utc=True, format="ISO8601")
    local = instants.dt.tz_convert(LONDON).dt.tz_localize(None).dt.normalize()
    return local.astype("datetime64[ns]")


@functools.cache
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share their bank holidays; the holidays package files them as ENG.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a weekday that is not an England & Wales bank holiday."""
    return d.weekday() < 5 and d not in _bank_holidays(d.year)


def first_working_day(year: int, month: int) -> date:
    """The first working day (England & Wales) of a month: the board pack's run date."""
    d = date(year, month, 1)
    while not is_working_day(d):
        d += _ONE_DAY
    return d
