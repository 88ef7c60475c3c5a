"""Charts: one data object, drawn by plotly for report.html and matplotlib for email/Word."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import struct
import subprocess
import sys
import zlib
from datetime import date
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

from lib import charts, lenders
from lib.contract import PLOTLY_MIME
from lib.errors import UnknownNameError

ROOT = Path(__file__).resolve().parents[3]
LENDERS = ["Northwind Bank", "Oakfield Bank", "Kestrel Money", "Blue Heron Credit"]
MONTHS = [date(2026, m, 1) for m in range(1, 7)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _all_kinds() -> dict[str, charts.Chart]:
    return {
        "line": charts.line(
            "Submissions by month",
            MONTHS,
            {
                "This year": [120, 130, None, 150, 160, 170],
                "Last year": [100, 110, 115, 120, 125, 130],
            },
            unit="count",
        ),
        "bar": charts.bar(
            "Paid value by lender", LENDERS, [12_300, 8_100, None, 2_500], unit="money"
        ),
        "bar_horizontal": charts.bar(
            "Paid value by lender",
            LENDERS,
            [12_300, 8_100, 4_000, 2_500],
            unit="money",
            horizontal=True,
            highlight="Oakfield Bank",
        ),
        "grouped_bar": charts.grouped_bar(
            "Approval rate: this month vs last",
            LENDERS,
            {"This month": [0.41, 0.52, 0.38, None], "Last month": [0.40, 0.55, 0.30, 0.45]},
            unit="rate",
        ),
        "stacked_bar": charts.stacked_bar(
            "Paid value by month and lender",
            MONTHS,
            {name: [1000.0 * (i + 1)] * 6 for i, name in enumerate(LENDERS)},
            unit="money",
        ),
        "stacked_percent": charts.stacked_bar(
            "Product mix",
            LENDERS[:2],
            {"Interest Free": [40, 30], "Interest Bearing": [60, 70]},
            unit="count",
            percent=True,
        ),
        "donut": charts.donut("Paid value share", LENDERS, [12_300, 8_100, None, 2_500]),
        "funnel": charts.funnel(
            "Funnel",
            ["Submissions", "Decisions", "Approvals", "Signed", "Paid"],
            [1200, 1000, 700, 600, 550],
        ),
        "waterfall": charts.waterfall(
            "Paid value, May to June",
            ["May", *LENDERS[:3]],
            [100_000, 5_000, -3_000, None],
            unit="money",
            total_label="June",
        ),
        "empty": charts.bar("Nothing yet", [], [], unit="count"),
    }


KINDS = _all_kinds()


@pytest.fixture(scope="module")
def pngs() -> dict[str, bytes]:
    return {name: chart.png() for name, chart in KINDS.items()}


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _png_size(data: bytes) -> tuple[int, int]:
    kind, body = _png_chunks(data)[0]
    assert kind == b"IHDR"
    return struct.unpack(">II", body[:8])


def _plotly_json(html: str) -> tuple[list[dict], dict]:
    """The data and layout passed to Plotly.newPlot."""
    args = html.split("Plotly.newPlot(", 1)[1]
    decoder = json.JSONDecoder()
    _, pos = decoder.raw_decode(args.lstrip())  # the div id
    rest = args.lstrip()[pos:].lstrip(" ,\n")
    data, pos = decoder.raw_decode(rest)
    layout, _ = decoder.raw_decode(rest[pos:].lstrip(" ,\n"))
    return data, layout


def test_every_kind_is_covered() -> None:
    assert {c.kind for c in KINDS.values()} == set(charts.KINDS)


# ------------------------------------------------------------------------- html


@pytest.mark.parametrize("name", KINDS)
def test_html_is_a_div_without_plotly_js_and_repeats_exactly(name: str) -> None:
    chart = KINDS[name]
    html = chart.html()
    assert "<script src" not in html.lower()
    assert len(html) < 10_000  # plotly.js (>1 MB) is the template's job
    assert re.fullmatch(r"bs-chart-[0-9a-f]{16}", chart.div_id)
    assert f'id="{chart.div_id}"' in html
    assert "Plotly.newPlot" in html  # how runner/render.py knows to embed plotly.js
    assert html == chart.html()
    assert html == _all_kinds()[name].html()  # an equal chart built again: same bytes


@pytest.mark.parametrize("name", KINDS)
def test_plotly_uses_only_the_basic_bundle(name: str) -> None:
    data, layout = _plotly_json(KINDS[name].html())
    assert {trace["type"] for trace in data} <= {"scatter", "bar", "pie"}
    assert layout["template"] == {"data": {"scatter": [{"type": "scatter"}]}}  # "none"
    assert KINDS[name].plotly().to_dict()["data"] == KINDS[name].plotly().to_dict()["data"]


def test_div_id_follows_the_content() -> None:
    a = charts.bar("Paid", ["A", "B"], [1, 2], unit="count")
    assert a.div_id == charts.bar("Paid", ["A", "B"], [1, 2], unit="count").div_id
    assert a.div_id != charts.bar("Paid", ["A", "B"], [1, 3], unit="count").div_id
    assert a.div_id != dataclasses.replace(a, key="retailer-2").div_id
    assert hash(a) == hash(charts.bar("Paid", ["A", "B"], [1, 2], unit="count"))


def test_plotly_keeps_the_data_and_rounds_only_hover_text() -> None:
    chart = charts.bar("Value", ["A", "B"], [1234.5678, None], unit="money")
    (trace,), _ = _plotly_json(chart.html())
    assert trace["y"] == [1234.5678, None]  # a missing bar, never 0
    assert trace["hovertext"] == ["£1,235", ""]
    assert trace["text"] == ["£1.2k", ""]


def test_line_gaps_are_nulls_and_dates_are_iso() -> None:
    (this, _), layout = _plotly_json(KINDS["line"].html())
    assert this["x"][0] == "2026-01-01"
    assert this["y"] == [120, 130, None, 150, 160, 170]
    assert layout["xaxis"]["type"] == "date"


def test_html_escapes_markup_in_text() -> None:
    chart = charts.bar("Sales </script><b>", ["A"], [1], unit="count", alt='A "quoted" <alt>')
    html = chart.html()
    assert html.count("</script>") == 1
    assert 'aria-label="A &quot;quoted&quot; &lt;alt&gt;"' in html


# -------------------------------------------------------------------------- png


@pytest.mark.parametrize("name", KINDS)
def test_png_is_1200_px_wide_and_deterministic(name: str, pngs: dict[str, bytes]) -> None:
    data = pngs[name]
    width, height = _png_size(data)
    assert width == 1200
    assert 200 <= height <= 1600
    assert data == KINDS[name].png()
    kinds = [kind for kind, _ in _png_chunks(data)]
    assert b"tEXt" not in kinds and b"iTXt" not in kinds and b"tIME" not in kinds
    assert b"pHYs" in kinds


def test_png_scale_width_and_dpi() -> None:
    chart = KINDS["bar"]
    assert _png_size(chart.png(scale=1))[0] == 600
    assert _png_size(chart.png(width_px=500, scale=1))[0] == 500
    assert _png_size(chart.png(dpi=300))[0] == 1800
    body = dict(_png_chunks(chart.png(dpi=300)))[b"pHYs"]
    per_metre = struct.unpack(">I", body[:4])[0]
    assert round(per_metre * 0.0254) == 300  # Word shows it 6 in wide
    with pytest.raises(ValueError):
        chart.png(width_px=10)


def test_png_ignores_the_notebooks_matplotlib_style(pngs: dict[str, bytes]) -> None:
    with mpl.rc_context({"font.size": 20, "axes.facecolor": "black", "lines.linewidth": 9}):
        assert KINDS["line"].png() == pngs["line"]
    assert mpl.rcParams["font.size"] != 20  # and leaves the style as it found it


def test_png_bytes_match_in_a_fresh_process(pngs: dict[str, bytes]) -> None:
    """Golden files only work if another process draws the very same bytes."""
    code = (
        "import hashlib, sys; from lib import charts; "
        "c = charts.bar('Paid value by lender', sys.argv[1].split(','), "
        "[12300, 8100, None, 2500], unit='money'); "
        "print(hashlib.sha256(c.png()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, ",".join(LENDERS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    import hashlib

    assert out.stdout.strip() == hashlib.sha256(pngs["bar"]).hexdigest()


def test_png_draws_odd_data() -> None:
    odd = [
        charts.line("One point", ["2026-01-05"], {"x": [5]}, unit="count"),
        charts.line("All gaps", ["a", "b"], {"x": [None, None]}, unit="count"),
        charts.line("Flat", ["a", "b", "c"], {"x": [0.4, 0.4, 0.4]}, unit="rate"),
        charts.line(
            "Weekly",
            pd.date_range("2025-01-06", periods=60, freq="W-MON"),
            {"x": list(range(60))},
            unit="count",
        ),
        charts.bar("Negatives", ["a", "b"], [-5, 3], unit="money"),
        charts.bar("Zeros", ["a", "b"], [0, 0], unit="count"),
        charts.bar(
            "Many", [f"Retailer number {i}" for i in range(30)], list(range(30)), unit="count"
        ),
        charts.bar(
            "Long names " * 12, ["A very long category name indeed", "B"], [1, 2], unit="hours"
        ),
        charts.stacked_bar("Mixed signs", ["a", "b"], {"x": [1, -2], "y": [3, None]}, unit="money"),
        charts.donut("Zeros", ["a", "b"], [0, 0], unit="count"),
        charts.waterfall("Start only", ["May"], [10], unit="days"),
        charts.grouped_bar(
            "Many",
            [str(i) for i in range(24)],
            {"a": list(range(24)), "b": list(range(24))},
            unit="money",
        ),
    ]
    for chart in odd:
        assert _png_size(chart.png(scale=1))[0] == 600, chart.title
        assert "Plotly.newPlot" in chart.html()


# ---------------------------------------------------------------------- alt text


def test_alt_states_the_formatted_values() -> None:
    assert KINDS["bar"].alt == (
        "Paid value by lender (bar chart): Northwind Bank £12.3k, Oakfield Bank £8.1k, "
        "Kestrel Money no data, Blue Heron Credit £2.5k."
    )
    assert "Oakfield Bank £8.1k (highlighted)" in KINDS["bar_horizontal"].alt
    assert KINDS["line"].alt == (
        "Submissions by month (line chart): This year rose from 120 in Jan 2026 to 170 in "
        "Jun 2026, no data for 1 of 6 points; Last year rose from 100 in Jan 2026 to 130 in "
        "Jun 2026."
    )
    assert "Northwind Bank: This month 41.0%, Last month 40.0%" in KINDS["grouped_bar"].alt
    assert "total £22.9k: Northwind Bank £12.3k (53.7%)" in KINDS["donut"].alt
    assert "Decisions 1,000 (83.3% of Submissions)" in KINDS["funnel"].alt
    assert KINDS["waterfall"].alt == (
        "Paid value, May to June (waterfall chart): from £100.0k (May) to £102.0k (June): "
        "Northwind Bank +£5.0k, Oakfield Bank -£3.0k, Kestrel Money no data."
    )
    assert "Northwind Bank: Interest Free 40.0%, Interest Bearing 60.0%" in (
        KINDS["stacked_percent"].alt
    )
    assert "totals Jan 2026 £10.0k" in KINDS["stacked_bar"].alt
    assert KINDS["empty"].alt == "Nothing yet (bar chart): no data."


def test_alt_is_one_line_and_given_alt_wins() -> None:
    chart = charts.bar("T", ["a"], [1], unit="count", alt="  Custom\n text ")
    assert chart.alt == "Custom text"
    for c in KINDS.values():
        assert "\n" not in c.alt and c.alt.endswith(".")


def test_alt_of_a_flat_line() -> None:
    chart = charts.line("Rate", ["2026-01-05", "2026-01-12"], {"Rate": [0.4, 0.4]}, unit="rate")
    assert chart.alt == (
        "Rate (line chart): Rate unchanged at 40.0% from 5 Jan 2026 to 12 Jan 2026."
    )


def test_long_alt_is_capped() -> None:
    chart = charts.bar("Many", [f"R{i}" for i in range(40)], list(range(40)), unit="count")
    assert chart.alt.endswith("R11 11, and 28 more.")


def test_charts_hold_only_the_data_given() -> None:
    """Privacy: nothing but the caller's names reaches the page (no palette lenders)."""
    chart = charts.grouped_bar(
        "Submissions", ["LW", "MTD"], {"This period": [5, 9], "Previous": [4, 8]}, unit="count"
    )
    text = chart.html() + chart.alt + json.dumps(chart.to_dict())
    for name in lenders.CANONICAL:
        assert name not in text


# ------------------------------------------------------------------ data and api


def test_values_become_json_numbers_and_nulls() -> None:
    chart = charts.line(
        "T",
        [pd.Timestamp("2026-01-05"), np.datetime64("2026-01-12"), date(2026, 1, 19)],
        {"x": [np.int64(3), np.float64("nan"), pd.NA]},
        unit="count",
    )
    assert chart.categories == ["2026-01-05", "2026-01-12", "2026-01-19"]
    assert chart.series == {"x": [3, None, None]}
    assert type(chart.series["x"][0]) is int
    json.dumps(chart.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: charts.bar("T", ["a"], [1], unit="euros"), UnknownNameError),
        (lambda: charts.bar("T", ["a", "b"], [1], unit="count"), ValueError),
        (lambda: charts.bar("T", ["a", "a"], [1, 2], unit="count"), ValueError),
        (lambda: charts.bar("T", ["a"], [1], unit="count", highlight="b"), ValueError),
        (lambda: charts.bar("T", ["a"], ["1"], unit="count"), TypeError),
        (lambda: charts.bar("T", [None], [1], unit="count"), ValueError),
        (lambda: charts.bar(" ", ["a"], [1], unit="count"), ValueError),
        (lambda: charts.donut("T", ["a"], [-1]), ValueError),
        (lambda: charts.waterfall("T", ["a", "b"], [None, 1], unit="money"), ValueError),
        (lambda: charts.waterfall("T", ["May"], [1], unit="money", total_label="May"), ValueError),
        (
            lambda: charts.stacked_bar("T", ["a"], {"x": [-1]}, unit="count", percent=True),
            ValueError,
        ),
        (lambda: charts.Chart("pie", "T", "", "count"), UnknownNameError),
    ],
)
def test_bad_input_is_refused(build, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        build()


def test_mimebundle() -> None:
    chart = KINDS["bar"]
    data, meta = chart._repr_mimebundle_()
    assert set(data) == {"text/html", "image/png", "text/plain", PLOTLY_MIME}
    assert data[PLOTLY_MIME]["data"][0]["y"] == [12_300, 8_100, None, 2_500]
    json.dumps(data, allow_nan=False)
    assert data["text/html"] == chart.html()
    assert _png_size(base64.b64decode(data["image/png"]))[0] == 1200
    assert data["text/plain"] == chart.alt
    assert meta == {
        "image/png": {"alt": chart.alt, "width": 600},
        "broadsheet": {"kind": "chart", "title": "Paid value by lender"},
    }
    only_html, _ = chart._repr_mimebundle_(include=["text/html"])
    assert set(only_html) == {"text/html"}
    no_png, no_png_meta = chart._repr_mimebundle_(exclude=["image/png"])
    assert "image/png" not in no_png and "image/png" not in no_png_meta


def test_palette_gives_lenders_stable_colours() -> None:
    first = charts.palette(lenders.CANONICAL)
    assert list(first.values()) == list(charts.LENDER_COLOURS)
    mixed = charts.palette(["Acme Finance", "Oakfield Bank", "Unknown", "Zed Credit"])
    assert mixed["Oakfield Bank"] == first["Oakfield Bank"]
    assert mixed["Unknown"] == charts.OTHER_COLOUR
    assert len(set(mixed.values())) == 4
    assert mixed["Acme Finance"] != first["Oakfield Bank"]
