"""lib.blocks.tables: every table block checked for its numbers and labels in the three
forms it publishes (interactive HTML, the email form under EMAIL_MIME and the rows under
TABLE_MIME), for names HTML must escape, and for empty or missing figures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import blocks, formatting, metrics, report
from lib.contract import EMAIL_MIME, TABLE_MIME
from tests.lib.blocks.markup import parse
from tests.lib.report.book import A, report_snapshot

NAME = "Smith & Sons <Beds>"
LENDER = "Bank & Co <UK>"

WEEK = {
    "submissions": {"LW": 10, "LW_prev": 8, "MTD": 30, "MTD_prev": 40, "QTD": 90, "QTD_prev": 90, "YTD": 0, "YTD_prev": 0},
    "approval_rate": {"LW": 0.5, "LW_prev": 0.4, "MTD": 0.41, "MTD_prev": 0.4},
    "median_hours_to_decision": {"LW": 3.0, "LW_prev": 4.0},
}  # fmt: skip
MONTH = {
    "submissions": {"M": 4, "M_prev": 2, "M_ly": 1, "YTD": 10, "YTD_prev": 10},
    "paid_value": {"M": 3000.0, "M_prev": 250.0, "M_ly": 600.0, "YTD": 3250.0, "YTD_prev": None},
    "lender_paid_value": {
        "M": {LENDER: 600.0, "Northwind Bank": 400.0},
        "M_prev": {"Northwind Bank": 500.0, "Oakfield Bank": 500.0},
    },
    "lender_share": {
        "M": {LENDER: 0.6, "Northwind Bank": 0.4},
        "M_prev": {"Northwind Bank": 0.5, "Oakfield Bank": 0.5},
    },
    "product_paid_value": {"M": {"Interest Free": 1000.0}, "M_ly": {"Interest Free": 800.0}},
    "product_share": {"M": {"Interest Free": 1.0}, "M_ly": {"Interest Free": 1.0}},
    "pipeline_ans_count": {"as_at": 2},
    "pipeline_ans_value": {"as_at": 3800.0},
    "pipeline_snp_count": {"as_at": 1},
    "pipeline_snp_value": {"as_at": 500.0},
}
RETAILERS = {
    "R1": {"name": NAME, "metrics": {"submissions": {"M": 3, "M_prev": 1}, "paid_value": {"M": 1000.0, "M_prev": 250.0}}},
    "R2": {"name": "Ace Sofas", "metrics": {"submissions": {"M": 1, "M_prev": 1}, "paid_value": {"M": 2000.0}}},
    "R3": {"name": "Zed Kitchens", "metrics": {"submissions": {"M": 0}}},
    "R4": {"name": "Quiet Ltd", "metrics": {}},
}  # fmt: skip
PIPELINE = {
    "ans": [
        {"ref": "APP-A5", "lender": "Northwind Bank", "amount": 800.0, "days": 11, "bucket": "8–30", "retailer": "R2"},
        {"ref": "APP-A6", "lender": LENDER, "amount": 3000.0, "days": 120, "bucket": "90+", "retailer": "R3"},
    ],
    "snp": [
        {"ref": "APP-A2", "lender": "Oakfield Bank", "amount": 500.0, "days": 19, "bucket": "8–30", "retailer": "R1"},
    ],
}  # fmt: skip


def forms(block: blocks.Block) -> tuple[list, list, dict[str, Any] | None]:
    """The HTML tables, the email tables and the TABLE_MIME payload of a block."""
    data = block._repr_mimebundle_()[0]
    return parse(data["text/html"]).tables, parse(data[EMAIL_MIME]).tables, data.get(TABLE_MIME)


# ----------------------------------------------------------------------------- period table


def test_period_table():
    html, email, table = forms(
        blocks.period_table(WEEK, ["submissions", "approval_rate", "median_hours_to_decision"])
    )
    assert table == {
        "title": "Period summary",
        "columns": [
            "Metric",
            "Last week", "Last week (previous)", "Change",
            "Month to date", "Month to date (previous)", "Change",
            "Quarter to date", "Quarter to date (previous)", "Change",
            "Year to date", "Year to date (previous)", "Change",
        ],
        "rows": [
            ["Submissions", "10", "8", "▲ 25.0%", "30", "40", "▼ 25.0%", "90", "90", "▶ 0.0%", "0", "0", "–"],
            ["Approval rate", "50.0%", "40.0%", "▲ 10.0 pp", "41.0%", "40.0%", "▲ 1.0 pp", "–", "–", "–", "–", "–", "–"],
            # Lower is better: fewer hours is good news.
            ["Median hours to decision", "3.0 h", "4.0 h", "▼ 25.0%", "–", "–", "–", "–", "–", "–", "–", "–", "–"],
        ],
        "lights": [
            [None, None, None, "green", None, None, "red", None, None, "amber", None, None, "none"],
            [None, None, None, "green", None, None, "amber", None, None, "none", None, None, "none"],
            [None, None, None, "green", None, None, "none", None, None, "none", None, None, "none"],
        ],
        "caption": None,
        "empty": None,
    }  # fmt: skip
    assert html[0][0] == table["columns"]
    assert html[0][1][:4] == ["Submissions", "10", "8", "▲ 25.0% ● Better"]
    # The email keeps the first two windows: 640 px holds seven columns.
    assert email == [
        [
            ["Metric", "Last week", "Change", "Month to date", "Change"],
            ["Submissions", "10", "▲ 25.0% ● Better", "30", "▼ 25.0% ● Worse"],
            ["Approval rate", "50.0%", "▲ 10.0 pp ● Better", "41.0%", "▲ 1.0 pp ● Steady"],
            ["Median hours to decision", "3.0 h", "▼ 25.0% ● Better", "–", "–"],
        ]
    ]


def test_period_table_compare_title_and_limits():
    block = blocks.period_table(
        MONTH,
        ["submissions"],
        ["M"],
        compare={"M": "M_ly"},
        title="Month & year",
        limits=formatting.Thresholds(pct=5.0),
    )
    _, email, table = forms(block)
    assert table["title"] == "Month & year" and block.text == "Month & year"
    assert table["columns"] == ["Metric", "Month", "Same month last year", "Change"]
    assert table["rows"] == [["Submissions", "4", "1", "▲ 300.0%"]]
    assert table["lights"][0][3] == "amber"  # +300% is under a 500% threshold
    assert email[0][0] == ["Metric", "Month", "Change"]
    assert "<h3>Month &amp; year</h3>" in block.html


def test_period_table_with_no_figures():
    _, email, table = forms(blocks.period_table({}, ["submissions", "paid_value"], ["LW"]))
    assert table["rows"] == [["Submissions", "–", "–", "–"], ["Paid value", "–", "–", "–"]]
    assert email[0][1] == ["Submissions", "–", "–"]  # one mark for an undefined change
    _, _, none = forms(blocks.period_table(WEEK, [], ["LW"]))
    assert none["rows"] == []


cell_values = st.one_of(st.none(), st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))


@settings(max_examples=40, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from(["LW", "LW_prev", "MTD", "MTD_prev", "YTD", "YTD_prev"]), cell_values
    ),
    windows=st.lists(st.sampled_from(["LW", "MTD", "YTD"]), min_size=1, max_size=3, unique=True),
)
def test_period_table_forms_agree(values, windows):
    figures = {"submissions": values, "paid_value": values}
    html, email, table = forms(blocks.period_table(figures, ["submissions", "paid_value"], windows))
    assert len(table["columns"]) == 1 + 3 * len(windows)
    # The interactive table shows the published rows, plus each light's label.
    assert html[0][0] == table["columns"]
    for shown, row, lights in zip(html[0][1:], table["rows"], table["lights"], strict=True):
        # A light with nothing to judge ("none") adds no label to the "–" already shown.
        words = [formatting.Light(x).label if x and x != "none" else None for x in lights]
        assert shown == [t if w is None else f"{t} {w}" for t, w in zip(row, words, strict=True)]
    for row in table["rows"]:
        for i, w in enumerate(windows):
            assert row[1 + 3 * i] == formatting.value(
                values.get(w), "count" if row[0] == "Submissions" else "money"
            )
    assert len(email[0][0]) == 1 + 2 * min(2, len(windows))  # fmt: skip


# ----------------------------------------------------------------------------- splits


def test_lender_split():
    block = blocks.lender_split(MONTH, "M")
    html, email, table = forms(block)
    assert table == {
        "title": "Lender split · Month",
        "columns": ["Lender", "Paid value", "Previous month", "Share", "Share, previous month", "Share change"],
        "rows": [
            [LENDER, "£600", "–", "60.0%", "–", "–"],
            ["Northwind Bank", "£400", "£500", "40.0%", "50.0%", "▼ 10.0 pp"],
            ["Oakfield Bank", "–", "£500", "–", "50.0%", "–"],
        ],
        "lights": [[None] * 5 + ["none"], [None] * 5 + ["red"], [None] * 5 + ["none"]],
        "caption": None,
        "empty": "No payouts in this period or the one compared.",
    }  # fmt: skip
    assert email == html
    assert html[0][1][0] == LENDER  # escaped in the markup, read back whole
    assert "Bank &amp; Co &lt;UK&gt;" in block.html
    assert "data-sortable" in block.html and "data-sortable" not in block._repr_mimebundle_()[0][EMAIL_MIME]  # fmt: skip


def test_split_table_by_product_against_last_year():
    _, _, table = forms(blocks.split_table(MONTH, "product", "M", compare="M_ly"))
    assert table["title"] == "Product family split · Month against same month last year"
    assert table["columns"] == [
        "Product family",
        "Paid value",
        "Same month last year",
        "Share",
        "Share, same month last year",
        "Share change",
    ]
    assert table["rows"] == [["Interest Free", "£1,000", "£800", "100.0%", "100.0%", "▶ 0.0 pp"]]
    titled = blocks.lender_split(MONTH, "M", title="Lenders", compare="M_ly")
    assert forms(titled)[2]["rows"][0] == [LENDER, "£600", "–", "60.0%", "–", "–"]


def test_split_table_with_no_payouts():
    html, _, table = forms(blocks.split_table({}, "lender", "LW"))
    assert table["title"] == "Lender split · Last week against last week (previous)"
    assert table["rows"] == []
    assert html[0][1] == ["No payouts in this period or the one compared."]


# ----------------------------------------------------------------------------- comparison table


def test_comparison_table():
    html, email, table = forms(blocks.comparison_table(MONTH, ["submissions", "paid_value"]))
    assert table["title"] == "Month summary"
    assert table["columns"] == [
        "Metric", "Month", "Previous month", "Change", "Same month last year", "Change",
        "Year to date", "Year to date (previous)", "Change",
    ]  # fmt: skip
    assert table["rows"] == [
        ["Submissions", "4", "2", "▲ 100.0%", "1", "▲ 300.0%", "10", "10", "▶ 0.0%"],
        ["Paid value", "£3,000", "£250", "▲ 1,100.0%", "£600", "▲ 400.0%", "£3,250", "–", "–"],
    ]
    assert table["lights"][1] == [None, None, None, "green", None, "green", None, None, "none"]
    assert email[0][0] == [
        "Metric", "Month", "Previous month", "Change", "Same month last year", "Change",
    ]  # fmt: skip
    assert email[0][1] == ["Submissions", "4", "2", "▲ 100.0% ● Better", "1", "▲ 300.0% ● Better"]


def test_comparison_table_shows_each_window_once():
    pairs = (("M", "M_prev"), ("YTD", "YTD_prev"), ("M", "M_ly"))
    _, email, table = forms(
        blocks.comparison_table(MONTH, ["submissions"], pairs, email_comparisons=1)
    )
    assert table["columns"] == [
        "Metric", "Month", "Previous month", "Change", "Year to date", "Year to date (previous)",
        "Change", "Same month last year", "Change",
    ]  # fmt: skip
    assert table["rows"] == [["Submissions", "4", "2", "▲ 100.0%", "10", "10", "▶ 0.0%", "1", "▲ 300.0%"]]  # fmt: skip
    assert email[0][0] == ["Metric", "Month", "Previous month", "Change"]


# ----------------------------------------------------------------------------- league table


def test_league_table():
    block = blocks.league_table(
        RETAILERS,
        ["submissions", "paid_value"],
        ["M", "M_prev"],
        extra_columns={"BDM": {"R1": "Bea & Co"}},
        email_top=2,
    )
    html, email, table = forms(block)
    # Published: the first window's table, every retailer, by name.
    assert table["title"] == "Retailer league table · Month"
    assert table["columns"] == ["Retailer", "BDM", "Submissions", "Paid value"]
    assert table["rows"] == [
        ["Ace Sofas", "–", "1", "£2,000"],
        ["Quiet Ltd", "–", "–", "–"],
        [NAME, "Bea & Co", "3", "£1,000"],
        ["Zed Kitchens", "–", "0", "–"],
    ]
    # One panel per window, the first shown.
    assert [t[0][0] for t in html] == ["Retailer"] * 2
    assert html[1][1:] == [
        ["Ace Sofas", "–", "1", "–"],
        ["Quiet Ltd", "–", "–", "–"],
        [NAME, "Bea & Co", "1", "£250"],
        ["Zed Kitchens", "–", "–", "–"],
    ]
    page = parse(block.html)
    assert [o["value"] for o in page.elements("option")] == ["M", "M_prev"]
    assert "Retailer league table · Previous month" in page.text
    panels = [d for d in page.elements("div") if "data-switch-group" in d]
    assert [("hidden" in d) for d in panels] == [False, True]
    # The email: the top retailers by the first metric; unknown values last.
    assert email == [
        [
            ["Retailer", "BDM", "Submissions", "Paid value"],
            [NAME, "Bea & Co", "3", "£1,000"],
            ["Ace Sofas", "–", "1", "£2,000"],
        ]
    ]
    assert "Top 2 retailers · Month" in parse(block._repr_mimebundle_()[0][EMAIL_MIME]).text
    assert "Smith &amp; Sons &lt;Beds&gt;" in block.html and "<Beds>" not in block.html


def test_league_table_of_bdms_and_of_nobody():
    bdms = {"U1": {"name": "Bea One", "metrics": {"paid": {"LW": 2}}}}
    _, _, table = forms(
        blocks.league_table(bdms, ["paid"], ["LW"], name_column="BDM", title="BDMs")
    )
    assert table["title"] == "BDMs · Last week"
    assert table["columns"] == ["BDM", "Paid"] and table["rows"] == [["Bea One", "2"]]
    html, email, empty = forms(blocks.league_table({}, ["paid"]))
    assert empty["rows"] == []
    assert html[0][1] == ["Nothing to show for this period."]
    assert email[0][1] == ["Nothing to show for this period."]


# ----------------------------------------------------------------------------- pipeline view


def test_pipeline_view():
    block = blocks.pipeline_view(PIPELINE, show_retailer={"R1": NAME, "R2": "Ace Sofas"})
    data = block._repr_mimebundle_()[0]
    assert TABLE_MIME not in data and block.text == "Pipeline"
    page = parse(block.html)
    header = ["Reference", "Retailer", "Lender", "Amount", "Days waiting", "Age"]
    # Oldest first; R3 is not in the names given, so it shows no name.
    assert page.tables == [
        [
            header,
            ["APP-A6", "–", LENDER, "£3,000", "120", "90+"],
            ["APP-A5", "Ace Sofas", "Northwind Bank", "£800", "11", "8–30"],
        ],
        [header, ["APP-A2", NAME, "Oakfield Bank", "£500", "19", "8–30"]],
    ]
    assert "2 applications, £3,800" in page.text and "1 application, £500" in page.text
    assert [o["value"] for o in page.elements("option")] == ["ans", "snp"]
    panels = [d for d in page.elements("div") if "data-switch-group" in d]
    assert [(d["data-switch-value"], "hidden" in d) for d in panels] == [("ans", False), ("snp", True)]  # fmt: skip
    assert "<Beds>" not in block.html and "<UK>" not in block.html


def test_pipeline_view_email_lists_the_oldest():
    block = blocks.pipeline_view(PIPELINE, email_rows=1)
    markup = block._repr_mimebundle_()[0][EMAIL_MIME]
    email = parse(markup)
    header = ["Reference", "Lender", "Amount", "Days waiting", "Age"]
    assert email.tables == [
        [header, ["APP-A6", LENDER, "£3,000", "120", "90+"]],
        [header, ["APP-A2", "Oakfield Bank", "£500", "19", "8–30"]],
    ]
    # Only the stage with more items than the email lists says so.
    assert "2 applications, £3,800 (oldest 1 shown)" in email.text
    assert "1 application, £500" in email.text and email.text.count("oldest") == 1
    assert "<select" not in markup and "data-switch" not in markup


def test_pipeline_view_of_nothing():
    block = blocks.pipeline_view({"ans": []})
    page = parse(block.html)
    assert [t[1] for t in page.tables] == [["Nothing waiting at this stage."]] * 2
    assert page.text.count("0 applications, £0") == 2
    odd = blocks.pipeline_view({"snp": [{"ref": "X", "amount": None, "days": None}]})
    assert parse(odd.html).tables[1][1] == ["X", "", "–", "–", ""]


# ----------------------------------------------------------------------------- ageing, as at, methodology


# As the board pack builds it (tests/lib/report/test_board.py pins these buckets).
AGEING = report.pipeline_ageing(PIPELINE)


def test_ageing_table():
    html, email, table = forms(blocks.ageing_table(AGEING, MONTH))
    assert table["title"] == "Pipeline by age"
    assert table["columns"] == [
        "Days waiting",
        "Approved but not signed (number)",
        "Approved but not signed (value)",
        "Signed but not paid (number)",
        "Signed but not paid (value)",
    ]
    assert table["rows"] == [
        ["0–7", "0", "£0", "0", "£0"],
        ["8–30", "1", "£800", "1", "£500"],
        ["31–90", "0", "£0", "0", "£0"],
        ["90+", "1", "£3,000", "0", "£0"],
        ["Total", "2", "£3,800", "1", "£500"],  # the as-at metrics
    ]
    assert email == html


def test_ageing_table_totals_match_the_buckets_on_the_book():
    """As the board pack builds it: the buckets and the as-at metrics agree."""
    fig = report.figures("board", report_snapshot(), report.Target("none", "", ""), A, ["M"])
    block = blocks.ageing_table(report.pipeline_ageing(fig["pipeline"]), fig["metrics"])
    *buckets, total = block.table.to_json()["rows"]
    assert total == ["Total", "2", "£3,800", "1", "£500"]
    assert [r[1] for r in buckets] == ["0", "1", "0", "1"]


def test_ageing_table_of_nothing():
    _, _, table = forms(blocks.ageing_table({}, {}, title="Ageing"))
    assert table["title"] == "Ageing"
    assert table["rows"] == [["Total", "–", "–", "–", "–"]]


def test_as_at_table():
    ids = ["pipeline_ans_count", "pipeline_ans_value", "inactive_retailers"]
    _, email, table = forms(blocks.as_at_table(MONTH, ids, title="Pipeline", as_of="2026-03-31"))
    assert table["columns"] == ["Metric", "As at 2026-03-31"]
    assert table["rows"] == [
        ["Approved but not signed", "2"],
        ["Approved but not signed (value)", "£3,800"],
        ["Inactive retailers", "–"],
    ]
    assert email[0] == [table["columns"], *table["rows"]]
    assert forms(blocks.as_at_table({}, ids[:1], title="P"))[2]["columns"] == ["Metric", "As at"]


def test_methodology():
    rows = metrics.registry_rows()
    html, _, table = forms(blocks.methodology(rows))
    assert table["title"] == "Metric definitions"
    assert table["columns"] == ["Id", "Metric", "Unit", "Definition"]
    assert table["rows"] == [list(r) for r in rows]  # verbatim
    assert table["rows"][0][:3] == ["submissions", "Submissions", "count"]
    assert html[0][1:] == table["rows"]
    odd = blocks.methodology([("x", "A & B", "count", "Paid ≤ A < B")], title="Terms")
    assert parse(odd.html).tables[0][1] == ["x", "A & B", "count", "Paid ≤ A < B"]
    assert "A &lt; B" in odd.html


@pytest.mark.parametrize(
    "make",
    [
        lambda: blocks.period_table({}, ["paid"]),
        lambda: blocks.lender_split({}, "M"),
        lambda: blocks.comparison_table({}, ["paid"]),
        lambda: blocks.league_table({}, ["paid"]),
        lambda: blocks.ageing_table({}, {}),
        lambda: blocks.as_at_table({}, ["pipeline_ans_count"], title="P"),
        lambda: blocks.methodology([]),
    ],
)
def test_every_table_block_publishes_email_and_rows(make):
    data = make()._repr_mimebundle_()[0]
    assert set(data) == {"text/html", "text/plain", EMAIL_MIME, TABLE_MIME}
    assert "<script" not in data[EMAIL_MIME] and "data-switch" not in data[EMAIL_MIME]
    assert set(data[TABLE_MIME]) == {"title", "columns", "rows", "lights", "caption", "empty"}
