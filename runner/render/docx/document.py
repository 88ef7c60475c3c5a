"""The Word output format: an executed board-pack notebook in, ``report.docx`` out.

The document is built with python-docx from the notebook's structured outputs only:
markdown headings become Word headings (each ``##`` section starts a page), commentary and
notes travel as :data:`lib.contract.TEXT_MIME`, tables as :data:`lib.contract.TABLE_MIME`
(already formatted by ``lib/formatting.py``, so Word shows exactly the report's text) and
charts as :data:`lib.contract.CHART_MIME`, redrawn by ``lib.charts`` at print resolution.
HTML is never parsed back. Outputs with no Word form (KPI cards, switches) are left out;
cells tagged ``email-only`` or ``remove`` are skipped, like the HTML formats skip theirs.

Layout: a cover page (title, month, run date, "Confidential"), a table of contents field
(pre-filled with the section titles; Word refreshes it with page numbers on opening), the
sections, and headers and footers with page numbers. Every paragraph uses one set of named
styles created in :func:`add_styles`, so the pack can be restyled in Word in one place.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docx
import nbformat
from docx.document import Document as DocumentType
from docx.shared import Emu

from lib.contract import CHART_MIME, TABLE_MIME, TEXT_MIME
from runner.outputs import write_atomic
from runner.render.docx.styles import GREY as GREY
from runner.render.docx.styles import INK as INK
from runner.render.docx.styles import NAVY as NAVY
from runner.render.docx.styles import TABLE_POINTS as TABLE_POINTS
from runner.render.docx.styles import add_cover, add_furniture, add_styles, add_toc, set_up_page
from runner.render.docx.tables import HEADER_FILL as HEADER_FILL
from runner.render.docx.tables import SHADING as SHADING
from runner.render.docx.tables import SMALLER_POINTS as SMALLER_POINTS
from runner.render.docx.tables import Pack, add_picture, add_table
from runner.render.ooxml import stable_zip, xml_text, xml_values

log = logging.getLogger(__name__)

SKIPPED_TAGS = frozenset({"email-only", "remove"})
PRINT_DPI = 300
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|\*(.+?)\*|`(.+?)`|\[(.+?)\]\([^)]*\)")


def _plain(text: str) -> str:
    """Markdown emphasis, code and links reduced to their text."""
    return _INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), text)


# ------------------------------------------------------------------------------ the walk


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
                    found.append(xml_text(_plain(m.group(2))))
    return found


def _markdown(pack: Pack, source: str) -> None:
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


def _text(pack: Pack, payload: Mapping[str, Any]) -> None:
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


def _outputs(pack: Pack, cell: nbformat.NotebookNode) -> None:
    for output in cell.get("outputs", []):
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue  # streams and errors are not part of the pack
        data = output.get("data", {})
        if TEXT_MIME in data:
            _text(pack, xml_values(data[TEXT_MIME]))
        elif TABLE_MIME in data:
            add_table(pack, xml_values(data[TABLE_MIME]))
        elif CHART_MIME in data or "image/png" in data:
            add_picture(pack, output)


def build(
    nb: nbformat.NotebookNode, meta: Mapping[str, str], *, dpi: int = PRINT_DPI
) -> DocumentType:
    """The Word document of an executed notebook.

    Args:
        nb: the executed notebook.
        meta: ``company``, ``title``, ``period``, ``as_of`` and ``generated_at``.
        dpi: resolution charts are redrawn at.
    """
    meta = {k: xml_text(str(v)) for k, v in meta.items()}
    doc = docx.Document()
    set_up_page(doc)
    add_styles(doc)
    add_furniture(doc, meta)
    add_cover(doc, meta)
    add_toc(doc, _headings(nb))
    section = doc.sections[0]
    pack = Pack(doc, dpi, Emu(section.page_width - section.left_margin - section.right_margin))
    for cell in _cells(nb):
        if cell.cell_type == "markdown":
            _markdown(pack, xml_text(cell.source))
        elif cell.cell_type == "code":
            _outputs(pack, cell)
    # Document properties hold at most 255 characters (python-docx refuses more).
    doc.core_properties.title = f"{meta['title']}, {meta['period']}"[:255]
    doc.core_properties.subject = "Confidential"
    doc.core_properties.author = meta["company"][:255]
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
        path = ctx.target_dir / self.filename
        write_atomic(path, docx_bytes(build(nb, ctx.metadata(), dpi=self.dpi)))
        return [path]


def docx_bytes(doc: DocumentType) -> bytes:
    """The document as a ``.docx`` file; the same document, the same bytes.

    python-docx stamps each part of the zip with the time of saving: the parts are written
    again with one fixed time, so a rerun on the same data gives an identical file.
    """
    buffer = io.BytesIO()
    doc.save(buffer)
    return stable_zip(buffer.getvalue())
