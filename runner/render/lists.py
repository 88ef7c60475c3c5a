"""Pipeline lists to work from: ``pipeline.csv`` and ``pipeline.xlsx`` beside ``report.html``.

Both are built from the figures the notebook published (``lib.report.pipeline_list``), so
their rows are exactly the report's pipeline and scoped to its target like everything else.

Text that a spreadsheet would take for a formula (a retailer named ``=SUM(…)``, or one
starting ``+``, ``-`` or ``@``) is written as text: quoted with a leading apostrophe in the
CSV (what Excel itself does), typed as a string in the XLSX. Characters XML forbids (a
stray control character in a name) are left out of the XLSX, which could not hold them;
the same list gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nbformat
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from lib import figures as figures_mod
from lib.report.lists import PipelineList, pipeline_list
from runner.outputs import write_atomic
from runner.render.ooxml import stable_zip, xml_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = '"£"#,##0.00'
DATE_FORMAT = "dd mmm yyyy"
DAYS_FORMAT = "0"
_STAMP = datetime(2000, 1, 1)


def _published(nb: nbformat.NotebookNode) -> PipelineList:
    fig = figures_mod.read(nb)
    if fig is None:
        raise ValueError("the notebook published no figures; the pipeline list is built from them")
    return pipeline_list(fig)


def _csv_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def csv_bytes(lst: PipelineList) -> bytes:
    """The list as CSV: UTF-8 with a byte-order mark (so Excel reads accents), CRLF lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(lst.columns)
    writer.writerows([_csv_value(v) for v in row] for row in lst.rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(lst: PipelineList, *, title: str = "Pipeline", stamp: datetime = _STAMP) -> bytes:
    """The list as a real spreadsheet: a bold header row frozen above the data, an
    autofilter over every column, money, date and day formats, columns sized to fit.

    ``stamp`` is the document's created and modified time (openpyxl's default, the time of
    saving, would make every file differ)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Pipeline"
    ws.append(list(lst.columns))
    header_fill = PatternFill("solid", start_color="FFEEF2F7")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    formats = {"Amount": MONEY_FORMAT, "Stage date": DATE_FORMAT, "Days waiting": DAYS_FORMAT}
    widths = [len(c) for c in lst.columns]
    for r, row in enumerate(lst.rows, start=2):
        for c, (column, value) in enumerate(zip(lst.columns, row, strict=True), start=1):
            if isinstance(value, str):
                value = xml_text(value)
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            if column in formats:
                cell.number_format = formats[column]
            widths[c - 1] = max(widths[c - 1], len(_shown(column, value)))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(60, width + 3)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(lst.columns))}{max(1, len(lst.rows) + 1)}"
    wb.properties.title = xml_text(title)
    wb.properties.created = wb.properties.modified = stamp
    buffer = io.BytesIO()
    # Not wb.save(): openpyxl's save_workbook stamps "modified" with the time of saving,
    # so the same list would never be the same bytes twice.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    return stable_zip(buffer.getvalue())


def _shown(column: str, value: Any) -> str:
    """Roughly what the cell displays, to size its column."""
    if column == "Amount":
        return f"£{value:,.2f}"
    if column == "Stage date":
        return "00 Mmm 0000"
    return str(value)


class PipelineCsv:
    """``pipeline.csv``: the pipeline list (see the module docstring)."""

    name = "pipeline_csv"
    filename = "pipeline.csv"

    def render(self, nb: nbformat.NotebookNode, ctx: Any) -> list[Path]:
        """Write ``ctx.target_dir / "pipeline.csv"`` atomically and return its path."""
        path = ctx.target_dir / self.filename
        write_atomic(path, csv_bytes(_published(nb)))
        return [path]


class PipelineXlsx:
    """``pipeline.xlsx``: the pipeline list as a formatted spreadsheet."""

    name = "pipeline_xlsx"
    filename = "pipeline.xlsx"

    def render(self, nb: nbformat.NotebookNode, ctx: Any) -> list[Path]:
        """Write ``ctx.target_dir / "pipeline.xlsx"`` atomically and return its path."""
        path = ctx.target_dir / self.filename
        title = f"{ctx.title}: {ctx.target_name}, {ctx.period} — pipeline"
        stamp = datetime.combine(date.fromisoformat(ctx.as_of), datetime.min.time())
        write_atomic(path, xlsx_bytes(_published(nb), title=title, stamp=stamp))
        return [path]
