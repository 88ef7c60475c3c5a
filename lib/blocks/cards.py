"""Card-like blocks: the KPI bar, commentary, switches, panels, tabs, notes and printable
charts; tables are in :mod:`lib.blocks.tables`.
"""

from __future__ import annotations

import html as html_mod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup

from lib import formatting as fmt
from lib import metrics as metrics_mod
from lib.blocks.base import (
    Block,
    html_of,
    metric_value,
    prev_key,
    render_macro,
    window_label,
)
from lib.contract import CHART_MIME, TEXT_MIME

# --- KPI bar -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    label: str
    value: str
    previous: str
    prev_label: str
    delta: str
    light: fmt.Light
    note: str | None = None


def _day_label(as_of: str | None) -> str:
    if not as_of:
        return "today"
    d = date.fromisoformat(as_of)
    return f"{d.day} {d:%b %Y}"


def kpi_bar(
    figures_metrics: Mapping[str, Any],
    items: Sequence[tuple[str, str]],
    *,
    limits: fmt.Thresholds = fmt.DEFAULT_THRESHOLDS,
    compare: str | None = None,
    as_of: str | None = None,
) -> Block:
    """KPI cards: each metric's value in its window against the previous window.

    Args:
        figures_metrics: ``figures["metrics"]``.
        items: ``(metric_id, window)`` pairs; ``as_at`` metrics have no comparison.
        limits: traffic-light thresholds.
        compare: the comparison window key (default ``<window>_prev``).
        as_of: A, shown on as-at cards (``YYYY-MM-DD``).
    """
    cards = []
    for metric_id, window in items:
        m = metrics_mod.get(metric_id)
        current = metric_value(figures_metrics, metric_id, window)
        prev_window = compare or prev_key(window)
        previous = (
            None if window == "as_at" else metric_value(figures_metrics, metric_id, prev_window)
        )
        light = fmt.traffic_light(
            current, previous, m.unit, limits, higher_is_better=m.higher_is_better
        )
        as_at = window == "as_at"
        cards.append(
            _Card(
                label=m.label if as_at else f"{m.label} · {window_label(window)}",
                value=fmt.headline(current, m.unit),
                previous=fmt.headline(previous, m.unit),
                prev_label="previous",
                delta=fmt.delta(current, previous, m.unit),
                light=light,
                note=f"as at {_day_label(as_of)}" if as_at else None,
            )
        )
    text = "; ".join(f"{c.label}: {c.value} ({c.delta})" for c in cards)
    return Block(
        render_macro("kpi_cards", cards), render_macro("kpi_cards_email", cards), text=text
    )


# --- Commentary, switchers, tabs ---------------------------------------------------


def commentary(
    figures_commentary: Mapping[str, Any], section: str, *, title: str | None = None
) -> Block:
    """A section's commentary, labelled with where it came from."""
    text = (figures_commentary.get("sections") or {}).get(section, "")
    source = (figures_commentary.get("sources") or {}).get(
        section, figures_commentary.get("source")
    )
    html = render_macro("commentary", title, text, source)
    word = {
        "kind": "commentary",
        "section": section,
        "title": title,
        "text": text,
        "source": source,
    }
    return Block(html, html, text=text, extra={TEXT_MIME: word})


def switch(
    group: str, label: str, options: Iterable[tuple[str, str]], *, selected: str | None = None
) -> Block:
    """A dropdown showing one of the panels of ``group`` (report only)."""
    return Block(render_macro("switch", group, label, list(options), selected), text=label)


def panels(group: str, items: Mapping[str, Sequence[Any]], *, selected: str) -> Block:
    """Panels of blocks and charts, one per value of a :func:`switch` (report only)."""
    rendered = [
        (value, Markup("\n").join(html_of(b) for b in blocks)) for value, blocks in items.items()
    ]
    return Block(render_macro("panels", group, rendered, selected), text=f"{len(rendered)} panels")


def tabs(group: str, items: Sequence[tuple[str, str, Sequence[Any]]]) -> Block:
    """Tabs of blocks and charts (report only)."""
    rendered = [
        (name, title, Markup("\n").join(html_of(b) for b in blocks))
        for name, title, blocks in items
    ]
    return Block(render_macro("tabs", group, rendered), text="tabs")


def note(text: str) -> Block:
    """A short line of explanatory text in both forms."""
    html = f'<p class="bs-note">{html_mod.escape(text)}</p>'
    return Block(html, html, text=text, extra={TEXT_MIME: {"kind": "note", "text": text}})


# --- Printable charts --------------------------------------------------------------


@dataclass(frozen=True)
class Printable:
    """A chart that also carries its data, so the Word pack can redraw it for print.

    Displays exactly as the chart does, plus the chart's fields under :data:`CHART_MIME`
    (a few kB of JSON, which no HTML template renders).
    """

    chart: Any  # a lib.charts.Chart; typed loosely so blocks need not import plotly

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        data, meta = self.chart._repr_mimebundle_(include, exclude)
        data[CHART_MIME] = self.chart.to_dict()
        return data, meta


def printable(chart: Any) -> Printable:
    """Wrap a ``lib.charts`` chart for the Word pack (see :class:`Printable`)."""
    return Printable(chart)
