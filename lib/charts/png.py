"""Charts as PNGs in the house style, for email bodies and Word.

The PNG side uses matplotlib's object-oriented API with its Agg canvas and never
pyplot: no global figure registry to leak figures across targets, no backend switch in
the analyst's kernel. Styling goes through ``matplotlib.style.context`` (house style on
top of matplotlib's defaults), so a style the notebook set does not leak in. rcParams
are process-global: draw from one thread at a time (the runner fans out in processes).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.style
import numpy as np
from matplotlib.patches import Rectangle
from PIL import Image

from lib import formatting
from lib.charts.canvas import (
    LABEL_PT,
    LAYOUT_DPI,
    MAX_ROWS,
    PAD,
    STYLE,
    TEXT_PT,
    Canvas,
    drawable,
    fits,
    font_properties,
    line_height,
    vertical,
)
from lib.charts.colours import (
    BASELINE,
    GRID,
    PRIMARY,
    SUBTLE,
    bar_colours,
    series_colours,
    text_on,
    waterfall_colours,
)
from lib.charts.data import (
    VALUE,
    display_labels,
    has_data,
    line_from_zero,
    total_of,
    waterfall_steps,
)
from lib.charts.labels import compact_label, funnel_texts, waterfall_texts

if TYPE_CHECKING:
    from lib.charts.chart import Chart

_PNG_COMPRESSION = 6  # zlib's default: level 3 saves ~3 ms a chart but adds ~15 % bytes
LABEL_SHARE = 0.42  # the most of a horizontal chart's width its category labels take


def _labels(c: Chart) -> list[str]:
    return [drawable(label) for label in display_labels(c.categories)]


def _array(vals: Sequence[int | float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in vals], dtype=float)


def _span(c: Chart) -> tuple[float, float]:
    present = [v for vals in c.series.values() for v in vals if v is not None]
    return min(0.0, *present), max(0.0, *present)


def _mpl_line(cv: Canvas, c: Chart) -> None:
    colours, n = series_colours(c), len(c.categories)
    present = [v for vals in c.series.values() for v in vals if v is not None]
    lo = 0.0 if line_from_zero(c) else min(present)
    legend = [(name, colours[name]) for name in c.series] if len(c.series) > 1 else []
    plot = vertical(cv, c, _labels(c), lo, max(present), legend=legend, line=True)
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


def _mpl_bar(cv: Canvas, c: Chart) -> None:
    vals, colours = c.series[VALUE], bar_colours(c)
    texts = compact_label(vals, c.unit)
    if c.options.get("horizontal"):
        _mpl_hbar(cv, c, texts, colours)
        return
    plot = vertical(cv, c, _labels(c), *_span(c), room=True)
    idx = [i for i, v in enumerate(vals) if v is not None]
    plot.ax.bar(idx, [vals[i] for i in idx], width=0.7, color=[colours[i] for i in idx])
    if fits(cv, texts, plot.slot - 2):
        cv.labels(plot.ax, range(len(vals)), vals, texts)


def _mpl_grouped(cv: Canvas, c: Chart) -> None:
    colours, k, n = series_colours(c), len(c.series), len(c.categories)
    legend = [(name, colours[name]) for name in c.series] if k > 1 else []
    plot = vertical(cv, c, _labels(c), *_span(c), legend=legend, room=True)
    width = 0.8 / k
    texts = {name: compact_label(vals, c.unit) for name, vals in c.series.items()}
    show = fits(cv, (t for ts in texts.values() for t in ts), plot.slot * width - 2)
    for j, (name, vals) in enumerate(c.series.items()):
        xs = np.arange(n) - 0.4 + width * (j + 0.5)
        y = _array(vals)
        ok = ~np.isnan(y)
        plot.ax.bar(xs[ok], y[ok], width=width * 0.9, color=colours[name])
        if show:
            cv.labels(plot.ax, list(xs), vals, texts[name])


def _mpl_stacked(cv: Canvas, c: Chart) -> None:
    colours, n = series_colours(c), len(c.categories)
    percent = bool(c.options.get("percent"))
    raw = np.array([_array(vals) for vals in c.series.values()]).reshape(len(c.series), n)
    data = np.nan_to_num(raw)
    if percent:
        totals = data.sum(axis=0)
        data = np.divide(data, totals, out=np.zeros_like(data), where=totals > 0)
    pos, neg = np.where(data > 0, data, 0).sum(axis=0), np.where(data < 0, data, 0).sum(axis=0)
    legend = [(name, colours[name]) for name in c.series] if len(c.series) > 1 else []
    lo, hi = (0.0, 1.0) if percent else (min(0.0, neg.min()), max(0.0, pos.max()))
    plot = vertical(
        cv,
        c,
        _labels(c),
        lo,
        hi,
        legend=legend,
        room=not percent,
        percent=percent,
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
                if row[i] * plot.height >= 14 and cv.measure(text, LABEL_PT) <= plot.slot * 0.7 - 2:
                    plot.ax.text(
                        i,
                        base[i] + row[i] / 2,
                        text,
                        ha="center",
                        va="center",
                        fontproperties=font_properties(LABEL_PT),
                        color=text_on(colours[name]),
                    )
        up, down = up + np.where(row > 0, row, 0), down + np.where(row < 0, row, 0)
    if not percent:
        totals_ = [total_of(col) for col in zip(*c.series.values(), strict=True)]
        texts = compact_label(totals_, c.unit)
        if fits(cv, texts, plot.slot - 2):
            keep = [i for i, t in enumerate(totals_) if t is not None]
            cv.labels(plot.ax, keep, [float(pos[i]) for i in keep], [texts[i] for i in keep])


def _mpl_hbar(cv: Canvas, c: Chart, texts: list[str], colours: list[str]) -> None:
    """Horizontal bars, top to bottom in the given order, value-labelled (bar, funnel)."""
    vals, labels = c.series[VALUE], _labels(c)
    n = len(vals)
    top = cv.header(c.title)
    lo, hi = _span(c)
    keep = list(range(n))
    slot = 26.0
    if n * slot > MAX_ROWS:  # many bars: thinner ones, labelled on one line, every k-th
        slot = MAX_ROWS / n
        keep = keep[:: math.ceil(line_height(TEXT_PT) / slot)]
    text_w = cv.widest([texts[i] for i in keep], LABEL_PT) + 8
    # Value labels go past each bar's end: right of positive, zero and missing values, left
    # of negative ones. Labels too wide for half the chart are left to the alt text.
    rightward, leftward = any(v is None or v >= 0 for v in vals), lo < 0
    show = text_w * (rightward + leftward) <= 0.5 * (cv.width - 2 * PAD)
    sides = (rightward + leftward) if show else 0
    # The label column never takes more than its share, nor room the value labels and a
    # fifth of the chart for the bars need.
    column = LABEL_SHARE * cv.width
    column = max(min(column, cv.width * 0.8 - 2 * PAD - 8 - sides * text_w), 40.0)
    if slot < 26:
        wrapped = [[cv.fit(label, TEXT_PT, column)] for label in labels]
    else:
        wrapped = [cv.wrap(label, TEXT_PT, column, lines=2) for label in labels]
        slot = 26 if all(len(w) == 1 for w in wrapped) else 38
        if n * slot > MAX_ROWS:  # two-line labels would make too tall a chart
            slot, wrapped = 26, [[cv.fit(label, TEXT_PT, column)] for label in labels]
    label_w = max((cv.measure(s) for i in keep for s in wrapped[i]), default=0.0)
    left, right = PAD + label_w + 8, cv.width - PAD
    bars_w = max((right - left) - text_w * sides, 1.0)
    per_px = ((hi - lo) or 1.0) / bars_w  # data units per px
    height = top + n * slot + PAD
    cv.size(height)
    ax = cv.axes(left, top, right, height - PAD)
    idx = [i for i, v in enumerate(vals) if v is not None]
    ax.barh(idx, [vals[i] for i in idx], height=0.68, color=[colours[i] for i in idx])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(keep, ["\n".join(wrapped[i]) for i in keep])
    x0 = lo - (text_w * per_px if leftward and show else 0)
    x1 = hi + (text_w * per_px if rightward and show else 0)
    # All values zero (an empty month): give the axis a width rather than a singular range.
    ax.set_xlim(x0, x1 if x1 > x0 else x0 + 1.0)
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.axvline(0, color=BASELINE, lw=0.8)
    if show:
        cv.labels(ax, keep, [vals[i] for i in keep], [texts[i] for i in keep], horizontal=True)


def _mpl_funnel(cv: Canvas, c: Chart) -> None:
    _mpl_hbar(cv, c, funnel_texts(c), [PRIMARY] * len(c.categories))


def _mpl_donut(cv: Canvas, c: Chart) -> None:
    vals, labels, colours = c.series[VALUE], _labels(c), bar_colours(c)
    whole = total_of(v for v in vals if v is not None and v > 0) or 0
    top = cv.header(c.title)
    ring = 200  # px across
    x0 = PAD + ring + 28  # the legend, right of the ring
    values = [
        "no data"
        if v is None
        else formatting.value(v, c.unit, compact=True)
        + (f"  {formatting.percent(v / whole)}" if whole else "")
        for v in vals
    ]
    value_w = cv.widest(values) + 8
    name_w = max(cv.width - PAD - x0 - 16 - value_w, 60.0)
    names = [cv.wrap(label, TEXT_PT, name_w, lines=2) for label in labels]
    rows = [len(w) * line_height(TEXT_PT) + 6 for w in names]
    # A key too long for the picture ends with a line saying how many parts it leaves out
    # (the alt text and the report's tables name every one).
    shown = len(rows)
    while sum(rows[:shown]) > MAX_ROWS:
        shown -= 1
    more = len(rows) - shown
    key_h = sum(rows[:shown]) + (line_height(TEXT_PT) + 6 if more else 0)
    height = top + max(ring, key_h) + PAD
    cv.size(height)
    ax = cv.axes(PAD, top, PAD + ring, top + ring)
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
    total = formatting.value(whole, c.unit, compact=True)
    # A huge total (hours and counts do not compact) steps down to fit inside the hole.
    hole = ring * 0.64 - 12
    size = next((pt for pt in (13, 11, 9) if cv.measure(total, pt, True) <= hole), LABEL_PT)
    ax.text(0, 0.06, total, ha="center", va="bottom", fontproperties=font_properties(size, True))
    ax.text(0, -0.02, "Total", ha="center", va="top", color=SUBTLE)
    y = top + max(0.0, (ring - key_h) / 2)
    for name, text, colour, row in list(zip(names, values, colours, rows, strict=True))[:shown]:
        mid = y + line_height(TEXT_PT) / 2 + 3
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
            cv.fx(cv.width - PAD), cv.fy(mid), text, ha="right", va="center_baseline", color=SUBTLE
        )
        y += row
    if more:
        cv.fig.text(cv.fx(x0 + 16), cv.fy(y + 3), f"and {more} more", va="top", color=SUBTLE)


def _mpl_waterfall(cv: Canvas, c: Chart) -> None:
    steps = waterfall_steps(c)
    ends = [v for _, base, h, _ in steps for v in (base, base + h)]
    labels = [drawable(s[0]) for s in steps]
    plot = vertical(cv, c, labels, min(0.0, *ends), max(0.0, *ends), room=True)
    ax, m = plot.ax, len(steps)
    colours = waterfall_colours(steps)
    ax.bar(range(m), [s[2] for s in steps], bottom=[s[1] for s in steps], width=0.64, color=colours)
    for i in range(m - 1):  # the running level carried from one bar to the next
        level = steps[i][1] + steps[i][2]
        ax.plot([i + 0.32, i + 0.68], [level, level], color=BASELINE, lw=0.8)
    texts = waterfall_texts(c, steps, compact=True)
    if fits(cv, texts, plot.slot - 2):  # past the bar's far end: above a rise, below a fall
        ends_ = [base + h for _, base, h, _ in steps]
        cv.labels(ax, range(m), ends_, texts, ahead=[h >= 0 for _, _, h, _ in steps])


def _mpl_empty(cv: Canvas, c: Chart) -> None:
    top = cv.header(c.title)
    cv.size(top + 90)
    cv.fig.text(
        0.5,
        cv.fy(top + 40),
        "No data",
        ha="center",
        va="center",
        color=SUBTLE,
        fontproperties=font_properties(11),
    )


_MPL: dict[str, Callable[[Canvas, Chart], None]] = {
    "line": _mpl_line,
    "bar": _mpl_bar,
    "grouped_bar": _mpl_grouped,
    "stacked_bar": _mpl_stacked,
    "donut": _mpl_donut,
    "funnel": _mpl_funnel,
    "waterfall": _mpl_waterfall,
}


def draw(c: Chart, width_px: int, scale: float) -> Canvas:
    """The chart drawn on a canvas ``width_px`` CSS px wide, ``scale`` times denser."""
    if width_px < 240 or not scale > 0:
        raise ValueError(f"a PNG needs width_px >= 240 and scale > 0, got {width_px} and {scale}")
    # after_reset: matplotlib's defaults under the house style, whatever the notebook set.
    with matplotlib.style.context(STYLE, after_reset=True):
        cv = Canvas(width_px, scale)
        (_MPL[c.kind] if has_data(c) else _mpl_empty)(cv, c)
        cv.agg.draw()
    return cv


def encode(cv: Canvas) -> bytes:
    """A drawn canvas as PNG bytes recording their resolution, without text metadata."""
    pixels = np.asarray(cv.agg.buffer_rgba())[:, :, :3]  # opaque: RGB is smaller
    dpi = round(LAYOUT_DPI * cv.scale)
    out = io.BytesIO()
    # PIL writes no text chunks (no "Software", no timestamp): same chart, same bytes.
    Image.fromarray(pixels).save(out, format="PNG", compress_level=_PNG_COMPRESSION, dpi=(dpi, dpi))
    return out.getvalue()


def draw_png(c: Chart, width_px: int, scale: float) -> bytes:
    return encode(draw(c, width_px, scale))
