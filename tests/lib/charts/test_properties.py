"""Every chart kind draws whatever the data: hostile names, degenerate values, 0 to 300
categories, through both drawings (plotly for report.html, the PNG for email and Word).

Invariants: nothing raises; the same chart gives the same bytes; no text of the data
reaches the HTML unescaped (plotly reads labels as HTML too); every drawn text stays inside
the picture, and the picture inside its size bounds; the alt text names every category.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import charts
from lib.charts.data import display_labels
from lib.charts.interactive import plotly_figure
from lib.charts.png import draw, encode
from lib.charts.text import plain
from tests.fixtures.hostile import (
    HOSTILE,
    SPECIAL_VALUES,
    awkward_days,
    counts,
    day_run,
    distinct,
    texts,
    value_lists,
)
from tests.lib.charts.pictures import text_outside

PROPERTY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_HEIGHT = 2400  # layout px: the tallest chart, whatever its data (at most 6 series)


@st.composite
def chart_of(draw_: Any, kind: str, n: int | None = None) -> charts.Chart:
    """A chart of ``kind`` over ``n`` categories (by default none to fifty)."""
    n = draw_(counts().filter(lambda k: k <= 50)) if n is None else n
    title = "Paid value " + draw_(texts())
    unit = draw_(st.sampled_from(charts.UNITS))
    names = draw_(st.lists(texts(), min_size=1, max_size=6))
    if kind == "line" and draw_(st.booleans()):
        cats = day_run(draw_(awkward_days()), n)
    else:
        cats = distinct(names, n)
    parts = kind in ("donut", "funnel")
    if kind in ("line", "grouped_bar", "stacked_bar"):
        percent = kind == "stacked_bar" and draw_(st.booleans())
        series_names = distinct(
            draw_(st.lists(texts(), min_size=1, max_size=6)),
            draw_(st.integers(1, 6 if n <= 50 else 2)),
        )
        series = {s: draw_(value_lists(n, negative=not percent)) for s in series_names}
        if kind == "line":
            return charts.line(title, cats, series, unit=unit)
        if kind == "grouped_bar":
            return charts.grouped_bar(title, cats, series, unit=unit)
        return charts.stacked_bar(title, cats, series, unit=unit, percent=percent)
    values = draw_(value_lists(n, negative=not parts))
    if kind == "bar":
        highlight = draw_(st.lists(st.sampled_from(cats), max_size=3)) if cats else None
        horizontal = draw_(st.booleans())
        return charts.bar(
            title, cats, values, unit=unit, horizontal=horizontal, highlight=highlight
        )
    if kind == "donut":
        return charts.donut(title, cats, values, unit=unit)
    if kind == "funnel":
        return charts.funnel(title, cats, values, unit=unit)
    # A waterfall starts from a value and closes on a total named unlike its categories.
    cats = cats or ["Start"]
    values = [draw_(st.floats(-1e12, 1e12)), *values[1 : len(cats)]]
    values += [None] * (len(cats) - len(values))
    total = draw_(texts())
    if plain(total) in display_labels(cats):
        total = "Total"
    return charts.waterfall(title, cats, values, unit=unit, total_label=total)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_html(chart: charts.Chart) -> None:
    html = chart.html()
    assert html == chart.html()
    parser = _Tags()
    parser.feed(html)
    assert parser.tags == ["div", "div", "div", "script"], parser.tags  # none of the data
    figure = plotly_figure(chart)
    title = figure["layout"]["title"]["text"]
    assert title.startswith("<b>") and title.endswith("</b>") and "<" not in title[3:-4]
    shown = []
    for trace in figure["data"]:
        for key in ("x", "y", "labels", "name", "meta", "text"):
            shown += [s for s in _strings(trace.get(key)) if not s.startswith("%{")]
    for axis in ("xaxis", "yaxis"):
        shown += _strings(figure["layout"][axis].get("ticktext"))
    assert not [s for s in shown if "<" in s or ">" in s]


def _check_png(chart: charts.Chart, *, again: bool = True) -> None:
    cv = draw(chart, 600, 1)
    assert cv.fig.bbox.width == 600 and 80 <= cv.height <= MAX_HEIGHT, cv.height
    assert not text_outside(cv), text_outside(cv)[:3]
    if again:  # drawing twice costs seconds for hundreds of bars: small charts say as much
        assert encode(cv) == chart.png(600, 1)


def _check_alt(chart: charts.Chart) -> None:
    assert "\n" not in chart.alt and chart.alt.endswith(".")
    listed = chart.kind not in ("line", "stacked_bar")  # these two summarise their categories
    if (
        listed
        and 0 < len(chart.categories) <= 12
        and any(v is not None for vs in chart.series.values() for v in vs)
    ):
        for label in display_labels(chart.categories, year=True):
            assert label in chart.alt


@pytest.mark.parametrize("kind", charts.KINDS)
@given(data=st.data())
@PROPERTY
def test_every_kind_draws_whatever_the_data(kind: str, data: st.DataObject) -> None:
    chart = data.draw(chart_of(kind))
    _check_html(chart)
    _check_png(chart, again=len(chart.categories) <= 12)
    _check_alt(chart)


def _three_hundred(kind: str) -> charts.Chart:
    """300 hostile names and every awkward value, one huge outlier among them."""
    cats = distinct(HOSTILE, 300)
    values = [SPECIAL_VALUES[i % len(SPECIAL_VALUES)] for i in range(300)]
    values[150] = 1e12
    if kind in ("donut", "funnel"):
        values = [None if v is None else abs(v) for v in values]
    title = "Paid value by retailer"
    if kind == "line":
        return charts.line(
            title, cats, {"This year": values, "Last year": values[::-1]}, unit="money"
        )
    if kind in ("grouped_bar", "stacked_bar"):
        build = charts.grouped_bar if kind == "grouped_bar" else charts.stacked_bar
        return build(title, cats, {"This year": values, "Last year": values[::-1]}, unit="money")
    if kind == "waterfall":
        return charts.waterfall(title, cats, [1.0, *values[1:]], unit="money")
    if kind == "bar":
        return charts.bar(title, cats, values, unit="money", horizontal=True)
    return getattr(charts, kind)(title, cats, values, unit="money")


@pytest.mark.parametrize("kind", charts.KINDS)
def test_300_categories_stay_a_picture(kind: str) -> None:
    """Three hundred retailers: the PNG keeps to its size bounds (thinned, not stretched)."""
    chart = _three_hundred(kind)
    _check_html(chart)
    _check_png(chart, again=False)
