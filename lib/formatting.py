"""How numbers, changes and traffic lights read in every report.

Null (None, NaN, NA) and non-finite numbers render as ``–`` (an en dash) everywhere.
Units are those of the metric registry: ``count``, ``money``, ``rate``, ``share``,
``hours``, ``days`` and ``map`` (a mapping of name -> share).

Rounding: every helper rounds with Python's ``format()``, i.e. to the nearest value at the
precision shown, ties to even on the exact binary value (``2.5`` -> ``2``, ``0.125`` ->
``0.12``). A value that rounds to zero is shown without a sign (never ``-£0``). Negative
numbers take a leading hyphen-minus: ``-£1,234``, ``-3.2%``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pandas as pd

from lib.errors import ConfigError, UnknownNameError

log = logging.getLogger(__name__)

DASH = "–"
UNITS = ("count", "money", "rate", "share", "hours", "days", "map")
# Rates and shares move in percentage points; everything else (counts, money, hours,
# days) by its relative change.
_POINT_UNITS = frozenset({"rate", "share"})
# Changes are compared with thresholds after rounding to this many decimals, so float
# noise such as 0.12 - 0.10 = 0.01999... still counts as exactly 2 pp.
_COMPARE_DECIMALS = 9

_UP, _FLAT, _DOWN = "▲", "▶", "▼"


def _num(v: Any) -> float | None:
    """``v`` as a finite float, or None for null, NaN and infinities."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):  # float("12") would work, and hide a column that was never parsed
        raise TypeError(f"expected a number, got the text {v!r}")
    x = float(v)
    return x if math.isfinite(x) else None


def _signed(x: float, spec: str, prefix: str = "", suffix: str = "") -> str:
    body = format(abs(x), spec)
    negative = x < 0 and any(c in "123456789" for c in body)
    return f"{'-' if negative else ''}{prefix}{body}{suffix}"


def money(v: Any, *, compact: bool = False) -> str:
    """Pounds: ``£1,234``; compact: ``£950``, ``£12.3k``, ``£1.2m``, ``£3.4bn``.

    Args:
        v: An amount in pounds.
        compact: Shorten thousands, millions and billions to one decimal.
    """
    x = _num(v)
    if x is None:
        return DASH
    whole = format(abs(x), ".0f")
    if not compact or float(whole) < 1000:
        return _signed(x, ",.0f", prefix="£")
    # The tier is chosen after rounding, so 999,960 reads £1.0m rather than £1,000.0k.
    for divisor, unit in ((1e3, "k"), (1e6, "m"), (1e9, "bn")):
        scaled = x / divisor
        if float(format(abs(scaled), ".1f")) < 1000 or unit == "bn":
            return _signed(scaled, ",.1f", prefix="£", suffix=unit)
    raise AssertionError("unreachable")  # pragma: no cover


def count(v: Any) -> str:
    """A whole number with thousands separators: ``1,234``."""
    x = _num(v)
    return DASH if x is None else _signed(x, ",.0f")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun, singular for one: ``1 application``, ``1,234 applications``."""
    return f"{count(n)} {noun if n == 1 else plural or noun + 's'}"


def percent(v: Any, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.4134`` -> ``41.3%``."""
    x = _num(v)
    return DASH if x is None else _signed(x * 100, f",.{decimals}f", suffix="%")


def pp(delta: Any, decimals: int = 1) -> str:
    """A difference of fractions in percentage points, always signed: ``+3.2 pp``.

    Zero (after rounding) has no sign: ``0.0 pp``.
    """
    x = _num(delta)
    if x is None:
        return DASH
    text = _signed(x * 100, f",.{decimals}f", suffix=" pp")
    return text if text.startswith("-") or float(text[:-3].replace(",", "")) == 0 else "+" + text


def hours(v: Any) -> str:
    """Hours to one decimal: ``5.2 h``."""
    x = _num(v)
    return DASH if x is None else _signed(x, ",.1f", suffix=" h")


def days(v: Any) -> str:
    """Days to one decimal: ``3.0 d``."""
    x = _num(v)
    return DASH if x is None else _signed(x, ",.1f", suffix=" d")


def _shares(v: Any) -> str:
    if not isinstance(v, Mapping) or not v:
        return DASH
    # Largest first, the way a reader scans a split; nulls last, ties by name.
    items = sorted(v.items(), key=lambda kv: (_num(kv[1]) is None, -(_num(kv[1]) or 0), kv[0]))
    return ", ".join(f"{name} {percent(share)}" for name, share in items)


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise UnknownNameError("unit", unit, list(UNITS))


def value(v: Any, unit: str, *, compact: bool = False) -> str:
    """Format ``v`` by its metric unit.

    Args:
        v: The value; for ``map`` a mapping of name -> share (shown largest first).
        unit: One of :data:`UNITS`.
        compact: Compact money (``£12.3k``); other units ignore it.

    Raises:
        UnknownNameError: ``unit`` is not a known unit.
    """
    _check_unit(unit)
    formatters: dict[str, Callable[[Any], str]] = {
        "count": count,
        "money": lambda x: money(x, compact=compact),
        "rate": percent,
        "share": percent,
        "hours": hours,
        "days": days,
        "map": _shares,
    }
    return formatters[unit](v)


def headline(v: Any, unit: str) -> str:
    """A value as KPI cards and commentary state it: money compact (``£106.6m``), the rest
    as :func:`value` does, so a sentence never quotes £106,635,981 beside a £106.6m card."""
    return value(v, unit, compact=unit == "money")


def _change(current: Any, previous: Any, unit: str) -> float | None:
    """The change that deltas and lights judge: a fraction (relative, or a difference)."""
    if unit == "map":  # a split has no single change; each share is judged as a "share"
        return None
    c, p = _num(current), _num(previous)
    if c is None or p is None:
        return None
    if unit in _POINT_UNITS:
        return c - p
    if p == 0:
        return None
    # abs() keeps the direction right should a previous value ever be negative.
    return (c - p) / abs(p)


def delta(current: Any, previous: Any, unit: str) -> str:
    """The change from ``previous`` to ``current`` with a direction arrow.

    Rates and shares change in percentage points (``▲ 3.2 pp``); counts, money, hours
    and days by their relative change (``▼ 12.0%``). A change that rounds to zero is
    ``▶ 0.0%``. The arrow gives the direction only: whether it is good news is
    :func:`traffic_light`'s job.

    Returns:
        The text, or ``–`` when either side is null, the previous count or value is 0,
        or the unit is ``map``.

    Raises:
        UnknownNameError: ``unit`` is not a known unit.
    """
    _check_unit(unit)
    change = _change(current, previous, unit)
    if change is None:
        return DASH
    suffix = " pp" if unit in _POINT_UNITS else "%"
    body = format(abs(change) * 100, ",.1f")
    flat = float(body.replace(",", "")) == 0  # judged on what is shown: no "▲ 0.0%"
    arrow = _FLAT if flat else _UP if change > 0 else _DOWN
    return f"{arrow} {body}{suffix}"


class Light(Enum):
    """A traffic light; word and arrow say what the colour says, for those who cannot see it.

    GREEN is good news and RED bad news: for a metric where lower is better,
    :func:`traffic_light` shows a fall as GREEN.
    """

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"

    @property
    def word(self) -> str:
        """``Better``, ``Steady``, ``Worse`` or ``n/a``: a judgement, not a direction.

        The direction is the delta's arrow; for a lower-is-better metric a fall is GREEN,
        so the light's word must not say "up".
        """
        return _LIGHT_STYLE[self][0]

    @property
    def arrow(self) -> str:
        """``●`` for a judged light or ``–``: the shape pairs with the word, never alone."""
        return _LIGHT_STYLE[self][1]

    @property
    def colour(self) -> str:
        """A CSS hex colour, dark enough for text on white."""
        return _LIGHT_STYLE[self][2]

    @property
    def label(self) -> str:
        """Symbol and word together: ``● Better``."""
        return f"{self.arrow} {self.word}"


_LIGHT_STYLE: dict[Light, tuple[str, str, str]] = {
    # Dark enough for small text at WCAG AA (4.5:1) on white, the page's grey and the Word
    # pack's pale light shading alike; report.css and email.css use the same colours.
    Light.GREEN: ("Better", "●", "#176f32"),
    Light.AMBER: ("Steady", "●", "#8f5a00"),
    Light.RED: ("Worse", "●", "#b3261e"),
    Light.NONE: ("n/a", DASH, "#5b6675"),
}


@dataclass(frozen=True)
class Thresholds:
    """Where a light turns green or red (domain §6); parameters of a report.

    Attributes:
        pct: Relative change for counts, money, hours and days (0.05 = 5 %).
        pp: Difference for rates and shares, as a fraction (0.02 = 2 percentage points).
    """

    pct: float = 0.05
    pp: float = 0.02

    def __post_init__(self) -> None:
        for name in ("pct", "pp"):
            x = getattr(self, name)
            if isinstance(x, bool) or _num(x) is None or x < 0:
                raise ConfigError(
                    f"must be a number of 0 or more, as a fraction (0.05 = 5%), got {x!r}",
                    field=f"thresholds.{name}",
                )


DEFAULT_THRESHOLDS = Thresholds()


def traffic_light(
    current: Any,
    previous: Any,
    unit: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    higher_is_better: bool = True,
) -> Light:
    """Judge a window against its previous window.

    Green at a change of at least the threshold, red at minus the threshold or worse,
    amber between; the threshold is ``thresholds.pp`` for rates and shares (a difference)
    and ``thresholds.pct`` otherwise (a relative change).

    Args:
        current: The value in the window.
        previous: The value in the previous window.
        unit: The metric's unit, one of :data:`UNITS`.
        thresholds: The report's thresholds.
        higher_is_better: False for metrics such as hours to decision, where a fall is
            good news: green and red swap.

    Returns:
        ``Light.NONE`` when either side is null, the previous count or value is 0, or
        the unit is ``map``; otherwise the light.

    Raises:
        UnknownNameError: ``unit`` is not a known unit.
    """
    _check_unit(unit)
    change = _change(current, previous, unit)
    if change is None:
        return Light.NONE
    limit = thresholds.pp if unit in _POINT_UNITS else thresholds.pct
    change = round(change, _COMPARE_DECIMALS)
    if change >= limit:
        better = True
    elif change <= -limit:
        better = False
    else:
        return Light.AMBER
    return Light.GREEN if better == higher_is_better else Light.RED
