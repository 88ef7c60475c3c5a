"""The Word board pack: read back with python-docx, and converted to PDF by LibreOffice.

The end-to-end tests read the board pack the real runner wrote once per session
(``tests/fixtures/reports.py``); every table cell is checked against ``figures.json``
formatted here with ``lib/formatting.py``. The unit tests build small notebooks in memory.
"""

from __future__ import annotations

import base64
import io
import re

import docx
import nbformat
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from nbformat import v4
from PIL import Image

from lib import charts, metrics
from lib import formatting as fmt
from lib.contract import CHART_MIME, TABLE_MIME, TEXT_MIME
from lib.settings import Settings
from runner import declarations
from runner.render import formats as render
from runner.render.docx.document import SHADING, Docx, build

SECTIONS = [
    "Summary",
    "Volumes",
    "Funnel and conversion",
    "Lenders",
    "Products",
    "Retailers and concentration",
    "BDMs",
    "Pipeline",
    "Operations and timeliness",
    "Commission",
    "Appendix: methodology",
]
# Column headings of the comparison tables, mapped to window keys without lib.blocks.
WINDOWS = {
    "Month": "M",
    "Previous month": "M_prev",
    "Same month last year": "M_ly",
    "Year to date": "YTD",
    "Year to date (previous)": "YTD_prev",
}
META = {
    "company": "Larkspur Retail Finance",
    "title": "Board pack",
    "period": "October 2026",
    "as_of": "2026-10-31",
    "generated_at": "01 Nov 2026 07:00",
}


# ---------------------------------------------------------------------------- helpers


def body(document) -> list[Paragraph | Table]:
    """Body paragraphs and tables in document order."""
    return list(document.iter_inner_content())


def titled_tables(document) -> list[tuple[str, Table]]:
    """Each table with the title of its ``Table N: title`` paragraph, numbered in order."""
    out, title, numbered = [], None, 0
    for item in body(document):
        if isinstance(item, Paragraph) and item.style.name == "BS Table Title":
            m = re.match(r"^Table (\d+): (.*)$", item.text)
            if m:  # an empty table keeps its number and title, with a note instead of rows
                numbered += 1
                assert int(m.group(1)) == numbered, item.text
                title = m.group(2)
        elif isinstance(item, Table):
            assert title is not None, "every table has a numbered title"
            out.append((title, item))
            title = None
    return out


def grid(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def fill(cell) -> str | None:
    shd = cell._tc.tcPr.find(qn("w:shd")) if cell._tc.tcPr is not None else None
    return None if shd is None else shd.get(qn("w:fill"))


class Checker:
    """Compares Word table cells with figures.json values formatted independently."""

    def __init__(self, figures: dict, thresholds: fmt.Thresholds) -> None:
        self.fig = figures
        self.m = figures["metrics"]
        self.limits = thresholds
        self.by_label = {metrics.get(i).label: metrics.get(i) for i in metrics.REGISTRY}
        self.cells = 0

    def value(self, cell, expected: str) -> None:
        assert cell.text == expected
        if expected != fmt.DASH and re.match(r"^-?[£\d]", expected):
            assert cell.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT, expected
        self.cells += 1

    def change(self, cell, cur, prev, unit: str, higher_is_better: bool = True) -> None:
        light = fmt.traffic_light(cur, prev, unit, self.limits, higher_is_better=higher_is_better)
        delta = fmt.delta(cur, prev, unit)
        if light in SHADING:
            assert cell.text == f"{delta}\n{light.word}"
            assert fill(cell) == SHADING[light]
        else:
            assert cell.text == delta and fill(cell) is None
        self.cells += 1

    def restated(self, rows: list, table: Table) -> None:
        items = self.fig["since_last"]["restated"]
        assert len(rows) == 1 + len(items) and items
        for i, item in enumerate(items, start=1):
            metric = metrics.get(item["metric"])
            assert rows[i][:2] == [metric.label, "September 2026"]
            self.value(table.rows[i].cells[2], fmt.value(item["published"], metric.unit))
            self.value(table.rows[i].cells[3], fmt.value(item["now"], metric.unit))
            assert rows[i][4] == fmt.delta(item["now"], item["published"], metric.unit)

    def comparison(self, rows: list, table: Table) -> None:
        header = rows[0]
        for i, row in enumerate(rows[1:], start=1):
            metric = self.by_label[row[0]]
            values = self.m[metric.id]
            shown: list[str] = []
            for j, head in enumerate(header[1:], start=1):
                cell = table.rows[i].cells[j]
                if head == "Change":
                    base = shown[-1].split("_")[0]
                    self.change(
                        cell, values[base], values[shown[-1]], metric.unit, metric.higher_is_better
                    )
                else:
                    shown.append(WINDOWS[head])
                    self.value(cell, fmt.value(values[WINDOWS[head]], metric.unit))

    def as_at(self, rows: list, table: Table) -> None:
        assert rows[0] == ["Metric", f"As at {self.fig['as_of']}"]
        for i, row in enumerate(rows[1:], start=1):
            metric = self.by_label[row[0]]
            self.value(table.rows[i].cells[1], fmt.value(self.m[metric.id]["as_at"], metric.unit))

    def split(self, rows: list, table: Table) -> None:
        dim = {"Lender": "lender", "Product family": "product"}[rows[0][0]]
        compare = WINDOWS[rows[0][2]]
        value, share = self.m[f"{dim}_paid_value"], self.m[f"{dim}_share"]
        assert {r[0] for r in rows[1:]} == set(value["M"]) | set(value[compare])
        for i, row in enumerate(rows[1:], start=1):
            name, cells = row[0], table.rows[i].cells
            s, ps = share["M"].get(name), share[compare].get(name)
            self.value(cells[1], fmt.money(value["M"].get(name)))
            self.value(cells[2], fmt.money(value[compare].get(name)))
            self.value(cells[3], fmt.percent(s))
            self.value(cells[4], fmt.percent(ps))
            self.change(cells[5], s, ps, "share")

    def league(self, rows: list, table: Table, entries: dict) -> None:
        by_name = {e["name"]: e for e in entries.values()}
        for i, row in enumerate(rows[1:], start=1):
            entry = by_name[row[0]]
            for j, head in enumerate(rows[0][1:], start=1):
                metric = self.by_label[head]
                expected = fmt.value(entry["metrics"][metric.id]["M"], metric.unit)
                self.value(table.rows[i].cells[j], expected)

    def ageing(self, rows: list, table: Table) -> None:
        ageing = self.fig["pipeline_ageing"]
        assert [r[0] for r in rows[1:]] == [*metrics.PIPELINE_BUCKETS, "Total"]
        for i, row in enumerate(rows[1:], start=1):
            cells = table.rows[i].cells
            for k, stage in enumerate(("ans", "snp")):
                if row[0] == "Total":
                    n = self.m[f"pipeline_{stage}_count"]["as_at"]
                    v = self.m[f"pipeline_{stage}_value"]["as_at"]
                else:
                    n, v = ageing[stage][row[0]]["count"], ageing[stage][row[0]]["value"]
                self.value(cells[1 + 2 * k], fmt.count(n))
                self.value(cells[2 + 2 * k], fmt.money(v))


def thresholds() -> fmt.Thresholds:
    decl = declarations.discover(Settings().parameters_dir).get("board_pack")
    return fmt.Thresholds(**decl.parameters["thresholds"])


# ---------------------------------------------------------------- the real board pack


@pytest.fixture(scope="module")
def pack(board_pack_run):
    return docx.Document(str(board_pack_run.path("report.docx")))


@pytest.mark.slow
def test_section_headings_in_order(pack):
    headings = [p.text for p in pack.paragraphs if p.style.name == "Heading 1"]
    assert headings == SECTIONS
    assert pack.styles["Heading 1"].paragraph_format.page_break_before  # a page per section


@pytest.mark.slow
def test_cover_contents_header_and_footer(pack):
    texts = [p.text for p in pack.paragraphs[:8]]
    assert "Board pack" in texts and "October 2026" in texts and "Confidential" in texts
    assert any(t.startswith("Prepared ") for t in texts) and "Data to 2026-10-31" in texts
    xml = pack.element.xml
    assert 'TOC \\o "1-2"' in xml
    section = pack.sections[0]
    assert section.different_first_page_header_footer
    assert "Confidential" in section.header.paragraphs[0].text
    footer = section.footer.paragraphs[0]._p.xml
    assert " PAGE " in footer and " NUMPAGES " in footer
    assert pack.settings.element.find(qn("w:updateFields")) is not None


@pytest.mark.slow
def test_at_least_17_pictures_with_alt_text_captions_and_print_resolution(pack):
    shapes = pack.inline_shapes
    assert len(shapes) >= 17
    for shape in shapes:
        assert shape._inline.docPr.get("descr", "").strip()
    captions = [p.text for p in pack.paragraphs if p.style.name == "Caption"]
    assert len(captions) == len(shapes)
    for n, text in enumerate(captions, start=1):
        assert text.startswith(f"Figure {n}: ") and len(text) > len(f"Figure {n}: ")
    first = shapes[0]
    blob = pack.part.related_parts[first._inline.graphic.graphicData.pic.blipFill.blip.embed].blob
    pixels = Image.open(io.BytesIO(blob)).width
    assert pixels / first.width.inches >= 250  # print, not screen, resolution


@pytest.mark.slow
def test_every_table_cell_equals_the_formatted_figures(pack, board_pack_run):
    fig = board_pack_run.figures
    check = Checker(fig, thresholds())
    tables = titled_tables(pack)
    assert len(tables) >= 12
    for title, table in tables:
        rows = grid(table)
        head = rows[0]
        if head == ["Metric", "Period", "Published", "Now", "Change"]:
            check.restated(rows, table)
        elif head[0] == "Metric" and "Change" in head:
            check.comparison(rows, table)
        elif head[0] == "Metric":
            check.as_at(rows, table)
        elif head[0] in ("Lender", "Product family"):
            check.split(rows, table)
        elif head[0] == "Retailer":
            check.league(rows, table, fig["retailers"])
        elif head[0] == "BDM":
            check.league(rows, table, fig["bdms"])
        elif head[0] == "Days waiting":
            check.ageing(rows, table)
        elif head == ["Id", "Metric", "Unit", "Definition"]:
            assert [tuple(r) for r in rows[1:]] == metrics.registry_rows()
        else:
            pytest.fail(f"table {title!r} has no check")
    assert check.cells > 300


@pytest.mark.slow
def test_appendix_lists_every_registry_metric_verbatim(pack):
    items = body(pack)
    start = next(
        i
        for i, x in enumerate(items)
        if isinstance(x, Paragraph) and x.style.name == "Heading 1" and x.text == SECTIONS[-1]
    )
    appendix = items[start:]
    (table,) = [x for x in appendix if isinstance(x, Table)]
    rows = grid(table)[1:]
    assert [r[0] for r in rows] == list(metrics.REGISTRY)
    assert [r[3] for r in rows] == [metrics.REGISTRY.get(i).definition for i in metrics.REGISTRY]
    notes = [x.text for x in appendix if isinstance(x, Paragraph)]
    for rule in metrics.GENERAL_RULES:
        assert rule in notes


@pytest.mark.slow
def test_commentary_paragraphs_for_every_section(pack, board_pack_run):
    texts = [p.text for p in pack.paragraphs if p.style.name == "BS Commentary"]
    for section, text in board_pack_run.figures["commentary"]["sections"].items():
        assert text in texts, section
    sources = [p.text for p in pack.paragraphs if p.style.name == "BS Source"]
    assert sources.count("Commentary written automatically from the figures.") == 10


@pytest.mark.slow
def test_one_set_of_named_styles(pack):
    allowed = {"Title", "Subtitle", "Heading 1", "Heading 2", "Caption", "List Bullet"}
    used = {p.style.name for p in pack.paragraphs}
    assert used <= allowed | {s for s in used if s.startswith("BS ")}, used - allowed


@pytest.mark.slow
def test_a_month_with_no_data_still_renders_and_says_so(empty_board_pack_run):
    pack = docx.Document(str(empty_board_pack_run.path("report.docx")))
    assert [p.text for p in pack.paragraphs if p.style.name == "Heading 1"] == SECTIONS
    notes = [p.text for p in pack.paragraphs if p.style.name == "BS Note"]
    assert any(
        n.startswith("No applications were submitted, decided, signed, paid or cancelled")
        for n in notes
    )
    assert len(pack.inline_shapes) >= 17  # every chart still drawn, saying "no data"
    check = Checker(empty_board_pack_run.figures, thresholds())
    for _, table in titled_tables(pack):
        rows = grid(table)
        if rows[0][0] == "Metric" and "Change" in rows[0]:
            check.comparison(rows, table)
    assert check.cells > 50


# ------------------------------------------------------------ in-memory notebooks


def _notebook() -> nbformat.NotebookNode:
    chart = charts.bar(
        "Paid value by lender", ["Northwind Bank", "Oakfield Bank"], [1200.0, 800.0], unit="money"
    )
    data, meta = chart._repr_mimebundle_()
    screen_only = dict(data)  # a chart whose data did not travel
    printable = {**data, CHART_MIME: chart.to_dict()}
    table = {
        "title": "Volumes",
        "columns": ["Metric", "Month", "Previous month", "Change"],
        "rows": [
            ["Submissions", "1,200", "1,000", "▲ 20.0%"],
            ["Approval rate", "–", "50.0%", "–"],
        ],
        "lights": [[None, None, None, "green"], [None, None, None, "none"]],
        "caption": None,
    }
    nb = v4.new_notebook()
    cells = [
        v4.new_markdown_cell("## First section\n\nSome **bold** context.\n\n### A detail"),
        v4.new_code_cell("", outputs=[v4.new_output("display_data", {TEXT_MIME: {
            "kind": "commentary", "section": "summary", "title": None,
            "text": "Paid value rose.", "source": "fallback"}, "text/plain": "x"})]),
        v4.new_code_cell("", outputs=[v4.new_output("display_data", {TABLE_MIME: table, "text/html": "<table>"})]),
        v4.new_code_cell("", outputs=[v4.new_output("display_data", printable, metadata=meta)]),
        v4.new_code_cell("", outputs=[v4.new_output("display_data", screen_only, metadata=meta),
                                      v4.new_output("stream", name="stderr", text="a warning")]),
        v4.new_markdown_cell("## Only in email"),
        v4.new_code_cell("", outputs=[v4.new_output("display_data", {"text/html": "<div>interactive</div>"})]),
        v4.new_markdown_cell("## Second section"),
    ]  # fmt: skip
    cells[5].metadata["tags"] = ["email-only"]
    nb.cells = cells
    return nb


def test_build_walks_headings_text_tables_and_charts():
    document = build(_notebook(), META, dpi=200)
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == [
        "First section",
        "Second section",
    ]
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 2"] == ["A detail"]
    assert "Some bold context." in [p.text for p in document.paragraphs]
    assert "Paid value rose." in [
        p.text for p in document.paragraphs if p.style.name == "BS Commentary"
    ]
    assert "a warning" not in document.element.xml and "interactive" not in document.element.xml
    ((title, table),) = titled_tables(document)
    assert title == "Volumes"
    assert grid(table) == [
        ["Metric", "Month", "Previous month", "Change"],
        ["Submissions", "1,200", "1,000", "▲ 20.0%\nBetter"],
        ["Approval rate", "–", "50.0%", "–"],
    ]
    assert fill(table.rows[1].cells[3]) == SHADING[fmt.Light.GREEN]
    assert fill(table.rows[2].cells[3]) is None
    assert table.rows[1].cells[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert table.rows[1].cells[0].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.LEFT
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeats on each page


def test_charts_are_redrawn_for_print_when_their_data_travels():
    document = build(_notebook(), META, dpi=200)
    printed, screen = document.inline_shapes

    def width(shape) -> int:
        rid = shape._inline.graphic.graphicData.pic.blipFill.blip.embed
        return Image.open(io.BytesIO(document.part.related_parts[rid].blob)).width

    assert width(printed) == 1200  # 600 layout pixels at 200 dpi
    assert width(screen) == Image.open(io.BytesIO(base64.b64decode(
        _notebook().cells[4].outputs[0]["data"]["image/png"]))).width  # fmt: skip
    alt = printed._inline.docPr.get("descr")
    assert alt.startswith("Paid value by lender") and "Northwind Bank" in alt
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    assert captions == ["Figure 1: Paid value by lender", "Figure 2: Paid value by lender"]


def test_docx_is_a_registered_format_that_writes_atomically(tmp_path):
    fmt_ = render.formats().get("docx")
    assert isinstance(fmt_, Docx) and fmt_.name == "docx"
    ctx = render.RenderContext(
        tmp_path,
        "board_pack",
        "Board pack",
        "All retailers",
        "2026-10-31",
        "October 2026",
        "01 Nov 2026 07:00",
        company="Larkspur Retail Finance",
    )
    (path,) = fmt_.render(_notebook(), ctx)
    assert path == tmp_path / "report.docx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.docx"]  # no temporary left
    assert docx.Document(str(path)).core_properties.title == "Board pack, October 2026"
