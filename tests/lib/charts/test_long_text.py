"""Charts with text that does not fit: a 255-character retailer name and its kin.

Salesforce allows 255 characters in an Account name, and real names include long company
strings, URLs and codes with no space to wrap at. Such a name once gave the horizontal bar
chart a label column wider than the chart, a negative plot width, and the board pack no
pack. Labels that cannot wrap are cut with an ellipsis; the full text stays in the alt
text and the plotly hover.
"""

from __future__ import annotations

import struct

import pytest

from lib import charts

LONG = "Retailer" + "X" * 247  # 255 characters, nothing to wrap at
assert len(LONG) == 255


def _height(png: bytes) -> int:
    return struct.unpack(">II", png[16:24])[1]


def test_a_255_character_name_in_a_horizontal_bar_chart_draws() -> None:
    chart = charts.bar(
        "Top 10 retailers by paid value, October 2026",
        [LONG, "Harbour & Sons"],
        [125_000.0, 98_000.0],
        unit="money",
        horizontal=True,
    )
    png = chart.png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 100 < _height(png) < 400
    assert LONG in chart.alt  # the full name stays in the alt text


def test_the_label_column_keeps_to_its_share_and_cuts_with_an_ellipsis() -> None:
    from lib.charts.png import LABEL_SHARE, draw

    chart = charts.bar("Top", [LONG, "Short"], [2.0, 1.0], unit="count", horizontal=True)
    cv = draw(chart, 600, 1)
    (ax,) = cv.fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[1] == "Short"
    assert labels[0].startswith("RetailerXX") and labels[0].endswith("…")
    assert cv.measure(labels[0]) <= LABEL_SHARE * 600
    left, _, width, _ = ax.get_position().bounds
    assert width > 0.3 and left <= LABEL_SHARE + 0.1


def test_long_text_keeps_inside_the_picture_wherever_it_is_measured() -> None:
    """Titles, legends, category labels of every kind, donut keys and funnel stages."""
    from lib.charts.png import draw
    from tests.lib.charts.pictures import text_outside

    two = [LONG, "Short"]
    cases = [
        charts.bar(LONG, two, [2.0, 1.0], unit="count"),
        charts.line("Trend", ["a", LONG], {LONG: [1, 2], "B": [2, 1]}, unit="count"),
        charts.grouped_bar("By BDM", two, {LONG: [1, 2], "Prev": [2, None]}, unit="money"),
        charts.stacked_bar("Mix", two, {LONG: [1, 2], "B": [2, 3]}, unit="money", percent=True),
        charts.donut("Share", two, [3.0, 1.0]),
        charts.funnel("Funnel", [LONG, "Paid"], [10, 4]),
        charts.waterfall(
            "Bridge", ["Start", LONG], [100.0, -20.0], unit="money", total_label=LONG[::-1]
        ),
    ]
    for chart in cases:
        cv = draw(chart, 600, 1)
        assert not text_outside(cv), (chart.kind, text_outside(cv))
        assert cv.height < 800, chart.kind


@pytest.mark.parametrize("horizontal", [True, False])
def test_plotly_shortens_tick_labels_and_keeps_the_full_name_for_hover(horizontal: bool) -> None:
    from tests.lib.charts.test_chart import _plotly_json

    chart = charts.bar("Top", [LONG, "<Dent> & Co"], [2, 1], unit="count", horizontal=horizontal)
    (trace,), layout = _plotly_json(chart.html())
    axis = layout["yaxis" if horizontal else "xaxis"]
    names = trace["y" if horizontal else "x"]
    assert names == [LONG, "&lt;Dent&gt; &amp; Co"]  # plotly reads text as HTML: escaped
    assert axis["tickvals"] == names
    assert axis["ticktext"][0].endswith("…") and len(axis["ticktext"][0]) <= 41
    assert axis["ticktext"][1] == names[1]


def test_control_characters_and_newlines_are_not_drawn() -> None:
    from lib.charts.png import draw

    chart = charts.bar(
        "Odd\nnames",
        ["Bell\x07 Ltd", "Two\nlines", "\u202eevil"],
        [1, 2, 3],
        unit="count",
        horizontal=True,
    )
    cv = draw(chart, 600, 1)
    labels = [t.get_text() for t in cv.fig.axes[0].get_yticklabels()]
    assert labels == ["Bell Ltd", "Two lines", "evil"]
