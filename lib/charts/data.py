"""A chart's data as plain JSON values, and what both drawings read from it.

:class:`lib.charts.Chart` coerces its categories and values with the functions here, so
a chart holds only ISO text, numbers and None. The plotly and PNG drawings read the same
derived data (display labels, totals, waterfall steps), so the two never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lib.charts.text import plain

if TYPE_CHECKING:
    from lib.charts.chart import Chart

UNITS = ("count", "money", "rate", "share", "hours", "days")
KINDS = ("line", "bar", "grouped_bar", "stacked_bar", "donut", "funnel", "waterfall")
# Kinds drawn from a single series, stored under this name.
SINGLE = frozenset({"bar", "donut", "funnel", "waterfall"})
VALUE = "value"


def _is_null(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return math.isnan(v)
    return isinstance(v, np.datetime64) and np.isnat(v)


def as_category(v: Any) -> str:
    """A category or x value as JSON text; dates as ISO ``YYYY-MM-DD``."""
    if _is_null(v):
        raise ValueError("a category or x value is null; name it (for example 'Unknown')")
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v)
    if isinstance(v, datetime):  # pd.Timestamp too; reports work in whole days
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def as_number(v: Any) -> int | float | None:
    """A value as a JSON number; None for null and non-finite values."""
    if _is_null(v):
        return None
    if isinstance(v, bool | np.bool_ | str):  # a bool or text here is a caller's mistake
        raise TypeError(f"expected a number or None, got {v!r}")
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, int):
        return v
    x = float(v)
    return x if math.isfinite(x) else None


def iso_day(text: str) -> date | None:
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def display_labels(categories: Sequence[str], *, year: bool = False) -> list[str]:
    """Labels for categories: ISO days as ``Jan 2026`` (all month starts) or ``5 Jan``;
    other text as :func:`lib.charts.text.plain` (one line, no control characters).

    Days show their year when they span years, or always with ``year`` (alt text).
    """
    days = [iso_day(c) for c in categories]
    if not categories or any(d is None for d in days):
        return [plain(c) for c in categories]
    if all(d.day == 1 for d in days):  # type: ignore[union-attr]
        return [d.strftime("%b %Y") for d in days]  # type: ignore[union-attr]
    one_year = not year and len({d.year for d in days}) == 1  # type: ignore[union-attr]
    return [f"{d.day} {d:%b}" + ("" if one_year else f" {d.year}") for d in days]  # type: ignore[union-attr,str-format]


def total_of(vals: Iterable[int | float | None]) -> float | None:
    present = [v for v in vals if v is not None]
    return sum(present) if present else None


def has_data(c: Chart) -> bool:
    return any(v is not None for vals in c.series.values() for v in vals)


def waterfall_steps(c: Chart) -> list[tuple[str, float, float, str]]:
    """(label, base, height, role) bars: the start, each known change, the total."""
    labels, vals = display_labels(c.categories), c.series[VALUE]
    level = float(vals[0])  # type: ignore[arg-type]
    steps = [(labels[0], 0.0, level, "start")]
    for lab, v in zip(labels[1:], vals[1:], strict=True):
        if v is not None:
            steps.append((lab, level, float(v), "change"))
            level += v
    steps.append((plain(c.options.get("total_label", "Total")), 0.0, level, "total"))
    return steps


def line_from_zero(c: Chart) -> bool:
    """Counts and money lines start from zero, so a small wobble does not look like a fall."""
    present = [v for vals in c.series.values() for v in vals if v is not None]
    return c.unit in ("count", "money") and bool(present) and min(present) >= 0
