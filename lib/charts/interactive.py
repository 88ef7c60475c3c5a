"""Charts as plotly figures for ``report.html``, using only the basic bundle's traces.

The report template embeds plotly.js once; each chart is a figure dict (a div and a
script once rendered), styled to match report.css and the PNG drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from lib import formatting
from lib.charts.colours import (
    BASELINE,
    GRID,
    INK,
    PRIMARY,
    bar_colours,
    series_colours,
    text_on,
    waterfall_colours,
)
from lib.charts.data import (
    VALUE,
    display_labels,
    has_data,
    iso_day,
    line_from_zero,
    total_of,
    waterfall_steps,
)
from lib.charts.labels import compact_label, funnel_texts, waterfall_texts
from lib.charts.text import plain, shorten

if TYPE_CHECKING:
    from lib.charts.chart import Chart

WEB_FONT = '"Segoe UI", "Helvetica Neue", Arial, sans-serif'  # report.css's font
# The longest category label or legend entry plotly prints; the hover shows it in full.
TICK_CHARS = 40


def _text(text: str) -> str:
    """Display text for plotly, which reads every label as HTML (``<b>``, ``<a href>``)."""
    return escape(plain(text), quote=False)


def _names(labels: Sequence[str]) -> list[str]:
    """Category names as plotly gets them (``labels`` are display labels)."""
    return [escape(label, quote=False) for label in labels]


def _ticks(labels: Sequence[str]) -> dict[str, Any]:
    """Axis settings printing long category labels cut short; none when all are short."""
    short = [shorten(label, TICK_CHARS) for label in labels]
    if short == list(labels):
        return {}
    return {"tickmode": "array", "tickvals": _names(labels), "ticktext": _names(short)}


def _series_name(name: str) -> dict[str, Any]:
    """A trace's legend name, cut short when long; the full name rides along for hover."""
    full = _text(name)
    short = escape(shorten(plain(name), TICK_CHARS), quote=False)
    return {"name": short} if short == full else {"name": short, "meta": full}


def _plotly_axis(unit: str, *, percent: bool = False) -> dict[str, Any]:
    """d3 tick formats that read like lib.formatting: £12.3k, 1,234, 41.5%, 5.2 h."""
    if percent or unit in ("rate", "share"):
        return {"tickformat": ".0%" if percent else ".1~%"}
    return {
        "money": {"tickprefix": "£", "tickformat": "~s"},
        "count": {"tickformat": ",~f"},
        "hours": {"tickformat": ",.1~f", "ticksuffix": " h"},
        "days": {"tickformat": ",.1~f", "ticksuffix": " d"},
    }[unit]


def _full(vals: Sequence[int | float | None], unit: str) -> list[str]:
    """Hover text: the full value, rounded only here (the data keep every digit)."""
    return ["" if v is None else formatting.value(v, unit) for v in vals]


def plotly_figure(c: Chart) -> dict[str, Any]:
    legend = c.kind in ("line", "grouped_bar", "stacked_bar") and len(c.series) > 1
    layout: dict[str, Any] = {
        "template": "none",  # plotly's default template would add ~8 KB to every chart
        "height": 380,
        "font": {"family": WEB_FONT, "size": 13, "color": INK},
        "title": {
            "text": f"<b>{_text(c.title)}</b>",
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"l": 8, "t": 12},
            "font": {"size": 16},
        },
        "margin": {"l": 8, "r": 16, "t": 48 + (28 if legend else 0), "b": 8, "pad": 4},
        "showlegend": legend,
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": BASELINE, "font": {"color": INK}},
        "uniformtext": {"minsize": 10, "mode": "hide"},  # drop value labels that cannot fit
        "xaxis": {"automargin": True, "showgrid": False, "linecolor": BASELINE, "ticks": ""},
        "yaxis": {"automargin": True, "gridcolor": GRID, "zeroline": False, "ticks": ""},
    }
    if not has_data(c):
        layout["xaxis"] = layout["yaxis"] = {"visible": False}
        layout["height"] = 200
        layout["annotations"] = [{"text": "No data", "showarrow": False}]
        return {"data": [], "layout": layout}
    traces = _PLOTLY[c.kind](c, layout)
    return {"data": traces, "layout": layout}


def _bars(
    c: Chart, x: list[Any], y: list[Any], colour: str | list[str], text: list[str], **extra: Any
) -> dict[str, Any]:
    """A plotly bar trace, value-labelled past the bar, with hover text from formatting."""
    horizontal = extra.get("orientation") == "h"
    return {
        "type": "bar",
        "x": x,
        "y": y,
        "marker": {"color": colour},
        "text": text,
        "textposition": "outside",
        "cliponaxis": False,
        "hovertext": _full(x if horizontal else y, c.unit),
        "hovertemplate": ("%{y}" if horizontal else "%{x}")
        + ("<br>%{meta}" if "meta" in extra else "<br>%{fullData.name}" if "name" in extra else "")
        + ": %{hovertext}<extra></extra>",
        **extra,
    }


def _category_axes(
    c: Chart, layout: dict[str, Any], labels: Sequence[str], *, percent: bool = False
) -> None:
    # "category" stops plotly reading labels such as "2025" or "Jan 2026" as numbers/dates.
    layout["xaxis"].update(type="category", **_ticks(labels))
    layout["yaxis"].update(_plotly_axis(c.unit, percent=percent))


def _plotly_line(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, n = series_colours(c), len(c.categories)
    days = [iso_day(x) for x in c.categories]
    extra: dict[str, Any] = {}
    if all(days):
        fmt = "%b %Y" if all(d.day == 1 for d in days) else "%-d %b %Y"  # type: ignore[union-attr]
        # Ticks on the data's own days: plotly's automatic weekly ticks fall on Sundays.
        ticks = c.categories[::-1][:: math.ceil(n / 8)][::-1]
        layout["xaxis"].update(type="date", hoverformat=fmt, tickformat=fmt, tickvals=ticks)
        extra["xhoverformat"] = fmt
        x = c.categories
    else:
        labels = display_labels(c.categories)
        layout["xaxis"].update(type="category", **_ticks(labels))
        x = _names(labels)
    layout["yaxis"].update(
        _plotly_axis(c.unit), rangemode="tozero" if line_from_zero(c) else "normal"
    )
    traces = []
    for name, vals in c.series.items():
        named = _series_name(name)
        who = "%{meta}" if "meta" in named else "%{fullData.name}"
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if n <= 24 else "lines",
                **named,
                "x": x,
                "y": vals,
                "line": {"color": colours[name], "width": 2.5},
                "marker": {"size": 6},
                "hovertext": _full(vals, c.unit),
                "hovertemplate": f"%{{x}}<br>{who}: %{{hovertext}}<extra></extra>",
                **extra,
            }
        )
    return traces


def _plotly_hbar(
    c: Chart, layout: dict[str, Any], texts: list[str], colours: list[str]
) -> list[dict[str, Any]]:
    vals, labels = c.series[VALUE], display_labels(c.categories)
    layout["height"] = 90 + 30 * len(vals)
    layout["yaxis"] = {
        "automargin": True,
        "type": "category",
        "autorange": "reversed",
        "ticks": "",
        **_ticks(labels),
    }
    layout["xaxis"] = {"visible": False}
    return [_bars(c, vals, _names(labels), colours, texts, orientation="h")]


def _plotly_bar(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    vals, colours = c.series[VALUE], bar_colours(c)
    if c.options.get("horizontal"):
        return _plotly_hbar(c, layout, compact_label(vals, c.unit), colours)
    labels = display_labels(c.categories)
    _category_axes(c, layout, labels)
    return [_bars(c, _names(labels), vals, colours, compact_label(vals, c.unit))]


def _plotly_grouped(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, labels = series_colours(c), display_labels(c.categories)
    layout["barmode"] = "group"
    _category_axes(c, layout, labels)
    return [
        _bars(
            c,
            _names(labels),
            vals,
            colours[name],
            compact_label(vals, c.unit),
            **_series_name(name),
        )
        for name, vals in c.series.items()
    ]


def _plotly_stacked(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, labels = series_colours(c), display_labels(c.categories)
    percent = bool(c.options.get("percent"))
    columns = list(zip(*c.series.values(), strict=True))
    totals = [total_of(col) for col in columns]
    # barnorm keeps the raw values in the data; plotly works out the shares.
    layout.update(barmode="relative", barnorm="fraction" if percent else "")
    _category_axes(c, layout, labels, percent=percent)
    x = _names(labels)
    traces = []
    for name, vals in c.series.items():
        trace = _bars(c, x, vals, colours[name], [], **_series_name(name), textposition="none")
        trace["marker"]["line"] = {"color": "#ffffff", "width": 0.5}
        if percent:
            pct = [
                "" if v is None or not t else formatting.percent(v / t, 0)
                for v, t in zip(vals, totals, strict=True)
            ]
            trace.update(
                text=pct,
                textposition="inside",
                insidetextanchor="middle",
                textfont={"color": text_on(colours[name])},
                hovertext=[
                    h and f"{h} ({p})" for h, p in zip(trace["hovertext"], pct, strict=True)
                ],
            )
        traces.append(trace)
    if not percent:  # totals above the stacks, as a text-only scatter (basic bundle)
        tops = [sum(v for v in col if v is not None and v > 0) for col in columns]
        traces.append(
            {
                "type": "scatter",
                "mode": "text",
                "x": x,
                "y": tops,
                "text": compact_label(totals, c.unit),
                "textposition": "top center",
                "showlegend": False,
                "hoverinfo": "skip",
                "cliponaxis": False,
            }
        )
    return traces


def _plotly_donut(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    vals, labels, colours = c.series[VALUE], display_labels(c.categories), bar_colours(c)
    keep = [i for i, v in enumerate(vals) if v is not None]
    total = formatting.value(total_of(vals) or 0, c.unit, compact=True)
    layout.update(height=340, showlegend=True)
    layout["legend"] = {
        "orientation": "v",
        "x": 1,
        "xanchor": "left",
        "y": 0.5,
        "yanchor": "middle",
    }
    layout["annotations"] = [
        {"text": f"<b>{total}</b><br>Total", "showarrow": False, "font": {"size": 15}}
    ]
    names = _names([labels[i] for i in keep])
    short = _names([shorten(labels[i], TICK_CHARS) for i in keep])
    # Slices of one label are summed by plotly: cut names short only if they stay distinct.
    named: dict[str, Any] = {"labels": names}
    if short != names and len(set(short)) == len(short):
        named = {"labels": short, "text": names}
    who = "%{text}" if "text" in named else "%{label}"
    return [
        {
            "type": "pie",
            **named,
            "values": [vals[i] for i in keep],
            "hole": 0.58,
            "sort": False,
            "direction": "clockwise",
            "marker": {
                "colors": [colours[i] for i in keep],
                "line": {"color": "#ffffff", "width": 1},
            },
            "textinfo": "percent",
            "insidetextorientation": "horizontal",
            "hovertext": _full([vals[i] for i in keep], c.unit),
            "hovertemplate": f"{who}: %{{hovertext}} (%{{percent}})<extra></extra>",
        }
    ]


def _plotly_funnel(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    return _plotly_hbar(c, layout, funnel_texts(c), [PRIMARY] * len(c.categories))


def _plotly_waterfall(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    steps = waterfall_steps(c)
    labels = [s[0] for s in steps]
    _category_axes(c, layout, labels)
    x, y, base = _names(labels), [s[2] for s in steps], [s[1] for s in steps]
    trace = _bars(
        c, x, y, waterfall_colours(steps), waterfall_texts(c, steps, compact=True), base=base
    )
    trace["hovertext"] = waterfall_texts(c, steps, compact=False)
    return [trace]


_PLOTLY: dict[str, Callable[[Chart, dict[str, Any]], list[dict[str, Any]]]] = {
    "line": _plotly_line,
    "bar": _plotly_bar,
    "grouped_bar": _plotly_grouped,
    "stacked_bar": _plotly_stacked,
    "donut": _plotly_donut,
    "funnel": _plotly_funnel,
    "waterfall": _plotly_waterfall,
}
