"""The charts of every report: one data object, drawn twice.

A :class:`Chart` holds its data as plain JSON values and draws itself two ways: with
plotly for ``report.html`` (a div and a script, without plotly.js, which the report
template embeds once) and with matplotlib as a PNG for email bodies and Word. Both
drawings share one house style: the lender palette of :func:`palette`, values written
by :mod:`lib.formatting`, titles left-aligned.

Every chart carries alt text. When the caller gives none it is written from the data
alone (title, category names, series names and values), so a chart can never say more
than the data it was given: a retailer's chart built from that retailer's data mentions
nobody else.

Null values (None, NaN) are gaps in lines and missing bars, never zeros.

The PNG side uses matplotlib's object-oriented API with its Agg canvas and never
pyplot: no global figure registry to leak figures across targets, no backend switch in
the analyst's kernel. Styling goes through ``matplotlib.style.context`` (house style on
top of matplotlib's defaults), so a style the notebook set does not leak in. rcParams
are process-global: draw from one thread at a time (the runner fans out in processes).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cache
from html import escape
from typing import Any

import matplotlib.style
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy
from PIL import Image

from lib import formatting, lenders
from lib.errors import UnknownNameError

UNITS = ("count", "money", "rate", "share", "hours", "days")
KINDS = ("line", "bar", "grouped_bar", "stacked_bar", "donut", "funnel", "waterfall")
# Kinds drawn from a single series, stored under this name.
_SINGLE = frozenset({"bar", "donut", "funnel", "waterfall"})
VALUE = "value"

# One colour per canonical lender, in lenders.CANONICAL order: distinct hues that read on
# white. Colour is never the only cue: every series is named in a legend or on an axis.
LENDER_COLOURS = (
    "#2f7ebc",
    "#e5832a",
    "#2e9a5a",
    "#d0414f",
    "#8561b5",
    "#94633a",
    "#1fa2b4",
    "#d66aa8",
)
# For names that are not canonical lenders once the lender colours are used up.
EXTRA_COLOURS = ("#5c6b7a", "#a3a935", "#b35c1e", "#4c9a9a", "#7b3f6e", "#3d5a80", "#c49a2a")
OTHER_COLOUR = "#9aa3ad"
_GREY_NAMES = frozenset({lenders.UNKNOWN, "Other", "Others"})
PRIMARY = "#123f6d"  # the brand navy of report.css: single-series charts
MUTED = "#b8c4d1"  # bars that are not highlighted
# "This period" dark, earlier periods lighter: grouped bars of periods rather than lenders.
COMPARISON_COLOURS = (PRIMARY, "#7f9fbf", "#c2d1e0")
UP, DOWN = "#2e9a5a", "#d0414f"
INK, SUBTLE, GRID, BASELINE = "#1d2733", "#4a5563", "#e3e7ec", "#8a94a0"
WEB_FONT = '"Segoe UI", "Helvetica Neue", Arial, sans-serif'  # report.css's font

_HTML_CONFIG = {"displaylogo": False, "responsive": True}
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_EMAIL_WIDTH, _EMAIL_SCALE = 600, 2
_ALT_ITEMS = 12  # alt text lists at most this many values per list, then "and N more"


def palette(names: Iterable[str]) -> dict[str, str]:
    """Stable colours for series names, lenders above all.

    A canonical lender always gets its own colour, whatever else is on the chart, so
    Northwind Bank is the same blue in every chart of every report. ``Unknown`` and
    ``Other`` are grey. Any other name takes the next lender colour no canonical lender
    on this chart uses, in the order given, then the extra colours, cycling.

    Args:
        names: Series or category names, in display order (duplicates ignored).

    Returns:
        Name -> CSS hex colour, in the order given.
    """
    order = list(dict.fromkeys(names))
    canonical = {name: i % len(LENDER_COLOURS) for i, name in enumerate(lenders.CANONICAL)}
    taken = {canonical[n] for n in order if n in canonical}
    spare = [c for i, c in enumerate(LENDER_COLOURS) if i not in taken] + list(EXTRA_COLOURS)
    out: dict[str, str] = {}
    others = 0
    for name in order:
        if name in canonical:
            out[name] = LENDER_COLOURS[canonical[name]]
        elif name in _GREY_NAMES:
            out[name] = OTHER_COLOUR
        else:
            out[name] = spare[others % len(spare)]
            others += 1
    return out


# --------------------------------------------------------------------------- data


def _is_null(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return math.isnan(v)
    return isinstance(v, np.datetime64) and np.isnat(v)


def _category(v: Any) -> str:
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


def _number(v: Any) -> int | float | None:
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


def _iso_day(text: str) -> date | None:
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _display(categories: Sequence[str], *, year: bool = False) -> list[str]:
    """Labels for categories: ISO days as ``Jan 2026`` (all month starts) or ``5 Jan``.

    Days show their year when they span years, or always with ``year`` (alt text).
    """
    days = [_iso_day(c) for c in categories]
    if not categories or any(d is None for d in days):
        return list(categories)
    if all(d.day == 1 for d in days):  # type: ignore[union-attr]
        return [d.strftime("%b %Y") for d in days]  # type: ignore[union-attr]
    one_year = not year and len({d.year for d in days}) == 1  # type: ignore[union-attr]
    return [f"{d.day} {d:%b}" + ("" if one_year else f" {d.year}") for d in days]  # type: ignore[union-attr,str-format]


@dataclass(frozen=True)
class Chart:
    """One chart's data, drawable as plotly (HTML) and matplotlib (PNG).

    Build charts with :func:`line`, :func:`bar`, :func:`grouped_bar`,
    :func:`stacked_bar`, :func:`donut`, :func:`funnel` and :func:`waterfall`.

    Attributes:
        kind: One of :data:`KINDS`.
        title: The title, shown left-aligned above the chart.
        alt: A one-sentence description stating the key numbers; written from the data
            when constructed with ``""``.
        unit: A registry unit, one of :data:`UNITS`.
        categories: x values, categories, labels or stages; dates as ISO text.
        series: Series name -> values aligned with ``categories`` (None is a gap).
            Single-series kinds hold one series named ``"value"``.
        options: Per-kind switches: ``horizontal`` and ``highlight`` (bar),
            ``percent`` (stacked_bar), ``total_label`` (waterfall).
        key: Only disambiguates the div id of two charts with identical content on one
            page (e.g. two empty drill-downs); use ``dataclasses.replace(chart, key=...)``.
    """

    kind: str
    title: str
    alt: str
    unit: str
    categories: list[str] = field(default_factory=list)
    series: dict[str, list[int | float | None]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnknownNameError("chart kind", self.kind, list(KINDS))
        if self.unit not in UNITS:
            raise UnknownNameError("chart unit", self.unit, list(UNITS))
        if not str(self.title).strip():
            raise ValueError("a chart needs a title")
        cats = [_category(c) for c in self.categories]
        series = {str(k): [_number(v) for v in vals] for k, vals in self.series.items()}
        where = f"chart {self.title!r}"
        if len(set(cats)) != len(cats):
            dupes = sorted({c for c in cats if cats.count(c) > 1})
            raise ValueError(f"{where}: categories repeat: {', '.join(dupes)}")
        for name, vals in series.items():
            if len(vals) != len(cats):
                raise ValueError(
                    f"{where}: series {name!r} has {len(vals)} values for {len(cats)} categories"
                )
        if self.kind in _SINGLE and list(series) != [VALUE]:
            raise ValueError(f"{where}: a {self.kind} chart has one series named {VALUE!r}")
        parts = self.kind in ("donut", "funnel") or self.options.get("percent")
        if parts and any(v is not None and v < 0 for vals in series.values() for v in vals):
            raise ValueError(f"{where}: a {self.kind} chart of parts cannot show negatives")
        if self.kind == "waterfall" and (not cats or series[VALUE][0] is None):
            raise ValueError(f"{where}: a waterfall starts from a value (its first category)")
        if self.kind == "waterfall" and self.options.get("total_label") in _display(cats):
            raise ValueError(f"{where}: the total's label is also a category's")
        unknown = [h for h in self.options.get("highlight", []) if h not in cats]
        if unknown:
            raise ValueError(f"{where}: highlight names no category: {', '.join(unknown)}")
        object.__setattr__(self, "title", str(self.title).strip())
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "series", series)
        object.__setattr__(self, "options", json.loads(json.dumps(self.options)))  # own copy
        object.__setattr__(self, "alt", " ".join(str(self.alt).split()) or _describe(self))

    def to_dict(self) -> dict[str, Any]:
        """The chart as plain JSON values (every field)."""
        return asdict(self)

    @property
    def digest(self) -> str:
        """SHA-256 of the chart's content: equal charts, equal digests, in any process."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def __hash__(self) -> int:  # lists and dicts are unhashable; the content digest is not
        return int(self.digest[:16], 16)

    @property
    def div_id(self) -> str:
        """The HTML id of the plotly div, derived from the content so reruns match."""
        return f"bs-chart-{self.digest[:16]}"

    def plotly(self) -> go.Figure:
        """The interactive figure, using only trace types of plotly.js's basic bundle."""
        return go.Figure(_plotly_dict(self))

    def html(self) -> str:
        """A div and script drawing the chart, without plotly.js; same chart, same bytes.

        The div sits in a ``<div class="bs-chart" role="figure">`` labelled with the alt
        text, since screen readers cannot read plotly's SVG.
        """
        body = self.plotly().to_html(
            full_html=False, include_plotlyjs=False, div_id=self.div_id, config=_HTML_CONFIG
        )
        return (
            f'<div class="bs-chart" role="figure" aria-label="{escape(self.alt)}">'
            f"{body.strip()}</div>"
        )

    def png(
        self, width_px: int = _EMAIL_WIDTH, scale: int = _EMAIL_SCALE, *, dpi: float | None = None
    ) -> bytes:
        """The chart as a PNG in the house style; same chart, same bytes.

        The chart is laid out ``width_px`` CSS pixels wide (fonts of at least 11 px at
        600) and rendered ``scale`` times denser. The PNG records its resolution, so
        Word shows it ``width_px / 100`` inches wide whatever the scale.

        Args:
            width_px: Layout width; 600 fits an email body.
            scale: Pixels per layout pixel: 2 for screens (1200 px), 4 for print.
            dpi: Instead of ``scale``, the print resolution (300 -> scale 3).

        Returns:
            PNG bytes, ``width_px * scale`` pixels wide, without text metadata.
        """
        return _png(self, width_px, (dpi / 100) if dpi else scale)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """HTML for report.html, a PNG (with its alt text) for email and Word, alt as text."""
        makers: dict[str, Callable[[], Any]] = {
            "text/html": self.html,
            "image/png": lambda: base64.b64encode(self.png()).decode("ascii"),
            "text/plain": lambda: self.alt,
            # JupyterLab has no plotly.js for the HTML's script; its plotly extension draws
            # this instead. nbconvert's templates ignore it, so reports are unchanged.
            PLOTLY_MIME: lambda: {**_plotly_dict(self), "config": dict(_HTML_CONFIG)},
        }
        wanted = [m for m in makers if (include is None or m in include)]
        wanted = [m for m in wanted if not exclude or m not in exclude]
        data = {m: makers[m]() for m in wanted}  # the PNG is drawn only when asked for
        meta: dict[str, Any] = {"broadsheet": {"kind": "chart", "title": self.title}}
        if "image/png" in data:
            meta["image/png"] = {"alt": self.alt, "width": _EMAIL_WIDTH}
        return data, meta


# ------------------------------------------------------------------ constructors


def line(
    title: str,
    x: Sequence[str | date],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str,
    alt: str | None = None,
) -> Chart:
    """A line per series over ``x`` (days, weeks, months); None values are gaps.

    Args:
        title: The chart title.
        x: The x values in order; dates become ISO text.
        series: Series name -> values aligned with ``x``.
        unit: A registry unit (:data:`UNITS`).
        alt: Alt text; written from the data when None.
    """
    return Chart("line", title, alt or "", unit, list(x), dict(series))


def bar(
    title: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str,
    alt: str | None = None,
    horizontal: bool = False,
    highlight: str | Iterable[str] | None = None,
) -> Chart:
    """One bar per category, value-labelled; a None value has no bar.

    Args:
        title: The chart title.
        categories: Category names, in display order (top to bottom when horizontal).
        values: One value per category.
        unit: A registry unit.
        alt: Alt text; written from the data when None.
        horizontal: Bars left to right, for long names or many categories.
        highlight: Categories drawn in the strong colour, the others muted.
    """
    marked = [] if highlight is None else [highlight] if isinstance(highlight, str) else highlight
    options = {"horizontal": bool(horizontal), "highlight": [_category(h) for h in marked]}
    return Chart("bar", title, alt or "", unit, list(categories), {VALUE: list(values)}, options)


def grouped_bar(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str,
    alt: str | None = None,
) -> Chart:
    """Bars side by side per category, one per series (e.g. this period vs previous).

    Series of periods (not lenders) are drawn dark for the first and lighter after.
    """
    return Chart("grouped_bar", title, alt or "", unit, list(categories), dict(series))


def stacked_bar(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str,
    alt: str | None = None,
    percent: bool = False,
) -> Chart:
    """Series stacked per category; ``percent`` scales every stack to 100 %.

    The data stay as given; with ``percent`` the shares are worked out when drawing.
    """
    options = {"percent": bool(percent)}
    return Chart("stacked_bar", title, alt or "", unit, list(categories), dict(series), options)


def donut(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str = "money",
    alt: str | None = None,
) -> Chart:
    """Parts of a whole, with the total in the middle; None and zero parts have no slice."""
    return Chart("donut", title, alt or "", unit, list(labels), {VALUE: list(values)})


def funnel(
    title: str,
    stages: Sequence[str],
    values: Sequence[float | None],
    *,
    alt: str | None = None,
    unit: str = "count",
) -> Chart:
    """Stages in order (submissions -> decisions -> approvals -> signed -> paid).

    Drawn as horizontal bars labelled with each stage's share of the first stage (plotly's
    funnel trace is not in the basic bundle the report embeds).
    """
    return Chart("funnel", title, alt or "", unit, list(stages), {VALUE: list(values)})


def waterfall(
    title: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str,
    alt: str | None = None,
    total_label: str = "Total",
) -> Chart:
    """A starting value, the changes that follow, and the resulting total.

    Args:
        title: The chart title.
        categories: The start's label, then one label per change.
        values: The starting value, then the changes (None: no bar).
        unit: A registry unit.
        alt: Alt text; written from the data when None.
        total_label: The label of the closing bar (e.g. this month's name).
    """
    options = {"total_label": str(total_label)}
    return Chart(
        "waterfall", title, alt or "", unit, list(categories), {VALUE: list(values)}, options
    )


# ---------------------------------------------------------------------- alt text

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


def _signed(v: int | float, unit: str) -> str:
    text = formatting.value(v, unit, compact=True)
    return text if text.startswith("-") or not any(c in "123456789" for c in text) else "+" + text


def _listed(items: list[str], sep: str = ", ") -> str:
    more = len(items) - _ALT_ITEMS
    shown = items if more <= 1 else [*items[:_ALT_ITEMS], f"and {more} more"]
    return sep.join(shown)


def _total(vals: Iterable[int | float | None]) -> float | None:
    present = [v for v in vals if v is not None]
    return sum(present) if present else None


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


def _describe(c: Chart) -> str:
    """One sentence stating the chart's numbers, from its own data only."""
    head = f"{c.title} ({_KIND_WORDS[c.kind]})"
    u, cats, labels = c.unit, c.categories, _display(c.categories, year=True)
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
        whole = _total(v for v in vals if v and v > 0) or 0
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
        end = _total(vals)
        total_label = c.options.get("total_label", "Total")
        steps = [
            f"{lab} {'no data' if v is None else _signed(v, u)}"
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
            whole = _total(col)
            return ", ".join(
                f"{n} {formatting.percent(v / whole) if whole and v is not None else 'no data'}"
                for n, v in zip(names, col, strict=True)
            )

        if detailed:
            return _listed(
                [f"{lab}: {shares(col)}" for lab, col in zip(labels, columns, strict=True)], "; "
            )
        return f"overall shares {shares([_total(vs) for vs in c.series.values()])}"
    if detailed:
        groups = [
            f"{lab} {_said(_total(col), u)} ("
            + ", ".join(f"{n} {_said(v, u)}" for n, v in zip(names, col, strict=True))
            + ")"
            for lab, col in zip(labels, columns, strict=True)
        ]
        return _listed(groups, "; ")
    totals = _listed(
        [f"{lab} {_said(_total(col), u)}" for lab, col in zip(labels, columns, strict=True)]
    )
    overall = _listed([f"{n} {_said(_total(vs), u)}" for n, vs in c.series.items()])
    return f"totals {totals}; overall {overall}"


# ------------------------------------------------------------------------ colours


def _series_colours(c: Chart) -> dict[str, str]:
    names = list(c.series)
    is_lender = set(lenders.CANONICAL) | _GREY_NAMES
    if c.kind == "grouped_bar" and len(names) <= 3 and not is_lender & set(names):
        return dict(zip(names, COMPARISON_COLOURS, strict=False))
    return palette(names)


def _bar_colours(c: Chart) -> list[str]:
    """Per-category colours of the single-series kinds."""
    if c.kind == "donut":
        return list(palette(c.categories).values())
    marked = set(c.options.get("highlight", []))
    return [PRIMARY if not marked or cat in marked else MUTED for cat in c.categories]


def _text_on(colour: str) -> str:
    """White or ink, whichever contrasts more with ``colour`` (WCAG luminance)."""

    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    lum = luminance(colour)
    return "#ffffff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / (luminance(INK) + 0.05) else INK


def _waterfall_steps(c: Chart) -> list[tuple[str, float, float, str]]:
    """(label, base, height, role) bars: the start, each known change, the total."""
    labels, vals = _display(c.categories), c.series[VALUE]
    level = float(vals[0])  # type: ignore[arg-type]
    steps = [(labels[0], 0.0, level, "start")]
    for lab, v in zip(labels[1:], vals[1:], strict=True):
        if v is not None:
            steps.append((lab, level, float(v), "change"))
            level += v
    steps.append((c.options.get("total_label", "Total"), 0.0, level, "total"))
    return steps


def _waterfall_colours(steps: list[tuple[str, float, float, str]]) -> list[str]:
    return [PRIMARY if role != "change" else UP if h >= 0 else DOWN for _, _, h, role in steps]


def _has_data(c: Chart) -> bool:
    return any(v is not None for vals in c.series.values() for v in vals)


# ------------------------------------------------------------------------- plotly


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


def _compact(vals: Sequence[int | float | None], unit: str) -> list[str]:
    return ["" if v is None else formatting.value(v, unit, compact=True) for v in vals]


def _plotly_dict(c: Chart) -> dict[str, Any]:
    legend = c.kind in ("line", "grouped_bar", "stacked_bar") and len(c.series) > 1
    layout: dict[str, Any] = {
        "template": "none",  # plotly's default template would add ~8 KB to every chart
        "height": 380,
        "font": {"family": WEB_FONT, "size": 13, "color": INK},
        "title": {
            "text": f"<b>{escape(c.title, quote=False)}</b>",  # plotly reads titles as HTML
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
    if not _has_data(c):
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
        + ("<br>%{fullData.name}" if "name" in extra else "")
        + ": %{hovertext}<extra></extra>",
        **extra,
    }


def _category_axes(c: Chart, layout: dict[str, Any], *, percent: bool = False) -> None:
    # "category" stops plotly reading labels such as "2025" or "Jan 2026" as numbers/dates.
    layout["xaxis"]["type"] = "category"
    layout["yaxis"].update(_plotly_axis(c.unit, percent=percent))


def _plotly_line(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, n = _series_colours(c), len(c.categories)
    days = [_iso_day(x) for x in c.categories]
    extra: dict[str, Any] = {}
    if all(days):
        fmt = "%b %Y" if all(d.day == 1 for d in days) else "%-d %b %Y"  # type: ignore[union-attr]
        # Ticks on the data's own days: plotly's automatic weekly ticks fall on Sundays.
        ticks = c.categories[::-1][:: math.ceil(n / 8)][::-1]
        layout["xaxis"].update(type="date", hoverformat=fmt, tickformat=fmt, tickvals=ticks)
        extra["xhoverformat"] = fmt
    else:
        layout["xaxis"]["type"] = "category"
    layout["yaxis"].update(
        _plotly_axis(c.unit), rangemode="tozero" if _line_from_zero(c) else "normal"
    )
    return [
        {
            "type": "scatter",
            "mode": "lines+markers" if n <= 24 else "lines",
            "name": name,
            "x": c.categories,
            "y": vals,
            "line": {"color": colours[name], "width": 2.5},
            "marker": {"size": 6},
            "hovertext": _full(vals, c.unit),
            "hovertemplate": "%{x}<br>%{fullData.name}: %{hovertext}<extra></extra>",
            **extra,
        }
        for name, vals in c.series.items()
    ]


def _plotly_hbar(
    c: Chart, layout: dict[str, Any], texts: list[str], colours: list[str]
) -> list[dict[str, Any]]:
    vals = c.series[VALUE]
    layout["height"] = 90 + 30 * len(vals)
    layout["yaxis"] = {"automargin": True, "type": "category", "autorange": "reversed", "ticks": ""}
    layout["xaxis"] = {"visible": False}
    return [_bars(c, vals, _display(c.categories), colours, texts, orientation="h")]


def _plotly_bar(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    vals, colours = c.series[VALUE], _bar_colours(c)
    if c.options.get("horizontal"):
        return _plotly_hbar(c, layout, _compact(vals, c.unit), colours)
    _category_axes(c, layout)
    return [_bars(c, _display(c.categories), vals, colours, _compact(vals, c.unit))]


def _plotly_grouped(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, labels = _series_colours(c), _display(c.categories)
    layout["barmode"] = "group"
    _category_axes(c, layout)
    return [
        _bars(c, labels, vals, colours[name], _compact(vals, c.unit), name=name)
        for name, vals in c.series.items()
    ]


def _plotly_stacked(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    colours, labels = _series_colours(c), _display(c.categories)
    percent = bool(c.options.get("percent"))
    columns = list(zip(*c.series.values(), strict=True))
    totals = [_total(col) for col in columns]
    # barnorm keeps the raw values in the data; plotly works out the shares.
    layout.update(barmode="relative", barnorm="fraction" if percent else "")
    _category_axes(c, layout, percent=percent)
    traces = []
    for name, vals in c.series.items():
        trace = _bars(c, labels, vals, colours[name], [], name=name, textposition="none")
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
                textfont={"color": _text_on(colours[name])},
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
                "x": labels,
                "y": tops,
                "text": _compact(totals, c.unit),
                "textposition": "top center",
                "showlegend": False,
                "hoverinfo": "skip",
                "cliponaxis": False,
            }
        )
    return traces


def _plotly_donut(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    vals, labels, colours = c.series[VALUE], _display(c.categories), _bar_colours(c)
    keep = [i for i, v in enumerate(vals) if v is not None]
    total = formatting.value(_total(vals) or 0, c.unit, compact=True)
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
    return [
        {
            "type": "pie",
            "labels": [labels[i] for i in keep],
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
            "hovertemplate": "%{label}: %{hovertext} (%{percent})<extra></extra>",
        }
    ]


def _funnel_texts(c: Chart) -> list[str]:
    """Each stage's value and, after the first, its share of the first stage."""
    vals = c.series[VALUE]
    first = vals[0]
    return [
        t + (f" ({formatting.percent(v / first)})" if i and first and v is not None else "")
        for i, (t, v) in enumerate(zip(_compact(vals, c.unit), vals, strict=True))
    ]


def _plotly_funnel(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    return _plotly_hbar(c, layout, _funnel_texts(c), [PRIMARY] * len(c.categories))


def _waterfall_texts(
    c: Chart, steps: list[tuple[str, float, float, str]], *, compact: bool
) -> list[str]:
    return [
        (_signed(h, c.unit) if compact else ("+" if h > 0 else "") + formatting.value(h, c.unit))
        if role == "change"
        else formatting.value(h, c.unit, compact=compact)
        for _, _, h, role in steps
    ]


def _plotly_waterfall(c: Chart, layout: dict[str, Any]) -> list[dict[str, Any]]:
    steps = _waterfall_steps(c)
    _category_axes(c, layout)
    x, y, base = [s[0] for s in steps], [s[2] for s in steps], [s[1] for s in steps]
    trace = _bars(
        c, x, y, _waterfall_colours(steps), _waterfall_texts(c, steps, compact=True), base=base
    )
    trace["hovertext"] = _waterfall_texts(c, steps, compact=False)
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


def _line_from_zero(c: Chart) -> bool:
    """Counts and money lines start from zero, so a small wobble does not look like a fall."""
    present = [v for vals in c.series.values() for v in vals if v is not None]
    return c.unit in ("count", "money") and bool(present) and min(present) >= 0


# --------------------------------------------------------------------- matplotlib

# Layout happens in CSS pixels at 100 per inch, so a 600 px chart is 6 in wide in Word
# and a point is 100/72 px: the smallest text (8.5 pt) is 11.8 px at 600 px wide.
_LAYOUT_DPI = 100
_PT = _LAYOUT_DPI / 72
_TITLE_PT, _TEXT_PT, _LABEL_PT = 12.0, 9.0, 8.5
_PAD = 12  # px around the figure
_HEIGHT = 340  # px, cartesian charts
_MIN_PLOT = 140  # px, the least height the plot area gets
_PNG_COMPRESSION = 6  # zlib's default: level 3 saves ~3 ms a chart but adds ~15 % bytes
_STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs everywhere
    "font.size": _TEXT_PT,
    "text.color": INK,
    "text.parse_math": False,  # "$" in a name is a dollar sign, not mathtext
    "axes.edgecolor": BASELINE,
    "axes.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.spines.left": False,
    "axes.facecolor": "#ffffff",
    "figure.facecolor": "#ffffff",
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.major.size": 0,
    "ytick.major.size": 0,
    "xtick.major.pad": 5,
    "ytick.major.pad": 6,
    "xtick.color": SUBTLE,
    "ytick.color": SUBTLE,
    "xtick.labelsize": _TEXT_PT,
    "ytick.labelsize": _TEXT_PT,
    "patch.linewidth": 0,
}


@cache
def _font(size: float, bold: bool = False) -> FontProperties:
    return FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")


def _line_h(size: float) -> float:
    return size * _PT * 1.25


class _Canvas:
    """A figure laid out in CSS px from its top-left corner; text is measured first.

    matplotlib's constrained layout would cost ~3 draws per chart, so the layout is
    worked out here: measure the labels, place the axes, draw once.
    """

    def __init__(self, width: float, scale: float) -> None:
        self.width, self.scale, self.height = float(width), scale, 1.0
        self.fig = Figure(figsize=(width / _LAYOUT_DPI, 1), dpi=_LAYOUT_DPI * scale)
        self.agg = FigureCanvasAgg(self.fig)
        self._renderer = self.agg.get_renderer()
        self._widths: dict[tuple[str, float, bool], float] = {}
        self._title: list[str] = []
        self._legend: list[list[tuple[float, str, str]]] = []
        self._legend_top, self._line_legend = 0.0, False

    def measure(self, text: str, size: float = _TEXT_PT, bold: bool = False) -> float:
        """The width of ``text`` in CSS px."""
        key = (text, size, bold)
        if key not in self._widths:
            w, _, _ = self._renderer.get_text_width_height_descent(
                text, _font(size, bold), ismath=False
            )
            self._widths[key] = w / self.scale
        return self._widths[key]

    def widest(self, texts: Iterable[str], size: float = _TEXT_PT) -> float:
        """The widest of ``texts``; only the three longest are measured (speed)."""
        longest = sorted({t for t in texts if t}, key=len)[-3:]
        return max((self.measure(t, size) for t in longest), default=0.0)

    def wrap(self, text: str, size: float, width: float, bold: bool = False) -> list[str]:
        """``text`` in lines no wider than ``width`` (a long word stays whole)."""
        full = self.measure(text, size, bold)
        if full <= width:
            return [text]
        chars = max(6, int(len(text) * width / full))
        return textwrap.wrap(text, chars, break_long_words=False) or [text]

    def header(
        self, title: str, legend: Sequence[tuple[str, str]] = (), *, line: bool = False
    ) -> float:
        """Plan the title and the legend rows under it; returns the px they take."""
        avail = self.width - 2 * _PAD
        self._title = self.wrap(title, _TITLE_PT, avail, bold=True)
        top = _PAD + len(self._title) * _line_h(_TITLE_PT)
        rows: list[list[tuple[float, str, str]]] = []
        x = avail + 1
        for name, colour in legend:  # row-major, so the legend reads left to right
            w = 16 + self.measure(name)
            if x + w > avail:
                rows.append([])
                x = 0
            rows[-1].append((x, name, colour))
            x += w + 14
        self._legend, self._legend_top, self._line_legend = rows, top + 4, line
        return top + 4 + 18 * len(rows) + (14 if rows else 8)

    def size(self, height: float) -> None:
        """Fix the figure's height and draw the planned title and legend."""
        self.height = float(height)
        self.fig.set_size_inches(self.width / _LAYOUT_DPI, height / _LAYOUT_DPI)
        self.fig.text(
            self.fx(_PAD),
            self.fy(_PAD),
            "\n".join(self._title),
            ha="left",
            va="top",
            fontproperties=_font(_TITLE_PT, True),
            linespacing=1.15,
        )
        for r, row in enumerate(self._legend):
            y = self._legend_top + 18 * r + 9
            for x, name, colour in row:
                x0 = _PAD + x
                if self._line_legend:
                    mark = Line2D(
                        [self.fx(x0), self.fx(x0 + 12)], [self.fy(y)] * 2, lw=2.5, color=colour
                    )
                else:
                    mark = Rectangle(
                        (self.fx(x0 + 1), self.fy(y + 5)),
                        10 / self.width,
                        10 / self.height,
                        color=colour,
                    )
                mark.set_transform(self.fig.transFigure)
                self.fig.add_artist(mark)
                self.fig.text(self.fx(x0 + 16), self.fy(y), name, ha="left", va="center_baseline")

    def fx(self, px: float) -> float:
        return px / self.width

    def fy(self, px: float) -> float:
        return 1 - px / self.height

    def axes(self, left: float, top: float, right: float, bottom: float) -> Axes:
        """Axes over the box given in px from the top-left corner."""
        rect = (
            self.fx(left),
            self.fy(bottom),
            (right - left) / self.width,
            (bottom - top) / self.height,
        )
        return self.fig.add_axes(rect)

    def labels(
        self,
        ax: Axes,
        xs: Iterable[float],
        ys: Sequence[float | None],
        texts: Sequence[str],
        *,
        horizontal: bool = False,
        ahead: Sequence[bool] | None = None,
    ) -> None:
        """Value labels just past each bar's end; a missing value shows the null dash.

        ``ahead`` says which labels go up (or right); by default those of values >= 0.
        """
        shift = "x" if horizontal else "y"
        up = offset_copy(ax.transData, fig=self.fig, units="points", **{shift: 3})
        down = offset_copy(ax.transData, fig=self.fig, units="points", **{shift: -3})
        if ahead is None:
            ahead = [y is None or y >= 0 for y in ys]
        for x, y, text, forward in zip(xs, ys, texts, ahead, strict=True):
            if horizontal:
                xy, align = (y or 0, x), {"ha": "left" if forward else "right", "va": "center"}
            else:
                xy, align = (x, y or 0), {"ha": "center", "va": "bottom" if forward else "top"}
            ax.text(
                *xy,
                formatting.DASH if y is None else text,
                transform=up if forward else down,
                fontproperties=_font(_LABEL_PT),
                color=SUBTLE if y is None else INK,
                clip_on=False,
                **align,
            )


def _value_ticks(lo: float, hi: float, unit: str, percent: bool = False) -> np.ndarray:
    """Round-number ticks from at or below ``lo`` to at or above ``hi``."""
    if percent:
        return np.linspace(0, 1, 5)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        step = abs(hi) * 0.1 or (0.1 if unit in ("rate", "share") else 1.0)
        lo, hi = (lo - step if lo < 0 or lo - step >= 0 else 0.0), hi + step
    locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=unit == "count")
    ticks = locator.tick_values(lo, hi)
    first = int(np.flatnonzero(ticks <= lo + 1e-12 * abs(lo))[-1])
    last = int(np.flatnonzero(ticks >= hi - 1e-12 * abs(hi))[0])
    return ticks[first : last + 1]


def _tick_texts(ticks: np.ndarray, unit: str, percent: bool = False) -> list[str]:
    if percent or unit in ("rate", "share"):
        whole = all(abs(t * 100 - round(t * 100)) < 1e-6 for t in ticks)
        return [formatting.percent(t, 0 if whole else 1) for t in ticks]
    return [formatting.value(t, unit, compact=True) for t in ticks]


@dataclass
class _Plot:
    ax: Axes
    slot: float  # px per category along the x axis
    height: float  # px of the plot area


def _vertical(
    cv: _Canvas,
    c: Chart,
    labels: list[str],
    lo: float,
    hi: float,
    *,
    legend: Sequence[tuple[str, str]] = (),
    line: bool = False,
    room: bool = False,
    percent: bool = False,
) -> _Plot:
    """Title, legend and axes of a chart with categories along x and values up y.

    Args:
        room: Leave space above (and below) the data for value labels.
        line: A line chart: legend of lines, x labels thinned rather than wrapped.
    """
    top = cv.header(c.title, legend, line=line)
    height = _HEIGHT
    ticks = _value_ticks(lo, hi, c.unit, percent)
    if room:  # a value label needs ~16 px between its bar and the frame
        guess = max(_MIN_PLOT, height - top - 30 - _PAD)
        step = ticks[-1] - ticks[-2] if len(ticks) > 1 else 1.0
        if hi > 0 and (ticks[-1] - hi) / (ticks[-1] - ticks[0]) * guess < 16:
            ticks = np.append(ticks, ticks[-1] + step)
        if lo < 0 and (lo - ticks[0]) / (ticks[-1] - ticks[0]) * guess < 16:
            ticks = np.insert(ticks, 0, ticks[0] - step)
    tick_texts = _tick_texts(ticks, c.unit, percent)
    left = _PAD + cv.widest(tick_texts) + 8
    right = cv.width - _PAD
    if line and labels:  # the latest x label is centred on the last point: keep it in
        right -= max(0.0, cv.measure(labels[-1]) / 2 - 8)
    n = len(labels)
    slot = (right - left) / max(n, 1)
    positions, texts, rotation, x_h = _x_labels(cv, labels, slot, thin=line)
    if rotation:  # labels turned 45° reach left of their bar: keep the first one in
        left = max(left, _PAD + cv.widest(labels) * 0.71 + 4 - slot / 2)
        slot = (right - left) / max(n, 1)
    bottom = height - _PAD - x_h - 4
    if bottom - top < _MIN_PLOT:
        height += _MIN_PLOT - (bottom - top)
        bottom = top + _MIN_PLOT
    cv.size(height)
    ax = cv.axes(left, top, right, bottom)
    ax.set_ylim(ticks[0], ticks[-1])
    ax.set_yticks(ticks, tick_texts)
    ax.yaxis.grid(True)
    ax.set_xlim(*((-0.3, n - 0.7) if line and n > 1 else (-0.5, n - 0.5)))
    ax.set_xticks(
        positions,
        texts,
        rotation=rotation,
        ha="right" if rotation else "center",
        rotation_mode="anchor",
    )
    if ticks[0] < 0:
        ax.axhline(0, color=BASELINE, lw=0.8)
    return _Plot(ax, slot, bottom - top)


def _x_labels(
    cv: _Canvas, labels: list[str], slot: float, *, thin: bool
) -> tuple[list[int], list[str], int, float]:
    """Category labels that fit their slots: as they are, thinned, wrapped or turned 45°.

    Returns:
        Tick positions, their texts, the rotation and the px the labels take.
    """
    n, line_h = len(labels), _line_h(_TEXT_PT)
    widest = cv.widest(labels)
    if widest <= slot - 6:
        return list(range(n)), labels, 0, line_h
    if thin:  # every k-th x value, counting back from the latest so it is always labelled
        k = math.ceil((widest + 10) / slot)
        keep = list(range(n - 1, -1, -k))[::-1]
        return keep, [labels[i] for i in keep], 0, line_h
    longest = max(labels, key=len)
    chars = int((slot - 6) * len(longest) / cv.measure(longest))
    if chars >= 4:
        wrapped = [textwrap.wrap(t, chars, break_long_words=False) or [t] for t in labels]
        if all(len(w) <= 2 and all(len(s) <= chars for s in w) for w in wrapped):
            return list(range(n)), ["\n".join(w) for w in wrapped], 0, 2 * line_h
    return list(range(n)), labels, 45, (widest + line_h) * 0.71


def _fits(cv: _Canvas, texts: Iterable[str], room: float) -> bool:
    return cv.widest(texts, _LABEL_PT) <= room


def _array(vals: Sequence[int | float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in vals], dtype=float)


def _span(c: Chart) -> tuple[float, float]:
    present = [v for vals in c.series.values() for v in vals if v is not None]
    return min(0.0, *present), max(0.0, *present)


def _mpl_line(cv: _Canvas, c: Chart) -> None:
    colours, n = _series_colours(c), len(c.categories)
    present = [v for vals in c.series.values() for v in vals if v is not None]
    lo = 0.0 if _line_from_zero(c) else min(present)
    legend = [(name, colours[name]) for name in c.series] if len(c.series) > 1 else []
    plot = _vertical(cv, c, _display(c.categories), lo, max(present), legend=legend, line=True)
    x = np.arange(n)
    for name, vals in c.series.items():
        y = _array(vals)
        ok = ~np.isnan(y)
        # A point between two gaps draws no line: a marker makes it visible.
        alone = ok & ~np.r_[False, ok[:-1]] & ~np.r_[ok[1:], False]
        marks = [int(i) for i in np.flatnonzero(ok if n <= 24 else alone)]
        plot.ax.plot(
            x,
            y,
            color=colours[name],
            lw=2,
            marker="o" if marks else None,
            ms=3.5,
            markevery=marks or None,
            solid_joinstyle="round",
            clip_on=False,
        )


def _mpl_bar(cv: _Canvas, c: Chart) -> None:
    vals, colours = c.series[VALUE], _bar_colours(c)
    texts = _compact(vals, c.unit)
    if c.options.get("horizontal"):
        _mpl_hbar(cv, c, texts, colours)
        return
    plot = _vertical(cv, c, _display(c.categories), *_span(c), room=True)
    idx = [i for i, v in enumerate(vals) if v is not None]
    plot.ax.bar(idx, [vals[i] for i in idx], width=0.7, color=[colours[i] for i in idx])
    if _fits(cv, texts, plot.slot - 2):
        cv.labels(plot.ax, range(len(vals)), vals, texts)


def _mpl_grouped(cv: _Canvas, c: Chart) -> None:
    colours, k, n = _series_colours(c), len(c.series), len(c.categories)
    legend = [(name, colours[name]) for name in c.series] if k > 1 else []
    plot = _vertical(cv, c, _display(c.categories), *_span(c), legend=legend, room=True)
    width = 0.8 / k
    texts = {name: _compact(vals, c.unit) for name, vals in c.series.items()}
    show = _fits(cv, (t for ts in texts.values() for t in ts), plot.slot * width - 2)
    for j, (name, vals) in enumerate(c.series.items()):
        xs = np.arange(n) - 0.4 + width * (j + 0.5)
        y = _array(vals)
        ok = ~np.isnan(y)
        plot.ax.bar(xs[ok], y[ok], width=width * 0.9, color=colours[name])
        if show:
            cv.labels(plot.ax, list(xs), vals, texts[name])


def _mpl_stacked(cv: _Canvas, c: Chart) -> None:
    colours, n = _series_colours(c), len(c.categories)
    percent = bool(c.options.get("percent"))
    raw = np.array([_array(vals) for vals in c.series.values()]).reshape(len(c.series), n)
    data = np.nan_to_num(raw)
    if percent:
        totals = data.sum(axis=0)
        data = np.divide(data, totals, out=np.zeros_like(data), where=totals > 0)
    pos, neg = np.where(data > 0, data, 0).sum(axis=0), np.where(data < 0, data, 0).sum(axis=0)
    legend = [(name, colours[name]) for name in c.series] if len(c.series) > 1 else []
    lo, hi = (0.0, 1.0) if percent else (min(0.0, neg.min()), max(0.0, pos.max()))
    plot = _vertical(
        cv, c, _display(c.categories), lo, hi, legend=legend, room=not percent, percent=percent
    )
    up, down, x = np.zeros(n), np.zeros(n), np.arange(n)
    for j, name in enumerate(c.series):
        row, ok = data[j], ~np.isnan(raw[j]) & (data[j] != 0)
        base = np.where(row >= 0, up, down)
        plot.ax.bar(
            x[ok],
            row[ok],
            bottom=base[ok],
            width=0.7,
            color=colours[name],
            edgecolor="#ffffff",
            linewidth=0.5,
        )
        if percent:  # a share inside each segment tall and wide enough to hold it
            for i in np.flatnonzero(ok):
                text = formatting.percent(row[i], 0)
                if (
                    row[i] * plot.height >= 14
                    and cv.measure(text, _LABEL_PT) <= plot.slot * 0.7 - 2
                ):
                    plot.ax.text(
                        i,
                        base[i] + row[i] / 2,
                        text,
                        ha="center",
                        va="center",
                        fontproperties=_font(_LABEL_PT),
                        color=_text_on(colours[name]),
                    )
        up, down = up + np.where(row > 0, row, 0), down + np.where(row < 0, row, 0)
    if not percent:
        totals_ = [_total(col) for col in zip(*c.series.values(), strict=True)]
        texts = _compact(totals_, c.unit)
        if _fits(cv, texts, plot.slot - 2):
            keep = [i for i, t in enumerate(totals_) if t is not None]
            cv.labels(plot.ax, keep, [float(pos[i]) for i in keep], [texts[i] for i in keep])


def _mpl_hbar(cv: _Canvas, c: Chart, texts: list[str], colours: list[str]) -> None:
    """Horizontal bars, top to bottom in the given order, value-labelled (bar, funnel)."""
    vals, labels = c.series[VALUE], _display(c.categories)
    n = len(vals)
    top = cv.header(c.title)
    wrapped = [cv.wrap(label, _TEXT_PT, 0.42 * cv.width) for label in labels]
    label_w = max(cv.measure(s) for w in wrapped for s in w)
    slot = 26 if all(len(w) == 1 for w in wrapped) else 38
    left, right = _PAD + label_w + 8, cv.width - _PAD
    lo, hi = _span(c)
    text_w = cv.widest(texts, _LABEL_PT) + 8
    bars_w = max((right - left) - text_w * ((hi > 0) + (lo < 0)), 0.3 * (right - left))
    per_px = ((hi - lo) or 1.0) / bars_w  # data units per px
    height = top + n * slot + _PAD
    cv.size(height)
    ax = cv.axes(left, top, right, height - _PAD)
    idx = [i for i, v in enumerate(vals) if v is not None]
    ax.barh(idx, [vals[i] for i in idx], height=0.68, color=[colours[i] for i in idx])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n), ["\n".join(w) for w in wrapped])
    ax.set_xlim(lo - (text_w * per_px if lo < 0 else 0), hi + (text_w * per_px if hi > 0 else 0))
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.axvline(0, color=BASELINE, lw=0.8)
    cv.labels(ax, range(n), vals, texts, horizontal=True)


def _mpl_funnel(cv: _Canvas, c: Chart) -> None:
    _mpl_hbar(cv, c, _funnel_texts(c), [PRIMARY] * len(c.categories))


def _mpl_donut(cv: _Canvas, c: Chart) -> None:
    vals, labels, colours = c.series[VALUE], _display(c.categories), _bar_colours(c)
    whole = _total(v for v in vals if v is not None and v > 0) or 0
    top = cv.header(c.title)
    ring = 200  # px across
    x0 = _PAD + ring + 28  # the legend, right of the ring
    values = [
        "no data"
        if v is None
        else formatting.value(v, c.unit, compact=True)
        + (f"  {formatting.percent(v / whole)}" if whole else "")
        for v in vals
    ]
    value_w = cv.widest(values) + 8
    names = [cv.wrap(label, _TEXT_PT, cv.width - _PAD - x0 - 16 - value_w) for label in labels]
    rows = [len(w) * _line_h(_TEXT_PT) + 6 for w in names]
    height = top + max(ring, sum(rows)) + _PAD
    cv.size(height)
    ax = cv.axes(_PAD, top, _PAD + ring, top + ring)
    keep = [i for i, v in enumerate(vals) if v is not None and v > 0]
    if keep:
        ax.pie(
            [vals[i] for i in keep],
            colors=[colours[i] for i in keep],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.36, "edgecolor": "#ffffff", "linewidth": 1},
        )
    else:  # nothing to divide: an empty grey ring
        ax.pie([1], colors=[GRID], wedgeprops={"width": 0.36})
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.text(
        0,
        0.06,
        formatting.value(whole, c.unit, compact=True),
        ha="center",
        va="bottom",
        fontproperties=_font(13, True),
    )
    ax.text(0, -0.02, "Total", ha="center", va="top", color=SUBTLE)
    y = top + max(0.0, (ring - sum(rows)) / 2)
    for name, text, colour, row in zip(names, values, colours, rows, strict=True):
        mid = y + _line_h(_TEXT_PT) / 2 + 3
        mark = Rectangle(
            (cv.fx(x0), cv.fy(mid + 5)),
            10 / cv.width,
            10 / cv.height,
            color=colour,
            transform=cv.fig.transFigure,
        )
        cv.fig.add_artist(mark)
        cv.fig.text(
            cv.fx(x0 + 16), cv.fy(y + 3), "\n".join(name), ha="left", va="top", linespacing=1.15
        )
        cv.fig.text(
            cv.fx(cv.width - _PAD), cv.fy(mid), text, ha="right", va="center_baseline", color=SUBTLE
        )
        y += row


def _mpl_waterfall(cv: _Canvas, c: Chart) -> None:
    steps = _waterfall_steps(c)
    ends = [v for _, base, h, _ in steps for v in (base, base + h)]
    plot = _vertical(cv, c, [s[0] for s in steps], min(0.0, *ends), max(0.0, *ends), room=True)
    ax, m = plot.ax, len(steps)
    colours = _waterfall_colours(steps)
    ax.bar(range(m), [s[2] for s in steps], bottom=[s[1] for s in steps], width=0.64, color=colours)
    for i in range(m - 1):  # the running level carried from one bar to the next
        level = steps[i][1] + steps[i][2]
        ax.plot([i + 0.32, i + 0.68], [level, level], color=BASELINE, lw=0.8)
    texts = _waterfall_texts(c, steps, compact=True)
    if _fits(cv, texts, plot.slot - 2):  # past the bar's far end: above a rise, below a fall
        ends_ = [base + h for _, base, h, _ in steps]
        cv.labels(ax, range(m), ends_, texts, ahead=[h >= 0 for _, _, h, _ in steps])


def _mpl_empty(cv: _Canvas, c: Chart) -> None:
    top = cv.header(c.title)
    cv.size(top + 90)
    cv.fig.text(
        0.5,
        cv.fy(top + 40),
        "No data",
        ha="center",
        va="center",
        color=SUBTLE,
        fontproperties=_font(11),
    )


_MPL: dict[str, Callable[[_Canvas, Chart], None]] = {
    "line": _mpl_line,
    "bar": _mpl_bar,
    "grouped_bar": _mpl_grouped,
    "stacked_bar": _mpl_stacked,
    "donut": _mpl_donut,
    "funnel": _mpl_funnel,
    "waterfall": _mpl_waterfall,
}


def _png(c: Chart, width_px: int, scale: float) -> bytes:
    if width_px < 240 or not scale > 0:
        raise ValueError(f"a PNG needs width_px >= 240 and scale > 0, got {width_px} and {scale}")
    # after_reset: matplotlib's defaults under the house style, whatever the notebook set.
    with matplotlib.style.context(_STYLE, after_reset=True):
        cv = _Canvas(width_px, scale)
        (_MPL[c.kind] if _has_data(c) else _mpl_empty)(cv, c)
        cv.agg.draw()
        pixels = np.asarray(cv.agg.buffer_rgba())[:, :, :3]  # opaque: RGB is smaller
    dpi = round(_LAYOUT_DPI * scale)
    out = io.BytesIO()
    # PIL writes no text chunks (no "Software", no timestamp): same chart, same bytes.
    Image.fromarray(pixels).save(out, format="PNG", compress_level=_PNG_COMPRESSION, dpi=(dpi, dpi))
    return out.getvalue()
