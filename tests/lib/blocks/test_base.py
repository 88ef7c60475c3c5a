"""lib.blocks.base: window labels, thresholds, the Table and Block types and what a
block publishes under each MIME type."""

from __future__ import annotations

import pytest

from lib import blocks, formatting
from lib.blocks.base import Block, Cell, Table, html_of, metric_value, render_macro, sort_key
from lib.contract import EMAIL_MIME, TABLE_MIME
from lib.errors import ConfigError
from tests.lib.blocks.markup import parse


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("LW", "Last week"),
        ("MTD", "Month to date"),
        ("QTD", "Quarter to date"),
        ("YTD", "Year to date"),
        ("M", "Month"),
        ("as_at", "As at"),
        ("LW_prev", "Last week (previous)"),
        ("YTD_prev", "Year to date (previous)"),
        ("M_prev", "Previous month"),
        ("M_ly", "Same month last year"),
        ("Q9", "Q9"),  # unknown keys read as themselves
        ("Q9_prev", "Q9 (previous)"),
    ],
)
def test_window_label(key, label):
    assert blocks.window_label(key) == label


def test_prev_key():
    assert blocks.prev_key("LW") == "LW_prev"
    assert blocks.prev_key("M") == "M_prev"


def test_thresholds():
    assert blocks.thresholds(None) == formatting.DEFAULT_THRESHOLDS
    assert blocks.thresholds({}) == formatting.Thresholds(0.05, 0.02)
    assert blocks.thresholds({"pct": 0.1}) == formatting.Thresholds(pct=0.1, pp=0.02)
    with pytest.raises(ConfigError, match="thresholds.pp"):
        blocks.thresholds({"pp": -0.5})


def test_metric_value_and_sort_key():
    figures = {"paid": {"M": 3}, "avg_loan": None}
    assert metric_value(figures, "paid", "M") == 3
    assert metric_value(figures, "paid", "LW") is None
    assert metric_value(figures, "avg_loan", "M") is None
    assert metric_value(figures, "nope", "M") is None
    assert [sort_key(v) for v in (None, 3, 2.5, 0, "Zed")] == ["", 3.0, 2.5, 0.0, "Zed"]
    assert type(sort_key(3)) is float


def test_table_to_json():
    table = Table(
        "Split & <share>",
        ["Lender", "Share"],
        [[Cell("A & B"), Cell("50.0%", 0.5, formatting.Light.GREEN)], [Cell("C"), Cell("–")]],
        caption="2 lenders",
    )
    assert table.to_json() == {
        "title": "Split & <share>",  # text, not HTML: the Word pack escapes it itself
        "columns": ["Lender", "Share"],
        "rows": [["A & B", "50.0%"], ["C", "–"]],
        "lights": [[None, "green"], [None, None]],
        "caption": "2 lenders",
        "empty": None,
    }


def test_block_mimebundle():
    table = Table("T", ["A"], [[Cell("1")]])
    data, meta = Block(
        "<p>x</p>", "<p>e</p>", table, text="T", extra={"x/y": 1}
    )._repr_mimebundle_()
    assert data == {
        "text/html": "<p>x</p>",
        "text/plain": "T",
        EMAIL_MIME: "<p>e</p>",
        TABLE_MIME: table.to_json(),
        "x/y": 1,
    }
    assert meta == {}
    # Report-only blocks publish no email form; text/plain is never empty.
    assert Block("<p>x</p>")._repr_mimebundle_()[0] == {
        "text/html": "<p>x</p>",
        "text/plain": "[block]",
    }


def test_html_of():
    assert html_of(Block("<b>block</b>")) == "<b>block</b>"
    assert html_of("<i>already html</i>") == "<i>already html</i>"

    class Chartish:
        def _repr_mimebundle_(self, include=None, exclude=None):
            assert include == ["text/html"]  # the PNG is never drawn for HTML
            return {"text/html": "<div>chart</div>"}, {}

    assert html_of(Chartish()) == "<div>chart</div>"


def test_table_macro_escapes_and_marks_up():
    table = Table(
        "Lenders & <friends>",
        ["Name", "Value"],
        [[Cell("<script>x</script>", "<s>"), Cell("£1", 1.0, formatting.Light.RED)]],
        caption="A & B",
    )
    html = render_macro("table", table, sortable=True)
    assert "<script>" not in html
    page = parse(html)
    assert page.tables == [[["Name", "Value"], ["<script>x</script>", "£1 ● Worse"]]]
    assert "Lenders & <friends>" in page.text and "A & B" in page.text
    assert page.elements("table")[0] == {"class": "bs-table", "data-sortable": None}
    assert page.elements("th")[2]["data-sort-value"] == "<s>"
    assert page.elements("td")[0] == {"data-sort-value": "1.0", "class": "bs-light-red"}


def test_table_macro_empty_message():
    empty = parse(render_macro("table", Table("T", ["A", "B", "C"], [])))
    assert empty.tables == [[["A", "B", "C"], ["Nothing to show for this period."]]]
    assert empty.elements("td")[0]["colspan"] == "3"
    custom = parse(render_macro("table", Table("T", ["A"], [], empty="No payouts & no loss.")))
    assert custom.tables[0][1] == ["No payouts & no loss."]
