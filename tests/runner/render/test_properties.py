"""The HTML and list formats render whatever a notebook shows: report.html, email.html and
its plain-text alternative, pipeline.csv and pipeline.xlsx, with hostile names in the page
header, blocks, charts and lists, and hundreds of rows.

Invariants: nothing raises; the same notebook gives the same bytes; the data brings no tag
or attribute of its own into either page; email.html keeps within Gmail's 102 KB clip;
email.txt is the email's text, one name to a line, without control characters; the lists
read back as written (formulas quoted, the characters XML forbids left out of the XLSX).
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat import v4

from lib import blocks, charts
from lib.report import pipeline_ageing, pipeline_list
from runner.render import formats
from runner.render.lists import csv_bytes, xlsx_bytes
from runner.render.ooxml import xml_text
from runner.render.plaintext import html_to_text
from tests.fixtures.hostile import (
    AS_AT,
    KEYS,
    SCALAR,
    WEEKLY,
    figure_metrics,
    names_of,
    pipeline_items,
    texts,
)

PROPERTY = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
EMAIL_BUDGET = 102 * 1024  # Gmail clips longer bodies


class _Tags(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def _notebook(m: dict, items: dict, names: list[str], text: str) -> nbformat.NotebookNode:
    ids = [f"001{i:015d}" for i in range(len(names))]
    retailers = {r: {"name": n, "metrics": m} for r, n in zip(ids, names, strict=True)}
    top = names[:10]
    chart = charts.bar("Paid value by retailer", top, [float(10 - i) for i in range(len(top))],
                       unit="money", horizontal=True)  # fmt: skip
    shown = [
        blocks.commentary({"sections": {"summary": text}, "source": "fallback"}, "summary"),
        blocks.kpi_bar(m, [("submissions", "LW"), ("paid_value", "LW"), (AS_AT[1], "as_at")]),
        blocks.period_table(m, SCALAR, WEEKLY),
        blocks.lender_split(m, "LW"),
        blocks.pipeline_view(items, show_retailer=dict(zip(ids, names, strict=True))),
        blocks.ageing_table(pipeline_ageing(items), m),
        blocks.league_table(retailers, ["paid_value", "approval_rate"], WEEKLY),
        blocks.note(text),
    ]
    outputs = []
    for item in [*shown, chart]:
        data, meta = item._repr_mimebundle_()
        outputs.append(v4.new_output("display_data", data, metadata=meta))
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("## Summary"), v4.new_code_cell("", outputs=outputs)]
    return nb


def _context(folder: Path, target: str) -> formats.RenderContext:
    folder.mkdir(parents=True, exist_ok=True)
    return formats.RenderContext(
        folder, "retailer_weekly", "Weekly retailer report", target, "2026-11-22",
        "week ending 22 Nov 2026", "23 Nov 2026 07:00",
    )  # fmt: skip


def _render(nb: nbformat.NotebookNode, folder: Path, target: str) -> dict[str, bytes]:
    ctx = _context(folder, target)
    written = formats.EmailHtml().render(nb, ctx) + formats.ReportHtml().render(nb, ctx)
    return {p.name: p.read_bytes() for p in written}


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> tuple[_Tags, _Tags]:
    """The tags and attributes of both pages when every name is a plain one."""
    names = [f"Retailer {i}" for i in range(12)]
    m = {i: dict.fromkeys(KEYS, 1.0) for i in SCALAR}
    m.update({i: {"as_at": 1} for i in AS_AT})
    m["lender_paid_value"] = {"LW": dict.fromkeys(names, 1.0)}
    m["lender_share"] = {"LW": dict.fromkeys(names, 0.1)}
    item = {"lender": "Northwind Bank", "amount": 1.0, "days": 3, "bucket": "0–7"}
    items = {  # and an empty stage: its table says so across every column
        "ans": [{**item, "ref": f"APP-{i}", "retailer": f"001{i:015d}"} for i in range(12)],
        "snp": [],
    }
    folder = tmp_path_factory.mktemp("benign")
    files = _render(_notebook(m, items, names, "Words."), folder, "Retailer 0")
    return _Tags(files["email.html"].decode()), _Tags(files["report.html"].decode())


def _visible(text: str) -> str:
    """``text`` as the plain-text email shows it: controls gone, whitespace collapsed."""
    kept = (c for c in text if c.isspace() or not (ord(c) < 32 or 0x7F <= ord(c) < 0xA0))
    return " ".join("".join(kept).split())


@given(data=st.data())
@PROPERTY
def test_pages_render_whatever_the_notebook_shows(
    data: st.DataObject, benign: tuple[_Tags, _Tags], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("pages")
    names = data.draw(names_of(most=300))
    m = data.draw(figure_metrics(names))
    items = data.draw(pipeline_items([f"001{i:015d}" for i in range(len(names))]))
    text, target = data.draw(texts()), data.draw(texts())
    nb = _notebook(m, items, names, text)
    files = _render(nb, tmp / "a", target)
    assert files == _render(nb, tmp / "b", target)
    email, report = files["email.html"].decode(), files["report.html"].decode()
    assert len(files["email.html"]) <= EMAIL_BUDGET, len(files["email.html"])
    for page, known in zip((email, report), benign, strict=True):
        tags = _Tags(page)
        assert tags.tags <= known.tags, tags.tags - known.tags
        assert tags.attributes <= known.attributes, tags.attributes - known.attributes
    plain = files["email.txt"].decode()
    assert plain == html_to_text(email)
    assert not [c for c in plain if ord(c) < 32 and c not in "\n\t"]
    assert _visible(target) in " ".join(plain.split())


@given(data=st.data())
@PROPERTY
def test_pipeline_lists_hold_whatever_the_pipeline_holds(data: st.DataObject) -> None:
    """pipeline.csv and pipeline.xlsx of hostile references, lenders and retailer names."""
    names = data.draw(names_of(most=50))
    ids = [f"001{i:015d}" for i in range(len(names))]
    items = data.draw(pipeline_items(ids))
    figures = {
        "pipeline": items,
        "retailers": {r: {"name": n} for r, n in zip(ids, names, strict=True)},
    }
    lst = pipeline_list(figures)
    title = data.draw(texts())
    csv_data, xlsx_data = csv_bytes(lst), xlsx_bytes(lst, title=title)
    assert (csv_data, xlsx_data) == (csv_bytes(lst), xlsx_bytes(lst, title=title))
    rows = list(csv.reader(io.StringIO(csv_data.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(lst.rows) + 1
    for row, typed in zip(rows[1:], lst.rows, strict=True):
        for text, value in zip(row, typed, strict=True):
            if isinstance(value, str):  # formulas are quoted, nothing else is touched
                assert text in (value, "'" + value), (text, value)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_data))["Pipeline"]
    for r, typed in enumerate(lst.rows, start=2):
        for c, value in enumerate(typed, start=1):
            if isinstance(value, str):
                assert (sheet.cell(r, c).value or "") == xml_text(value)
