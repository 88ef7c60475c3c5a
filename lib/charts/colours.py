"""The house colours of every chart, and which series or bar gets which.

Both drawings (plotly for ``report.html``, matplotlib for the PNG) take their colours
from here, so a lender is the same colour in an email as on the web page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lib import lenders

if TYPE_CHECKING:
    from lib.charts.chart import Chart

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


def series_colours(c: Chart) -> dict[str, str]:
    names = list(c.series)
    is_lender = set(lenders.CANONICAL) | _GREY_NAMES
    if c.kind == "grouped_bar" and len(names) <= 3 and not is_lender & set(names):
        return dict(zip(names, COMPARISON_COLOURS, strict=False))
    return palette(names)


def bar_colours(c: Chart) -> list[str]:
    """Per-category colours of the single-series kinds."""
    if c.kind == "donut":
        return list(palette(c.categories).values())
    marked = set(c.options.get("highlight", []))
    return [PRIMARY if not marked or cat in marked else MUTED for cat in c.categories]


def text_on(colour: str) -> str:
    """White or ink, whichever contrasts more with ``colour`` (WCAG luminance)."""

    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    lum = luminance(colour)
    return "#ffffff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / (luminance(INK) + 0.05) else INK


def waterfall_colours(steps: list[tuple[str, float, float, str]]) -> list[str]:
    return [PRIMARY if role != "change" else UP if h >= 0 else DOWN for _, _, h, role in steps]
