"""The value labels a chart prints, the same in plotly, the PNG and the alt text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lib import formatting
from lib.charts.data import VALUE

if TYPE_CHECKING:
    from lib.charts.chart import Chart


def compact_label(vals: Sequence[int | float | None], unit: str) -> list[str]:
    return ["" if v is None else formatting.value(v, unit, compact=True) for v in vals]


def signed(v: int | float, unit: str) -> str:
    text = formatting.value(v, unit, compact=True)
    return text if text.startswith("-") or not any(c in "123456789" for c in text) else "+" + text


def funnel_texts(c: Chart) -> list[str]:
    """Each stage's value and, after the first, its share of the first stage."""
    vals = c.series[VALUE]
    first = vals[0]
    return [
        t + (f" ({formatting.percent(v / first)})" if i and first and v is not None else "")
        for i, (t, v) in enumerate(zip(compact_label(vals, c.unit), vals, strict=True))
    ]


def waterfall_texts(
    c: Chart, steps: list[tuple[str, float, float, str]], *, compact: bool
) -> list[str]:
    return [
        (signed(h, c.unit) if compact else ("+" if h > 0 else "") + formatting.value(h, c.unit))
        if role == "change"
        else formatting.value(h, c.unit, compact=compact)
        for _, _, h, role in steps
    ]
