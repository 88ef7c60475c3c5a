"""The Word pack's page, named styles and furniture: page setup, the style set, fields,
the table of contents, running headers and footers, and the cover page.

Every paragraph of the pack uses one set of named styles created in :func:`add_styles`, so
the pack can be restyled in Word in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docx.document import Document as DocumentType
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph

NAVY, INK, GREY = RGBColor(0x12, 0x3F, 0x6D), RGBColor(0x1D, 0x27, 0x33), RGBColor(0x5C, 0x6B, 0x7A)
TABLE_POINTS = 8

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


def add_styles(doc: DocumentType) -> None:
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


def add_field(paragraph: Paragraph, instruction: str, result: str) -> None:
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


def add_toc(doc: DocumentType, headings: Sequence[str]) -> None:
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
    insert_before(doc.settings.element, update, successors)


def insert_before(parent: Any, child: Any, successors: Sequence[str]) -> None:
    """Insert ``child`` before the first of ``successors`` present (Word rejects elements
    out of the schema's order), else append it."""
    for tag in successors:
        found = parent.find(qn(tag))
        if found is not None:
            found.addprevious(child)
            return
    parent.append(child)


# ------------------------------------------------------------------------ page furniture


def set_up_page(doc: DocumentType) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)  # A4
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.0)
    section.different_first_page_header_footer = True  # a clean cover


def add_furniture(doc: DocumentType, meta: Mapping[str, str]) -> None:
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
    add_field(foot, "PAGE", "1")
    foot.add_run(" of ")
    add_field(foot, "NUMPAGES", "1")


def add_cover(doc: DocumentType, meta: Mapping[str, str]) -> None:
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
