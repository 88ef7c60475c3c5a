"""The Word pack's native tables (fitted widths, right-aligned numbers, shaded lights) and
its charts as pictures with numbered captions.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docx.document import Document as DocumentType
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table as DocxTable

from lib.contract import CHART_MIME
from lib.formatting import Light
from runner.render.docx.styles import TABLE_POINTS, add_field, insert_before
from runner.render.ooxml import xml_text

log = logging.getLogger(__name__)

# Pale fills behind the text of a judged change; the text keeps the light's word as well,
# so the cell reads without colour.
SHADING = {Light.GREEN: "DFF2E3", Light.AMBER: "FDF1CC", Light.RED: "FBE0E2"}
HEADER_FILL = "123F6D"
# Wide tables (the month against three comparisons) step down to fit a portrait page
# rather than wrap their numbers.
SMALLER_POINTS = (7.5, 7.0)
_EM = 0.55  # average width of a character of table text (digits, £, %), in ems
_CELL_MARGIN = int(Cm(0.1))
# Formatted numbers (lib/formatting.py): counts, money, percentages, pp, hours, days,
# deltas with their arrow, and the dash for null. These are right-aligned.
_NUMBER = re.compile(r"^(?:–|[▲▼▶]\s)?-?£?\d[\d,]*(?:\.\d+)?(?:k|m|bn)?(?:%|\s(?:pp|h|d))?$|^–$")


@dataclass
class Pack:
    """The document being written and its running numbers."""

    doc: DocumentType
    dpi: int
    width: Emu
    figures: int = 0
    tables: int = 0


def _shade(cell: Any, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    for old in tc_pr.findall(qn("w:shd")):
        tc_pr.remove(old)
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.append(shd)


def _row_flags(row: Any, *, header: bool) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    cant = OxmlElement("w:cantSplit")  # a row never breaks across pages
    tr_pr.append(cant)
    if header:
        repeat = OxmlElement("w:tblHeader")  # the header row repeats on every page
        tr_pr.append(repeat)


def _needs(columns: Sequence[str], rows: Sequence[Sequence[str]], points: float) -> list[int]:
    """Each column's width (EMU) to hold its longest cell on one line at ``points``.

    Headings wrap between words, so only their longest word counts.
    """
    char = Pt(points) * _EM
    needs = []
    for i, name in enumerate(columns):
        body = max((len(r[i]) for r in rows if i < len(r)), default=0)
        word = max((len(w) for w in name.split()), default=0)
        needs.append(int((max(body, word, 3) + 2) * char + 2 * _CELL_MARGIN))
    return needs


def _fit(
    columns: Sequence[str], rows: Sequence[Sequence[str]], total: int
) -> tuple[float, list[int]]:
    """The table's text size and column widths.

    The largest size at which every column fits is used, spare room shared out. When even
    the smallest does not fit, the widest columns are capped at one common width
    (water-filling), so short numbers never wrap while long text (definitions) does.
    """
    # Tables of prose (the methodology) and of long names keep the normal size and wrap.
    long = [any(len(r[i]) > 40 for r in rows if i < len(r)) for i in range(len(columns))]
    if any(long):
        # Short columns get at most a fifth of the page each, and together at most half of
        # it (a league of ten numbers beside one long name); the long ones share the rest.
        needs = _needs(columns, rows, TABLE_POINTS)
        short = [min(n, total // 5) for n, is_long in zip(needs, long, strict=True) if not is_long]
        if sum(short) > total // 2:
            short = [s * (total // 2) // sum(short) for s in short]
        rest = (total - sum(short)) // sum(long)
        fixed = iter(short)
        return TABLE_POINTS, [rest if is_long else next(fixed) for is_long in long]
    for points in (TABLE_POINTS, *SMALLER_POINTS):
        needs = _needs(columns, rows, points)
        if sum(needs) <= total:
            return points, [int(n * total / sum(needs)) for n in needs]
    cap = total / len(needs)
    for _ in range(100):  # converges in a few steps: the cap with sum(min(need, cap)) == total
        narrow = [n for n in needs if n <= cap]
        wide = len(needs) - len(narrow)
        new_cap = (total - sum(narrow)) / wide if wide else cap
        if abs(new_cap - cap) < 1:
            break
        cap = new_cap
    return points, [int(min(n, cap)) for n in needs]


def _table_properties(table: DocxTable, title: str) -> None:
    """Narrow cell margins (eight or ten columns fit a portrait page) and the title as the
    table's caption for screen readers, each at its place in the schema's sequence."""
    tbl_pr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(_CELL_MARGIN / 635)))  # EMU to twentieths of a point
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    insert_before(tbl_pr, margins, ("w:tblLook", "w:tblCaption", "w:tblDescription"))
    if title:
        caption = OxmlElement("w:tblCaption")
        caption.set(qn("w:val"), title)
        insert_before(tbl_pr, caption, ("w:tblDescription",))


def _numeric(rows: Sequence[Sequence[str]], j: int) -> bool:
    """Whether column ``j`` holds numbers (its heading then aligns right too)."""
    cells = [r[j] for r in rows if j < len(r) and r[j] != "–"]
    return j > 0 and bool(cells) and all(_NUMBER.match(c) for c in cells)


def add_table(pack: Pack, payload: Mapping[str, Any]) -> DocxTable | None:
    """A native Word table from a TABLE_MIME payload; right-aligned numbers, shaded lights.

    Cell text is the payload's text exactly (formatted by lib/formatting.py); a judged
    change also gets its light's word (Better, Steady, Worse) beside the pale shading, so
    the judgement does not rest on colour alone.
    """
    columns = [str(c) for c in payload.get("columns") or []]
    rows = [[str(c) for c in r] for r in payload.get("rows") or []]
    lights = payload.get("lights") or []
    pack.tables += 1
    title = str(payload.get("title") or "")
    label = f"Table {pack.tables}: {title}" if title else f"Table {pack.tables}"
    pack.doc.add_paragraph(label, style="BS Table Title")
    if not columns:
        return None
    if not rows:
        empty = payload.get("empty") or "Nothing to show for this period."
        note = f"{payload['caption']} {empty}" if payload.get("caption") else empty
        pack.doc.add_paragraph(str(note), style="BS Note")
        return None
    points, widths = _fit(columns, rows, pack.width)
    right = [_numeric(rows, j) for j in range(len(columns))]
    table = pack.doc.add_table(rows=1 + len(rows), cols=len(columns))
    table.style = pack.doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False  # fixed layout: Word and LibreOffice both keep these widths
    _table_properties(table, title)
    for j, width in enumerate(widths):
        table.columns[j].width = width
    for j, name in enumerate(columns):
        cell = table.rows[0].cells[j]
        cell.width = widths[j]
        p = cell.paragraphs[0]
        p.style = pack.doc.styles["BS Table Header"]
        p.add_run(name).font.size = Pt(points)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if right[j] else WD_ALIGN_PARAGRAPH.LEFT
        _shade(cell, HEADER_FILL)
    _row_flags(table.rows[0], header=True)
    for i, values in enumerate(rows):
        row = table.rows[i + 1]
        _row_flags(row, header=False)
        for j, text in enumerate(values[: len(columns)]):
            cell = row.cells[j]
            cell.width = widths[j]
            p = cell.paragraphs[0]
            p.style = pack.doc.styles["BS Table Text"]
            run = p.add_run(text)
            run.font.size = Pt(points)
            run.bold = j == 0 and text == "Total"
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if right[j] else WD_ALIGN_PARAGRAPH.LEFT
            light = _light(lights, i, j)
            if light in SHADING:
                _shade(cell, SHADING[light])
                p.add_run().add_break()  # the word under the change keeps the column narrow
                word = p.add_run(light.word)
                word.font.size = Pt(points)
                word.font.color.rgb = RGBColor.from_string(light.colour.lstrip("#").upper())
    if payload.get("caption"):
        pack.doc.add_paragraph(str(payload["caption"]), style="BS Note")
    else:
        pack.doc.add_paragraph(style="BS Note")  # air between a table and what follows
    return table


def _light(lights: Sequence[Sequence[Any]], i: int, j: int) -> Light | None:
    try:
        value = lights[i][j]
    except (IndexError, TypeError):
        return None
    try:
        return Light(value) if value else None
    except ValueError:
        return None


def _chart_png(output: Mapping[str, Any], dpi: int) -> bytes | None:
    """The chart at print resolution when its data travelled, else the output's own PNG."""
    data = output.get("data", {})
    payload = data.get(CHART_MIME)
    if isinstance(payload, Mapping):
        try:
            from lib import charts  # plotly and matplotlib: only when a pack has charts

            return charts.Chart(**payload).png(dpi=dpi)
        except Exception:  # noqa: BLE001 - a chart that cannot be redrawn keeps its screen PNG
            log.warning(
                "chart %r could not be redrawn for print; using its PNG", payload.get("title")
            )
    png = data.get("image/png")
    if isinstance(png, list):
        png = "".join(png)
    return base64.b64decode(png) if png else None


def add_picture(pack: Pack, output: Mapping[str, Any]) -> None:
    """A chart as an inline picture with alt text and a numbered caption."""
    image = _chart_png(output, pack.dpi)
    if image is None:
        return
    meta = output.get("metadata", {})
    chart = output.get("data", {}).get(CHART_MIME) or {}
    title = str((meta.get("broadsheet") or {}).get("title") or chart.get("title") or "Chart")
    alt = str((meta.get("image/png") or {}).get("alt") or chart.get("alt") or title)
    title, alt = xml_text(title), xml_text(alt)
    pack.figures += 1
    paragraph = pack.doc.add_paragraph(style="BS Figure")
    run = paragraph.add_run()
    run.add_picture(io.BytesIO(image), width=pack.width)
    for doc_pr in run._r.iter(qn("wp:docPr")):
        doc_pr.set("descr", alt)
        doc_pr.set("title", title)
        doc_pr.set("name", f"Figure {pack.figures}")
    caption = pack.doc.add_paragraph(style="Caption")
    caption.add_run("Figure ")
    add_field(caption, "SEQ Figure \\* ARABIC", str(pack.figures))
    caption.add_run(f": {title}")
