"""What a drawn chart looks like to a reader: which of its texts leave the picture."""

from __future__ import annotations

from matplotlib.text import Text

from lib.charts.canvas import Canvas


def text_outside(cv: Canvas, tolerance: float = 1.5) -> list[str]:
    """The texts drawn (wholly or partly) outside the figure, as ``repr`` of their text."""
    renderer = cv.agg.get_renderer()
    width, height = cv.fig.bbox.width, cv.fig.bbox.height
    slack = tolerance * cv.scale
    out = []
    for text in cv.fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -slack or box.y0 < -slack or box.x1 > width + slack or box.y1 > height + slack:
            out.append(repr(text.get_text()))
    return out
