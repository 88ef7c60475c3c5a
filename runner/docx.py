"""The Word output format: an executed board-pack notebook in, ``report.docx`` out.

The document is built with python-docx from the notebook's structured outputs only:
markdown headings become Word headings (each ``##`` section starts a page), commentary and
notes travel as :data:`lib.blocks.TEXT_MIME`, tables as :data:`lib.figures.TABLE_MIME`
(already formatted by ``lib/formatting.py``, so Word shows exactly the report's text) and
charts as :data:`lib.blocks.CHART_MIME`, redrawn by ``lib/charts.py`` at print resolution.
HTML is never parsed back. Outputs with no Word form (KPI cards, switches) are left out;
cells tagged ``email-only`` or ``remove`` are skipped, like the HTML formats skip theirs.

Layout: a cover page (title, month, run date, "Confidential"), a table of contents field
(pre-filled with the section titles; Word refreshes it with page numbers on opening), the
sections, and headers and footers with page numbers. Every paragraph uses one set of named
styles created in :func:`_styles`, so the pack can be restyled in Word in one place.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import nbformat
from docx.document import Document as DocumentType
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from lib.blocks import CHART_MIME, TEXT_MIME
from lib.figures import TABLE_MIME
from lib.formatting import Light
from runner.outputs import write_atomic

log = logging.getLogger(__name__)

SKIPPED_TAGS = frozenset({"email-only", "remove"})
PRINT_DPI = 300
NAVY, INK, GREY = RGBColor(0x12, 0x3F, 0x6D), RGBColor(0x1D, 0x27, 0x33), RGBColor(0x5C, 0x6B, 0x7A)
# Pale fills behind the text of a judged change; the text keeps the light's word as well,
# so the cell reads without colour.
SHADING = {Light.GREEN: "DFF2E3", Light.AMBER: "FDF1CC", Light.RED: "FBE0E2"}
HEADER_FILL = "123F6D"
TABLE_POINTS = 8
# Wide tables (the month against three comparisons) step down to fit a portrait page
# rather than wrap their numbers.
SMALLER_POINTS = (7.5, 7.0)
_EM = 0.55  # average width of a character of table text (digits, £, %), in ems
_CELL_MARGIN = int(Cm(0.1))
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Formatted numbers (lib/formatting.py): counts, money, percentages, pp, hours, days,
# deltas with their arrow, and the dash for null. These are right-aligned.
_NUMBER = re.compile(r"^(?:–|[▲▼▶]\s)?-?£?\d[\d,]*(?:\.\d+)?(?:k|m|bn)?(?:%|\s(?:pp|h|d))?$|^–$")
_INLINE = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|\*(.+?)\*|`(.+?)`|\[(.+?)\]\([^)]*\)")


def _plain(text: str) -> str:
    """Markdown emphasis, code and links reduced to their text."""
    return _INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), text)


# ------------------------------------------------------------------------------- styles


def _style(
    doc: DocumentType,
    name: str,
    *,
    base: str = "Normal",
    size: float | None = None,
    bold: bool | None = None,
    italic: bool | None = None,
    colour: RGBColor | None = None,
    align: int | None = None,
    before: float | None = None,
    after: float | None = None,
    keep_with_next: bool | None = None,
) -> None:
    styles = doc.styles
    style = (
        styles[name]
        if name in [s.name for s in styles]
        else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    )
    if name != "Normal":
        style.base_style = styles[base]
    font = style.font
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if italic is not None:
        font.italic = italic
    if colour is not None:
        font.color.rgb = colour
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    if before is not None:
        pf.space_before = Pt(before)
    if after is not None:
        pf.space_after = Pt(after)
    if keep_with_next is not None:
        pf.keep_with_next = keep_with_next


def _styles(doc: DocumentType) -> None:
    """The pack's one set of named styles (built-in names where Word has one)."""
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Calibri")
    normal.font.size = Pt(10)
    normal.font.color.rgb = INK
    normal.paragraph_format.space_after = Pt(6)
    _style(doc, "Title", size=30, bold=True, colour=NAVY, after=12)
    _style(doc, "Subtitle", size=16, colour=GREY, after=24, italic=False)
    _style(
        doc,
        "Heading 1",
        base="Normal",
        size=18,
        bold=True,
        colour=NAVY,
        before=0,
        after=12,
        keep_with_next=True,
    )
    # A page break per section, as in a printed board paper.
    doc.styles["Heading 1"].paragraph_format.page_break_before = True
    _style(
        doc,
        "Heading 2",
        base="Normal",
        size=13,
        bold=True,
        colour=NAVY,
        before=12,
        after=6,
        keep_with_next=True,
    )
    _style(doc, "Caption", size=9, italic=True, bold=False, colour=GREY, after=14)
    _style(doc, "BS Cover Meta", size=11, colour=GREY, after=4)
    _style(doc, "BS Confidential", size=14, bold=True, colour=RGBColor(0xCF, 0x22, 0x2E), before=36)
    _style(doc, "BS Contents Heading", size=18, bold=True, colour=NAVY, after=12)
    _style(doc, "BS Contents", size=11, after=4)
    _style(
        doc, "BS Commentary Title", size=10.5, bold=True, colour=NAVY, after=4, keep_with_next=True
    )
    _style(doc, "BS Commentary", size=10.5, after=8)
    _style(doc, "BS Source", size=8, italic=True, colour=GREY, after=10)
    _style(doc, "BS Note", size=9, colour=GREY, after=6)
    _style(
        doc,
        "BS Table Title",
        size=10,
        bold=True,
        colour=NAVY,
        before=8,
        after=4,
        keep_with_next=True,
    )
    _style(doc, "BS Table Text", size=TABLE_POINTS, after=0, before=0)
    _style(
        doc, "BS Table Header", base="BS Table Text", bold=True, colour=RGBColor(0xFF, 0xFF, 0xFF)
    )
    _style(
        doc, "BS Figure", align=WD_ALIGN_PARAGRAPH.CENTER, before=6, after=2, keep_with_next=True
    )
    _style(doc, "BS Running Head", size=8, colour=GREY, after=0)


# ------------------------------------------------------------------------------ fields


def _field(paragraph: Paragraph, instruction: str, result: str) -> None:
    """A complex field (PAGE, NUMPAGES, SEQ…) with a cached result Word and LibreOffice
    replace when they lay the document out."""
    _field_start(paragraph, instruction)
    paragraph.add_run(result)
    _fld_char(paragraph, "end")


def _field_start(paragraph: Paragraph, instruction: str) -> None:
    """A field's begin mark and instruction, up to where its cached result starts."""
    _fld_char(paragraph, "begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    _fld_char(paragraph, "separate")


def _fld_char(paragraph: Paragraph, kind: str) -> None:
    el = OxmlElement("w:fldChar")
    el.set(qn("w:fldCharType"), kind)
    if kind == "begin":
        el.set(qn("w:dirty"), "true")  # ask Word to recompute the cached result
    paragraph.add_run()._r.append(el)


def _toc(doc: DocumentType, headings: Sequence[str]) -> None:
    """A TOC field over Heading 1–2, pre-filled with the section titles.

    The field spans one paragraph per title, as Word writes it; Word rebuilds it with page
    numbers when the document opens (``updateFields``), other readers show the titles.
    """
    doc.add_paragraph("Contents", style="BS Contents Heading")
    lines = list(headings) or ["(no sections)"]
    first = doc.add_paragraph(style="BS Contents")
    _field_start(first, 'TOC \\o "1-2" \\h \\z \\u')
    first.add_run(lines[0])
    last = first
    for title in lines[1:]:
        last = doc.add_paragraph(title, style="BS Contents")
    _fld_char(last, "end")
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    successors = (
        "w:hdrShapeDefaults",
        "w:footnotePr",
        "w:endnotePr",
        "w:compat",
        "w:docVars",
        "w:rsids",
        "m:mathPr",
        "w:themeFontLang",
        "w:clrSchemeMapping",
    )
    _insert_before(doc.settings.element, update, successors)


# ------------------------------------------------------------------------------ the walk


@dataclass
class _Pack:
    """The document being written and its running numbers."""

    doc: DocumentType
    dpi: int
    width: Emu
    figures: int = 0
    tables: int = 0


def _cells(nb: nbformat.NotebookNode) -> Iterator[nbformat.NotebookNode]:
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & SKIPPED_TAGS or "papermill-error-cell-tag" in tags:
            continue
        yield cell


def _headings(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in _cells(nb):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = _HEADING.match(line)
                if m and len(m.group(1)) <= 3:
                    found.append(_plain(m.group(2)))
    return found


def _markdown(pack: _Pack, source: str) -> None:
    """Headings to Heading 1/2 (``#``/``##`` → 1, ``###`` → 2), paragraphs and bullets."""
    para: list[str] = []

    def flush() -> None:
        if para:
            pack.doc.add_paragraph(_plain(" ".join(para)), style="BS Commentary")
            para.clear()

    for line in source.splitlines():
        heading = _HEADING.match(line)
        stripped = line.strip()
        if heading:
            flush()
            level = 1 if len(heading.group(1)) <= 2 else 2
            pack.doc.add_heading(_plain(heading.group(2)), level=level)
        elif stripped.startswith(("- ", "* ")):
            flush()
            pack.doc.add_paragraph(_plain(stripped[2:]), style="List Bullet")
        elif not stripped:
            flush()
        else:
            para.append(stripped)
    flush()


def _text(pack: _Pack, payload: Mapping[str, Any]) -> None:
    """Commentary paragraphs with where they came from; notes in the note style."""
    text = str(payload.get("text") or "")
    if payload.get("kind") != "commentary":
        pack.doc.add_paragraph(text, style="BS Note")
        return
    if payload.get("title"):
        pack.doc.add_paragraph(str(payload["title"]), style="BS Commentary Title")
    for part in [p for p in text.split("\n\n") if p.strip()] or ["No commentary for this section."]:
        pack.doc.add_paragraph(part.strip(), style="BS Commentary")
    source = (
        "Commentary written automatically from the figures."
        if payload.get("source") == "fallback"
        else "AI commentary, checked against the figures."
    )
    pack.doc.add_paragraph(source, style="BS Source")


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
    # Tables of prose (the methodology) keep the normal size and wrap their text.
    long = [any(len(r[i]) > 40 for r in rows if i < len(r)) for i in range(len(columns))]
    if any(long):
        # Short columns get at most a fifth of the page each; the prose takes the rest.
        needs = _needs(columns, rows, TABLE_POINTS)
        short = [min(n, total // 5) for n, is_long in zip(needs, long, strict=True) if not is_long]
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
    _insert_before(tbl_pr, margins, ("w:tblLook", "w:tblCaption", "w:tblDescription"))
    if title:
        caption = OxmlElement("w:tblCaption")
        caption.set(qn("w:val"), title)
        _insert_before(tbl_pr, caption, ("w:tblDescription",))


def _insert_before(parent: Any, child: Any, successors: Sequence[str]) -> None:
    """Insert ``child`` before the first of ``successors`` present (Word rejects elements
    out of the schema's order), else append it."""
    for tag in successors:
        found = parent.find(qn(tag))
        if found is not None:
            found.addprevious(child)
            return
    parent.append(child)


def _numeric(rows: Sequence[Sequence[str]], j: int) -> bool:
    """Whether column ``j`` holds numbers (its heading then aligns right too)."""
    cells = [r[j] for r in rows if j < len(r) and r[j] != "–"]
    return j > 0 and bool(cells) and all(_NUMBER.match(c) for c in cells)


def _table(pack: _Pack, payload: Mapping[str, Any]) -> DocxTable | None:
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
        pack.doc.add_paragraph("Nothing to show for this period.", style="BS Note")
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


def _picture(pack: _Pack, output: Mapping[str, Any]) -> None:
    """A chart as an inline picture with alt text and a numbered caption."""
    image = _chart_png(output, pack.dpi)
    if image is None:
        return
    meta = output.get("metadata", {})
    chart = output.get("data", {}).get(CHART_MIME) or {}
    title = str((meta.get("broadsheet") or {}).get("title") or chart.get("title") or "Chart")
    alt = str((meta.get("image/png") or {}).get("alt") or chart.get("alt") or title)
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
    _field(caption, "SEQ Figure \\* ARABIC", str(pack.figures))
    caption.add_run(f": {title}")


def _outputs(pack: _Pack, cell: nbformat.NotebookNode) -> None:
    for output in cell.get("outputs", []):
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue  # streams and errors are not part of the pack
        data = output.get("data", {})
        if TEXT_MIME in data:
            _text(pack, data[TEXT_MIME])
        elif TABLE_MIME in data:
            _table(pack, data[TABLE_MIME])
        elif CHART_MIME in data or "image/png" in data:
            _picture(pack, output)


# ------------------------------------------------------------------------ page furniture


def _page(doc: DocumentType) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)  # A4
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.0)
    section.different_first_page_header_footer = True  # a clean cover


def _furniture(doc: DocumentType, meta: Mapping[str, str]) -> None:
    section = doc.sections[0]
    head = section.header.paragraphs[0]
    head.style = doc.styles["BS Running Head"]
    width = section.page_width - section.left_margin - section.right_margin
    head.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    head.add_run(f"{meta['company']} · {meta['title']} · {meta['period']}\tConfidential")
    foot = section.footer.paragraphs[0]
    foot.style = doc.styles["BS Running Head"]
    foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
    foot.add_run("Page ")
    _field(foot, "PAGE", "1")
    foot.add_run(" of ")
    _field(foot, "NUMPAGES", "1")


def _cover(doc: DocumentType, meta: Mapping[str, str]) -> None:
    doc.add_paragraph(meta["company"], style="BS Cover Meta").paragraph_format.space_before = Pt(
        120
    )
    doc.add_paragraph(meta["title"], style="Title")
    doc.add_paragraph(meta["period"], style="Subtitle")
    doc.add_paragraph(f"Data to {meta['as_of']}", style="BS Cover Meta")
    doc.add_paragraph(f"Prepared {meta['generated_at']}", style="BS Cover Meta")
    doc.add_paragraph("Confidential", style="BS Confidential")
    doc.add_paragraph(
        "For the board of directors only. Not to be shared outside the company.",
        style="BS Cover Meta",
    ).add_run().add_break(WD_BREAK.PAGE)


def build(
    nb: nbformat.NotebookNode, meta: Mapping[str, str], *, dpi: int = PRINT_DPI
) -> DocumentType:
    """The Word document of an executed notebook.

    Args:
        nb: the executed notebook.
        meta: ``company``, ``title``, ``period``, ``as_of`` and ``generated_at``.
        dpi: resolution charts are redrawn at.
    """
    doc = docx.Document()
    _page(doc)
    _styles(doc)
    _furniture(doc, meta)
    _cover(doc, meta)
    _toc(doc, _headings(nb))
    section = doc.sections[0]
    pack = _Pack(doc, dpi, Emu(section.page_width - section.left_margin - section.right_margin))
    for cell in _cells(nb):
        if cell.cell_type == "markdown":
            _markdown(pack, cell.source)
        elif cell.cell_type == "code":
            _outputs(pack, cell)
    doc.core_properties.title = f"{meta['title']}, {meta['period']}"
    doc.core_properties.subject = "Confidential"
    doc.core_properties.author = meta["company"]
    log.debug("docx: %d figures, %d tables", pack.figures, pack.tables)
    return doc


class Docx:
    """``report.docx``: the Word board pack (see the module docstring)."""

    name = "docx"
    filename = "report.docx"

    def __init__(self, *, dpi: int = PRINT_DPI) -> None:
        self.dpi = dpi

    def render(self, nb: nbformat.NotebookNode, ctx: Any) -> list[Path]:
        """Write ``ctx.target_dir / "report.docx"`` atomically and return its path."""
        doc = build(nb, ctx.metadata(), dpi=self.dpi)
        buffer = io.BytesIO()
        doc.save(buffer)
        path = ctx.target_dir / self.filename
        write_atomic(path, buffer.getvalue())
        return [path]
