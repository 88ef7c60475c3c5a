"""Alt text written from a chart's own data: one sentence stating its numbers.

A chart built without alt text gets this sentence, from its title, category names,
series names and values alone, so it can never say more than the data it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib import formatting
from lib.charts.data import VALUE, display_labels, total_of
from lib.charts.labels import signed

if TYPE_CHECKING:
    from lib.charts.chart import Chart

_ALT_ITEMS = 12  # alt text lists at most this many values per list, then "and N more"

_KIND_WORDS = {
    "line": "line chart",
    "bar": "bar chart",
    "grouped_bar": "grouped bar chart",
    "stacked_bar": "stacked bar chart",
    "donut": "donut chart",
    "funnel": "funnel chart",
    "waterfall": "waterfall chart",
}


def _said(v: int | float | None, unit: str) -> str:
    # Screen readers skip or mispronounce the dash that stands for null in tables.
    return "no data" if v is None else formatting.value(v, unit, compact=True)


def _listed(items: list[str], sep: str = ", ") -> str:
    more = len(items) - _ALT_ITEMS
    shown = items if more <= 1 else [*items[:_ALT_ITEMS], f"and {more} more"]
    return sep.join(shown)


def _trend(name: str, xs: list[str], vals: list[int | float | None], unit: str) -> str:
    pts = [(x, v) for x, v in zip(xs, vals, strict=True) if v is not None]
    if not pts:
        return f"{name} no data"
    (x0, v0), (x1, v1) = pts[0], pts[-1]
    if len(pts) == 1:
        text = f"{name} {_said(v0, unit)} in {x0}"
    else:
        a, b = _said(v0, unit), _said(v1, unit)
        if a == b:
            text = f"{name} unchanged at {a} from {x0} to {x1}"
        else:
            text = f"{name} {'rose' if v1 > v0 else 'fell'} from {a} in {x0} to {b} in {x1}"
        xh, vh = max(pts, key=lambda p: p[1])
        if len(pts) > 2 and vh not in (v0, v1):
            text += f" (high {_said(vh, unit)} in {xh})"
    gaps = len(vals) - len(pts)
    return text + (f", no data for {gaps} of {len(vals)} points" if gaps else "")


def describe(c: Chart) -> str:
    """One sentence stating the chart's numbers, from its own data only."""
    head = f"{c.title} ({_KIND_WORDS[c.kind]})"
    u, cats, labels = c.unit, c.categories, display_labels(c.categories, year=True)
    if not cats or all(v is None for vals in c.series.values() for v in vals):
        return f"{head}: no data."
    vals = c.series.get(VALUE, [])
    if c.kind == "line":
        if len(c.series) > 6:
            body = _listed([f"{n} {_said(vs[-1], u)}" for n, vs in c.series.items()])
            body = f"latest in {labels[-1]}: {body}"
        else:
            body = "; ".join(_trend(n, labels, vs, u) for n, vs in c.series.items())
    elif c.kind == "bar":
        marked = set(c.options.get("highlight", []))
        body = _listed(
            [
                f"{lab} {_said(v, u)}" + (" (highlighted)" if cat in marked else "")
                for cat, lab, v in zip(cats, labels, vals, strict=True)
            ]
        )
    elif c.kind == "grouped_bar":
        groups = [
            f"{lab}: " + ", ".join(f"{n} {_said(vs[i], u)}" for n, vs in c.series.items())
            for i, lab in enumerate(labels)
        ]
        body = _listed(groups, "; ")
    elif c.kind == "stacked_bar":
        body = _describe_stacked(c, labels)
    elif c.kind == "donut":
        whole = total_of(v for v in vals if v and v > 0) or 0
        parts = [
            f"{lab} {_said(v, u)}" + (f" ({formatting.percent(v / whole)})" if v and whole else "")
            for lab, v in zip(labels, vals, strict=True)
        ]
        body = f"total {_said(whole, u)}: {_listed(parts)}"
    elif c.kind == "funnel":
        first = vals[0]
        parts = []
        for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
            share = (
                f" ({formatting.percent(v / first)} of {labels[0]})"
                if i and first and v is not None
                else ""
            )
            parts.append(f"{lab} {_said(v, u)}{share}")
        body = _listed(parts)
    else:  # waterfall
        end = total_of(vals)
        total_label = c.options.get("total_label", "Total")
        steps = [
            f"{lab} {'no data' if v is None else signed(v, u)}"
            for lab, v in zip(labels[1:], vals[1:], strict=True)
        ]
        body = f"from {_said(vals[0], u)} ({labels[0]}) to {_said(end, u)} ({total_label})"
        body += f": {_listed(steps)}" if steps else ""
    return f"{head}: {body}."


def _describe_stacked(c: Chart, labels: list[str]) -> str:
    u, names = c.unit, list(c.series)
    columns = [[vs[i] for vs in c.series.values()] for i in range(len(labels))]
    detailed = len(labels) * len(names) <= 16
    if c.options.get("percent"):

        def shares(col: list[int | float | None]) -> str:
            whole = total_of(col)
            return ", ".join(
                f"{n} {formatting.percent(v / whole) if whole and v is not None else 'no data'}"
                for n, v in zip(names, col, strict=True)
            )

        if detailed:
            return _listed(
                [f"{lab}: {shares(col)}" for lab, col in zip(labels, columns, strict=True)], "; "
            )
        return f"overall shares {shares([total_of(vs) for vs in c.series.values()])}"
    if detailed:
        groups = [
            f"{lab} {_said(total_of(col), u)} ("
            + ", ".join(f"{n} {_said(v, u)}" for n, v in zip(names, col, strict=True))
            + ")"
            for lab, col in zip(labels, columns, strict=True)
        ]
        return _listed(groups, "; ")
    totals = _listed(
        [f"{lab} {_said(total_of(col), u)}" for lab, col in zip(labels, columns, strict=True)]
    )
    overall = _listed([f"{n} {_said(total_of(vs), u)}" for n, vs in c.series.items()])
    return f"totals {totals}; overall {overall}"
