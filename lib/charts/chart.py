"""The :class:`Chart` data object and its constructors (``line``, ``bar``, …); the package
docstring (``lib.charts``) tells how it is drawn.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from html import escape
from typing import Any

import plotly.graph_objects as go

from lib.charts.alt import describe
from lib.charts.data import KINDS, SINGLE, UNITS, VALUE, as_category, as_number, display_labels
from lib.charts.interactive import plotly_figure
from lib.charts.png import draw_png
from lib.charts.text import plain
from lib.contract import PLOTLY_MIME
from lib.errors import UnknownNameError

_HTML_CONFIG = {"displaylogo": False, "responsive": True}
_EMAIL_WIDTH, _EMAIL_SCALE = 600, 2


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
        cats = [as_category(c) for c in self.categories]
        series = {str(k): [as_number(v) for v in vals] for k, vals in self.series.items()}
        where = f"chart {self.title!r}"
        if len(set(cats)) != len(cats):
            dupes = sorted({c for c in cats if cats.count(c) > 1})
            raise ValueError(f"{where}: categories repeat: {', '.join(dupes)}")
        for name, vals in series.items():
            if len(vals) != len(cats):
                raise ValueError(
                    f"{where}: series {name!r} has {len(vals)} values for {len(cats)} categories"
                )
        if self.kind in SINGLE and list(series) != [VALUE]:
            raise ValueError(f"{where}: a {self.kind} chart has one series named {VALUE!r}")
        parts = self.kind in ("donut", "funnel") or self.options.get("percent")
        if parts and any(v is not None and v < 0 for vals in series.values() for v in vals):
            raise ValueError(f"{where}: a {self.kind} chart of parts cannot show negatives")
        if self.kind == "waterfall" and (not cats or series[VALUE][0] is None):
            raise ValueError(f"{where}: a waterfall starts from a value (its first category)")
        if self.kind == "waterfall" and self.options.get("total_label") in display_labels(cats):
            raise ValueError(f"{where}: the total's label is also a category's")
        unknown = [h for h in self.options.get("highlight", []) if h not in cats]
        if unknown:
            raise ValueError(f"{where}: highlight names no category: {', '.join(unknown)}")
        object.__setattr__(self, "title", str(self.title).strip())
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "series", series)
        object.__setattr__(self, "options", json.loads(json.dumps(self.options)))  # own copy
        # One line without controls: alt text goes into attributes, Word and plain text.
        object.__setattr__(self, "alt", plain(str(self.alt)) or plain(describe(self)))

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
        return go.Figure(plotly_figure(self))

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
        return draw_png(self, width_px, (dpi / 100) if dpi else scale)

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
            PLOTLY_MIME: lambda: {**plotly_figure(self), "config": dict(_HTML_CONFIG)},
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
    options = {"horizontal": bool(horizontal), "highlight": [as_category(h) for h in marked]}
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
