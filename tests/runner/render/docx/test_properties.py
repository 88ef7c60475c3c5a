"""The Word pack builds whatever the notebook shows: hostile names in headings, commentary,
tables and charts, degenerate values, empty and long tables.

Invariants: nothing raises (python-docx refuses the characters XML forbids: they are
removed at the Word boundary, nothing else is); the same notebook gives the same bytes;
every table keeps to the page with positive column widths; the text reads back.
"""

from __future__ import annotations

import io
from typing import Any

import docx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat import v4

from lib import blocks, charts
from lib.contract import CHART_MIME
from lib.report import pipeline_ageing
from runner.render.docx.document import build, docx_bytes
from runner.render.ooxml import xml_text
from tests.fixtures.hostile import (
    AS_AT,
    SCALAR,
    XML_FORBIDDEN,
    figure_metrics,
    names_of,
    pipeline_items,
    texts,
)

PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


def _output(item: Any) -> dict:
    data, meta = item._repr_mimebundle_()
    return v4.new_output("display_data", data, metadata=meta)


def _chart_output(chart: charts.Chart) -> dict:
    """A printable chart as the Word format reads it (its data; no screen PNG needed)."""
    meta = {"broadsheet": {"kind": "chart", "title": chart.title}, "image/png": {"alt": chart.alt}}
    return v4.new_output("display_data", {CHART_MIME: chart.to_dict()}, metadata=meta)


def _said(text: str) -> str:
    """Text as Word gives it back, compared word by word."""
    return " ".join(xml_text(text).split())


@st.composite
def notebooks(draw: Any) -> tuple[Any, dict[str, str], list[str]]:
    names = draw(names_of())
    ids = [f"001{i:015d}" for i in range(len(names))]
    m = draw(figure_metrics(names))
    items = draw(pipeline_items(ids))
    heading, text, title = draw(texts()), draw(texts()), draw(texts())
    retailers = {r: {"name": n, "metrics": m} for r, n in zip(ids[:12], names, strict=False)}
    rows = [
        (f"m{i}", draw(texts()), "count", draw(texts())) for i in range(draw(st.integers(0, 3)))
    ]
    shown = [
        blocks.commentary({"sections": {"s": text}, "source": "fallback"}, "s", title=title),
        blocks.note(text),
        blocks.comparison_table(
            m, draw(st.lists(st.sampled_from(SCALAR), unique=True)), title=title
        ),
        blocks.split_table(m, "lender", "M"),
        blocks.ageing_table(pipeline_ageing(items), m),
        blocks.as_at_table(m, AS_AT, title=title),
        blocks.league_table(retailers, ["paid_value", "approval_rate"], ("M",), title=title),
        blocks.methodology(rows),
    ]
    top = names[:10]
    chart = charts.bar("Top " + title, top, [float(len(top) - i) for i in range(len(top))],
                       unit="money", horizontal=True)  # fmt: skip
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell(f"## {heading}\n\n{text}\n\n- {title}"),
        v4.new_code_cell("", outputs=[_output(b) for b in shown]),
        v4.new_code_cell("", outputs=[_chart_output(chart)]),
    ]
    meta = {
        "company": draw(texts()),
        "title": "Board pack",
        "period": title,
        "as_of": "2026-10-31",
        "generated_at": "01 Nov 2026 07:00",
    }
    return nb, meta, names


@given(case=notebooks())
@PROPERTY
def test_word_pack_builds_whatever_the_notebook_shows(case: tuple) -> None:
    nb, meta, names = case
    data = docx_bytes(build(nb, meta, dpi=100))
    assert data == docx_bytes(build(nb, meta, dpi=100))
    pack = docx.Document(io.BytesIO(data))
    assert len(pack.inline_shapes) == 1  # the chart, redrawn from its data
    xml = pack.element.xml
    assert not [c for c in XML_FORBIDDEN if c in xml]
    words = " ".join(
        [p.text for p in pack.paragraphs]
        + [c.text for t in pack.tables for r in t.rows for c in r.cells]
    )
    words = " ".join(words.split())
    for name in names[:10]:  # the split table lists every lender, the league the first 12
        assert _said(name) in words, name
    section = pack.sections[0]
    page = section.page_width - section.left_margin - section.right_margin
    for table in pack.tables:
        widths = [col.width for col in table.columns]
        # Word keeps widths in twentieths of a point (635 EMU): each may round up by one.
        assert all(w > 0 for w in widths) and sum(widths) <= page + 635 * len(widths), widths
