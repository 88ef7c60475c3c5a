"""pipeline.csv and pipeline.xlsx from a notebook's published figures."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
from nbformat import v4

from lib.contract import FIGURES_MIME
from runner.render.formats import RenderContext, formats

FIGURES = {
    "as_of": "2026-11-22",
    "pipeline": {
        "ans": [
            {"ref": "APP-0001", "lender": "Northwind Bank", "product": "Interest Free",
             "amount": 2500.0, "date": "2026-11-10", "days": 12, "bucket": "8–30",
             "retailer": "R1"},
        ],
        "snp": [
            {"ref": "APP-0002", "lender": "Oakfield Bank", "product": "Hire Purchase",
             "amount": 1234.56, "date": "2026-08-14", "days": 100, "bucket": "90+",
             "retailer": "R2"},
        ],
    },
    "retailers": {"R1": {"name": "Zoë's Café"}, "R2": {"name": "=HYPERLINK(\"http://x\")"}},
}  # fmt: skip


def _notebook():
    nb = v4.new_notebook()
    cell = v4.new_code_cell("publish")
    cell.outputs = [v4.new_output("display_data", data={FIGURES_MIME: FIGURES, "text/plain": "f"})]
    nb.cells.append(cell)
    return nb


def _ctx(tmp_path):
    return RenderContext(
        target_dir=tmp_path, report="bdm_portfolio", title="Weekly BDM portfolio",
        target_name="Ada", as_of="2026-11-22", period="week ending 22 Nov 2026",
        generated_at="now",
    )  # fmt: skip


def test_csv_rows_equal_the_published_pipeline(tmp_path):
    (path,) = formats().get("pipeline_csv").render(_notebook(), _ctx(tmp_path))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads Zoë's Café
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        ["Stage", "Reference", "Retailer", "Lender", "Product", "Amount", "Stage date",
         "Days waiting"],
        ["Signed but not paid", "APP-0002", "'=HYPERLINK(\"http://x\")", "Oakfield Bank",
         "Hire Purchase", "1234.56", "2026-08-14", "100"],
        ["Approved but not signed", "APP-0001", "Zoë's Café", "Northwind Bank",
         "Interest Free", "2500.00", "2026-11-10", "12"],
    ]  # fmt: skip


def test_xlsx_is_a_formatted_spreadsheet(tmp_path):
    (path,) = formats().get("pipeline_xlsx").render(_notebook(), _ctx(tmp_path))
    wb = openpyxl.load_workbook(path)
    ws = wb["Pipeline"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H3"
    assert [c.value for c in ws[1]] == [
        "Stage", "Reference", "Retailer", "Lender", "Product", "Amount", "Stage date",
        "Days waiting",
    ]  # fmt: skip
    assert all(c.font.bold for c in ws[1])
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values == [
        ["Signed but not paid", "APP-0002", '=HYPERLINK("http://x")', "Oakfield Bank",
         "Hire Purchase", 1234.56, datetime(2026, 8, 14), 100],
        ["Approved but not signed", "APP-0001", "Zoë's Café", "Northwind Bank",
         "Interest Free", 2500.0, datetime(2026, 11, 10), 12],
    ]  # fmt: skip
    assert ws["C2"].data_type == "s"  # text, not a formula
    assert "£" in ws["F2"].number_format and ws["G2"].number_format == "dd mmm yyyy"
    assert ws["G2"].is_date and ws["G2"].value.date() == date(2026, 8, 14)
    assert ws.column_dimensions["C"].width >= len('=HYPERLINK("http://x")')
    assert "Ada" in wb.properties.title
