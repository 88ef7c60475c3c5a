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

The drawing lives in small modules this one imports: :mod:`lib.charts.interactive` (HTML),
:mod:`lib.charts.png` on :mod:`lib.charts.canvas` (PNG), :mod:`lib.charts.alt` (alt text),
:mod:`lib.charts.colours` and :mod:`lib.charts.data`. Import charts from here: this module
is the public API and re-exports the constants and :func:`palette`. PNGs are drawn with
matplotlib, whose rcParams are process-global: draw from one thread at a time (the
runner fans out in processes).
"""

from lib.charts.chart import Chart, bar, donut, funnel, grouped_bar, line, stacked_bar, waterfall
from lib.charts.colours import (
    BASELINE,
    COMPARISON_COLOURS,
    DOWN,
    EXTRA_COLOURS,
    GRID,
    INK,
    LENDER_COLOURS,
    MUTED,
    OTHER_COLOUR,
    PRIMARY,
    SUBTLE,
    UP,
    palette,
)
from lib.charts.data import KINDS, UNITS, VALUE
from lib.charts.interactive import WEB_FONT

__all__ = [
    "BASELINE",
    "COMPARISON_COLOURS",
    "Chart",
    "DOWN",
    "EXTRA_COLOURS",
    "GRID",
    "INK",
    "KINDS",
    "LENDER_COLOURS",
    "MUTED",
    "OTHER_COLOUR",
    "PRIMARY",
    "SUBTLE",
    "UNITS",
    "UP",
    "VALUE",
    "WEB_FONT",
    "bar",
    "donut",
    "funnel",
    "grouped_bar",
    "line",
    "palette",
    "stacked_bar",
    "waterfall",
]
