"""The PNG's house style and layout: a matplotlib figure laid out in CSS pixels.

Layout is worked out here rather than by matplotlib's constrained layout (about three
draws a chart): the title, legend, ticks and labels are measured first, then the axes
are placed and the figure drawn once. :mod:`lib.charts.png` draws each kind on it.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from lib import formatting
from lib.charts.colours import BASELINE, GRID, INK, SUBTLE
from lib.charts.text import ELLIPSIS, plain

if TYPE_CHECKING:
    from lib.charts.chart import Chart

REPLACEMENT = "\ufffd"  # drawn for a character the house font has no glyph for
# Layout happens in CSS pixels at 100 per inch, so a 600 px chart is 6 in wide in Word
# and a point is 100/72 px: the smallest text (8.5 pt) is 11.8 px at 600 px wide.
LAYOUT_DPI = 100
_PT = LAYOUT_DPI / 72
_TITLE_PT, TEXT_PT, LABEL_PT = 12.0, 9.0, 8.5
PAD = 12  # px around the figure
_HEIGHT = 340  # px, cartesian charts
_MIN_PLOT = 140  # px, the least height the plot area gets
# The longest a category label drawn on one line under a chart may be: a long name is cut
# with an ellipsis rather than take the height from the plot.
MAX_X_LABEL = 200  # px
# The tallest the rows of a horizontal bar chart or a donut's key get: more rows get
# thinner (or the key says how many it leaves out), so a PNG stays a picture, not a scroll.
MAX_ROWS = 1600  # px
STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs everywhere
    "font.size": TEXT_PT,
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
    "xtick.labelsize": TEXT_PT,
    "ytick.labelsize": TEXT_PT,
    "patch.linewidth": 0,
}


@cache
def font_properties(size: float, bold: bool = False) -> FontProperties:
    return FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")


@cache
def _has_glyph(ch: str) -> bool:
    fonts = [FT2Font(findfont(font_properties(TEXT_PT, bold))) for bold in (False, True)]
    return all(font.get_char_index(ord(ch)) for font in fonts)


def drawable(text: str) -> str:
    """``text`` as the PNG draws it: :func:`lib.charts.text.plain`, and what the house font
    lacks (CJK, some marks) as U+FFFD, marks dropped (missing glyphs have no sane size)."""
    return "".join(
        ch if _has_glyph(ch) else "" if unicodedata.combining(ch) else REPLACEMENT
        for ch in plain(text)
    )


def line_height(size: float) -> float:
    return size * _PT * 1.25


class Canvas:
    """A figure laid out in CSS px from its top-left corner; text is measured first.

    matplotlib's constrained layout would cost ~3 draws per chart, so the layout is
    worked out here: measure the labels, place the axes, draw once.
    """

    def __init__(self, width: float, scale: float) -> None:
        self.width, self.scale, self.height = float(width), scale, 1.0
        self.fig = Figure(figsize=(width / LAYOUT_DPI, 1), dpi=LAYOUT_DPI * scale)
        self.agg = FigureCanvasAgg(self.fig)
        self._renderer = self.agg.get_renderer()
        self._widths: dict[tuple[str, float, bool], float] = {}
        self._title: list[str] = []
        self._legend: list[list[tuple[float, str, str]]] = []
        self._legend_top, self._line_legend = 0.0, False

    def measure(self, text: str, size: float = TEXT_PT, bold: bool = False) -> float:
        """The width of ``text`` in CSS px."""
        key = (text, size, bold)
        if key not in self._widths:
            w, _, _ = self._renderer.get_text_width_height_descent(
                text, font_properties(size, bold), ismath=False
            )
            self._widths[key] = w / self.scale
        return self._widths[key]

    def widest(self, texts: Iterable[str], size: float = TEXT_PT) -> float:
        """The widest of ``texts``, each measured: the character count is no guide to the
        width of names in any script (soft hyphens, marks, wide letters)."""
        return max((self.measure(t, size) for t in set(texts) if t), default=0.0)

    def fit(self, text: str, size: float, width: float, bold: bool = False) -> str:
        """``text`` as it is if no wider than ``width``, else cut with an ellipsis to fit."""
        if self.measure(text, size, bold) <= width:
            return text
        lo, hi = 0, len(text) - 1  # the longest prefix that fits with the ellipsis
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.measure(text[:mid].rstrip() + ELLIPSIS, size, bold) <= width:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + ELLIPSIS

    def wrap(
        self, text: str, size: float, width: float, bold: bool = False, *, lines: int = 3
    ) -> list[str]:
        """``text`` in at most ``lines`` lines no wider than ``width``.

        A word too long for a line (a 255-character name without a space) and the last
        line, when more were needed, are cut with an ellipsis.
        """
        full = self.measure(text, size, bold)
        if full <= width:
            return [text]
        chars = max(6, int(len(text) * width / full))
        wrapped = textwrap.wrap(text, chars, break_long_words=False) or [text]
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], wrapped[lines - 1] + ELLIPSIS]
        return [self.fit(line, size, width, bold) for line in wrapped]

    def header(
        self, title: str, legend: Sequence[tuple[str, str]] = (), *, line: bool = False
    ) -> float:
        """Plan the title and the legend rows under it; returns the px they take."""
        avail = self.width - 2 * PAD
        self._title = self.wrap(drawable(title), _TITLE_PT, avail, bold=True)
        top = PAD + len(self._title) * line_height(_TITLE_PT)
        rows: list[list[tuple[float, str, str]]] = []
        x = avail + 1
        for name, colour in legend:  # row-major, so the legend reads left to right
            name = self.fit(drawable(name), TEXT_PT, avail - 16)
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
        self.fig.set_size_inches(self.width / LAYOUT_DPI, height / LAYOUT_DPI)
        self.fig.text(
            self.fx(PAD),
            self.fy(PAD),
            "\n".join(self._title),
            ha="left",
            va="top",
            fontproperties=font_properties(_TITLE_PT, True),
            linespacing=1.15,
        )
        for r, row in enumerate(self._legend):
            y = self._legend_top + 18 * r + 9
            for x, name, colour in row:
                x0 = PAD + x
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
                fontproperties=font_properties(LABEL_PT),
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
    # Tolerance on the span, not on the value: -1e-17 (a float's rounding) is zero here.
    tol = 1e-9 * (hi - lo)
    below, above = np.flatnonzero(ticks <= lo + tol), np.flatnonzero(ticks >= hi - tol)
    first = int(below[-1]) if below.size else 0
    last = int(above[0]) if above.size else len(ticks) - 1
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


def vertical(
    cv: Canvas,
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
        guess = max(_MIN_PLOT, height - top - 30 - PAD)
        step = ticks[-1] - ticks[-2] if len(ticks) > 1 else 1.0
        if hi > 0 and (ticks[-1] - hi) / (ticks[-1] - ticks[0]) * guess < 16:
            ticks = np.append(ticks, ticks[-1] + step)
        if lo < 0 and (lo - ticks[0]) / (ticks[-1] - ticks[0]) * guess < 16:
            ticks = np.insert(ticks, 0, ticks[0] - step)
    tick_texts = _tick_texts(ticks, c.unit, percent)
    left = PAD + cv.widest(tick_texts) + 8
    right = cv.width - PAD
    if line and labels:  # the first and latest x labels are centred on points: keep them in
        right -= max(0.0, cv.measure(cv.fit(labels[-1], TEXT_PT, MAX_X_LABEL)) / 2 - 8)
        left = max(left, PAD + cv.measure(cv.fit(labels[0], TEXT_PT, MAX_X_LABEL)) / 2 - 8)
    n = len(labels)
    slot = (right - left) / max(n, 1)
    positions, texts, rotation, x_h = _x_labels(cv, labels, slot, thin=line)
    if rotation:  # labels turned 45° reach left of their bar: keep the first one in
        left = max(left, PAD + cv.widest(texts) * 0.71 + 4 - slot / 2)
        slot = (right - left) / max(n, 1)
    bottom = height - PAD - x_h - 4
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
    cv: Canvas, labels: list[str], slot: float, *, thin: bool
) -> tuple[list[int], list[str], int, float]:
    """Category labels that fit their slots: as they are, thinned, wrapped or turned 45°.

    Returns:
        Tick positions, their texts, the rotation and the px the labels take.
    """
    n, line_h = len(labels), line_height(TEXT_PT)
    widest = cv.widest(labels)
    if widest <= slot - 6:
        return list(range(n)), labels, 0, line_h
    # Labels that stay on one line (thinned or turned) are cut to a common length.
    capped = [cv.fit(t, TEXT_PT, MAX_X_LABEL) for t in labels]
    if thin:  # every k-th x value, counting back from the latest so it is always labelled
        k = math.ceil((cv.widest(capped) + 10) / slot)
        keep = list(range(n - 1, -1, -k))[::-1]
        return keep, [capped[i] for i in keep], 0, line_h
    longest = max(labels, key=len)
    full = cv.measure(longest)  # zero for labels of zero-width characters only
    chars = int((slot - 6) * len(longest) / full) if full else 0
    if chars >= 4:
        wrapped = [textwrap.wrap(t, chars, break_long_words=False) or [t] for t in labels]
        # Characters are a guess at width (combining marks have none, digits are wide):
        # the lines are measured before they are kept.
        if all(len(w) <= 2 and all(cv.measure(s) <= slot - 6 for s in w) for w in wrapped):
            return list(range(n)), ["\n".join(w) for w in wrapped], 0, 2 * line_h
    # Turned 45°, neighbours are slot * 0.71 apart: too close to read, label every k-th.
    k = math.ceil(line_h / (slot * 0.71))
    keep = list(range(0, n, k))
    return keep, [capped[i] for i in keep], 45, (cv.widest(capped) + line_h) * 0.71


def fits(cv: Canvas, texts: Iterable[str], room: float) -> bool:
    return cv.widest(texts, LABEL_PT) <= room
