"""lib.blocks.cards: the KPI bar, commentary, switchers, panels, tabs, notes and printable
charts, each checked for what a reader sees in the report and in the email."""

from __future__ import annotations

from lib import blocks, charts, formatting
from lib.contract import CHART_MIME, EMAIL_MIME, TABLE_MIME, TEXT_MIME
from tests.lib.blocks.markup import parse

METRICS = {
    "submissions": {"M": 4, "M_prev": 2, "M_ly": 1},
    "paid_value": {"M": 3000.0, "M_prev": 250.0, "M_ly": 600.0},
    "median_hours_to_decision": {"M": 6.0, "M_prev": 4.0},
    "pipeline_ans_count": {"as_at": 2},
}
ITEMS = [
    ("submissions", "M"),
    ("paid_value", "M"),
    ("median_hours_to_decision", "M"),
    ("pipeline_ans_count", "as_at"),
]
NAME = "Smith & Sons <Beds>"


def bundle(block) -> dict:
    return block._repr_mimebundle_()[0]


# ----------------------------------------------------------------------------- KPI bar


def test_kpi_bar_text():
    bar = blocks.kpi_bar(METRICS, ITEMS, as_of="2026-03-31")
    assert bar.text == (
        "Submissions · Month: 4 (▲ 100.0%); "
        "Paid value · Month: £3.0k (▲ 1,100.0%); "
        "Median hours to decision · Month: 6.0 h (▲ 50.0%); "
        "Approved but not signed: 2 (–)"
    )


def test_kpi_bar_html():
    bar = blocks.kpi_bar(METRICS, ITEMS, as_of="2026-03-31")
    page = parse(bar.html)
    assert [a["class"] for a in page.elements("div")].count("bs-kpi") == 4
    assert "Submissions · Month 4 ▲ 100.0% vs previous (2) ● Better" in page.text
    assert "Paid value · Month £3.0k ▲ 1,100.0% vs previous (£250) ● Better" in page.text
    # Lower is better: more hours is bad news, whatever the arrow says.
    assert "6.0 h ▲ 50.0% vs previous (4.0 h) ● Worse" in page.text
    # As-at cards say when, and judge nothing.
    assert "Approved but not signed 2 as at 31 Mar 2026" in page.text
    lights = [a["class"] for a in page.elements("span")]
    assert lights == ["bs-light bs-light-green", "bs-light bs-light-green", "bs-light bs-light-red"]


def test_kpi_bar_email():
    data = bundle(blocks.kpi_bar(METRICS, ITEMS, as_of="2026-03-31"))
    assert TABLE_MIME not in data
    email = parse(data[EMAIL_MIME])
    assert email.elements("table")[0]["role"] == "presentation"
    assert [td["width"] for td in email.elements("td")] == ["25%"] * 4
    assert email.tables == [
        [
            [
                "Submissions · Month 4 ▲ 100.0% vs previous ● Better",
                "Paid value · Month £3.0k ▲ 1,100.0% vs previous ● Better",
                "Median hours to decision · Month 6.0 h ▲ 50.0% vs previous ● Worse",
                "Approved but not signed 2 as at 31 Mar 2026",
            ]
        ]
    ]
    assert "<script" not in data[EMAIL_MIME]


def test_kpi_bar_compare_and_limits():
    ly = blocks.kpi_bar(METRICS, [("submissions", "M")], compare="M_ly")
    assert ly.text == "Submissions · Month: 4 (▲ 300.0%)"
    assert "vs previous (1)" in parse(ly.html).text
    # A 100% rise under a 200% threshold is steady.
    steady = blocks.kpi_bar(METRICS, [("submissions", "M")], limits=formatting.Thresholds(pct=2.0))
    assert "● Steady" in parse(steady.html).text


def test_kpi_bar_zero_none_and_missing():
    figures = {"submissions": {"LW": 0, "LW_prev": 0}, "paid_value": {"LW": None}}
    bar = blocks.kpi_bar(figures, [("submissions", "LW"), ("paid_value", "LW"), ("paid", "LW")])
    assert bar.text == (
        "Submissions · Last week: 0 (–); Paid value · Last week: – (–); Paid · Last week: – (–)"
    )
    # An undefined change reads "–" once: no light's "– n/a" beside it.
    assert "n/a" not in parse(bar.html).text
    assert parse(bar.html).text.count("– vs previous") == 3
    # Without as_of an as-at card says "today".
    assert "as at today" in parse(blocks.kpi_bar({}, [("pipeline_snp_count", "as_at")]).html).text
    assert blocks.kpi_bar({}, []).text == ""


# ----------------------------------------------------------------------------- commentary


def test_commentary():
    figures = {
        "sections": {"summary": f"{NAME} grew.\n\nPipeline <b>steady</b>."},
        "source": "fallback",
    }
    block = blocks.commentary(figures, "summary", title="Summary & outlook")
    data = bundle(block)
    page = parse(block.html)
    assert [t for t, _ in page.tags] == ["div", "strong", "br", "p", "p", "div"]  # no <b>
    assert page.text == (
        "Summary & outlook Smith & Sons <Beds> grew. Pipeline <b>steady</b>. "
        "Commentary written automatically from the figures."
    )
    assert data[EMAIL_MIME] == block.html
    assert data[TEXT_MIME] == {
        "kind": "commentary",
        "section": "summary",
        "title": "Summary & outlook",
        "text": f"{NAME} grew.\n\nPipeline <b>steady</b>.",
        "source": "fallback",
    }
    assert block.text == f"{NAME} grew.\n\nPipeline <b>steady</b>."


def test_commentary_source_per_section_and_missing_section():
    figures = {"sections": {"a": "Checked."}, "sources": {"a": "ai"}, "source": "fallback"}
    assert (
        "AI commentary, checked against the figures."
        in parse(blocks.commentary(figures, "a").html).text
    )
    missing = blocks.commentary(figures, "b")
    assert missing.text == ""
    assert bundle(missing)[TEXT_MIME]["source"] == "fallback"
    assert parse(missing.html).text == "Commentary written automatically from the figures."
    assert blocks.commentary({}, "a").text == ""


# ----------------------------------------------------------------------------- switch, panels, tabs


def test_switch():
    block = blocks.switch(
        "retailer", "Retailer", [("R1", NAME), ("R2", "Ace Sofas")], selected="R2"
    )
    page = parse(block.html)
    assert page.elements("select") == [{"id": "bs-switch-retailer", "data-switch": "retailer"}]
    assert page.elements("option") == [{"value": "R1"}, {"value": "R2", "selected": None}]
    assert page.text == "Retailer Smith & Sons <Beds> Ace Sofas"
    assert "&amp; Sons &lt;Beds&gt;" in block.html
    assert EMAIL_MIME not in bundle(block)  # report only
    assert block.text == "Retailer"


def test_panels_nest_html_unescaped_once():
    one, two = blocks.note(NAME), blocks.note("Two")
    block = blocks.panels("retailer", {"R1": [one], "R2": [two, one]}, selected="R2")
    page = parse(block.html)
    assert page.elements("div") == [
        {"data-switch-group": "retailer", "data-switch-value": "R1", "hidden": None},
        {"data-switch-group": "retailer", "data-switch-value": "R2"},
    ]
    assert page.text == f"{NAME} Two {NAME}"  # escaped once, not twice
    assert "&amp;amp;" not in block.html
    assert block.text == "2 panels" and EMAIL_MIME not in bundle(block)


def test_tabs_with_a_chart():
    chart = charts.bar("Paid & <value>", ["A & B"], [1.0], unit="money", alt="one bar")
    block = blocks.tabs(
        "view", [("one", "One & <two>", [blocks.note("x")]), ("c", "Chart", [chart])]
    )
    page = parse(block.html)
    assert [b["aria-selected"] for b in page.elements("button")] == ["true", "false"]
    assert page.elements("section") == [
        {"data-tab-panel": "one", "role": "tabpanel"},
        {"data-tab-panel": "c", "role": "tabpanel", "hidden": None},
    ]
    assert page.text.startswith("One & <two> Chart x")
    assert chart.html() in block.html
    assert block.text == "tabs" and EMAIL_MIME not in bundle(block)


def test_empty_panels_and_tabs():
    assert parse(blocks.panels("g", {}, selected="x").html).tags == []
    assert [t for t, _ in parse(blocks.tabs("g", []).html).tags] == ["div", "div"]


# ----------------------------------------------------------------------------- note, printable


def test_note():
    block = blocks.note(NAME)
    data = bundle(block)
    assert block.html == '<p class="bs-note">Smith &amp; Sons &lt;Beds&gt;</p>'
    assert data[EMAIL_MIME] == block.html
    assert data[TEXT_MIME] == {"kind": "note", "text": NAME}
    assert data["text/plain"] == NAME


def test_printable_carries_the_chart_data():
    chart = charts.bar("Paid value", [NAME, "Ace Sofas"], [1000.0, None], unit="money")
    item = blocks.printable(chart)
    assert isinstance(item, blocks.Printable) and item.chart is chart
    data, meta = item._repr_mimebundle_(include=["text/html", CHART_MIME])
    chart_data, chart_meta = chart._repr_mimebundle_(include=["text/html"])
    assert data == {"text/html": chart_data["text/html"], CHART_MIME: chart.to_dict()}
    assert meta == chart_meta
    assert data[CHART_MIME]["categories"] == [NAME, "Ace Sofas"]
