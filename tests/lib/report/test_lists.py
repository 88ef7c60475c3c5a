"""The pipeline list to work from (lib.report.lists)."""

from __future__ import annotations

from datetime import date

from lib.report import pipeline_list

ITEM = {"lender": "Northwind Bank", "product": "Interest Free", "bucket": "8–30"}


def test_rows_longest_waiting_first_with_retailer_names():
    fig = {
        "pipeline": {
            "ans": [
                {
                    **ITEM,
                    "ref": "APP-2",
                    "amount": 10.0,
                    "date": "2026-11-12",
                    "days": 10,
                    "retailer": "R1",
                }
            ],
            "snp": [
                {
                    **ITEM,
                    "ref": "APP-1",
                    "amount": 99.5,
                    "date": "2026-10-23",
                    "days": 30,
                    "retailer": "R2",
                },
                {
                    **ITEM,
                    "ref": "APP-3",
                    "amount": 5.0,
                    "date": "2026-11-12",
                    "days": 10,
                    "retailer": "R9",
                },
            ],
        },
        "retailers": {"R1": {"name": "Harbour & Sons"}, "R2": {"name": "O'Neill's Bikes"}},
    }
    lst = pipeline_list(fig)
    assert lst.columns == (
        "Stage",
        "Reference",
        "Retailer",
        "Lender",
        "Product",
        "Amount",
        "Stage date",
        "Days waiting",
    )
    assert lst.rows == [
        ("Signed but not paid", "APP-1", "O'Neill's Bikes", "Northwind Bank", "Interest Free",
         99.5, date(2026, 10, 23), 30),
        ("Approved but not signed", "APP-2", "Harbour & Sons", "Northwind Bank",
         "Interest Free", 10.0, date(2026, 11, 12), 10),
        # A retailer the figures do not name (out of scope) is never looked up elsewhere.
        ("Signed but not paid", "APP-3", "–", "Northwind Bank", "Interest Free", 5.0,
         date(2026, 11, 12), 10),
    ]  # fmt: skip


def test_a_single_retailer_list_has_no_retailer_column():
    fig = {"pipeline": {"ans": [{**ITEM, "ref": "APP-9", "amount": 1.0, "date": "2026-11-20",
                                 "days": 2}], "snp": []}}  # fmt: skip
    lst = pipeline_list(fig)
    assert "Retailer" not in lst.columns and len(lst.rows[0]) == len(lst.columns)
    assert pipeline_list({"pipeline": {"ans": [], "snp": []}}).rows == []
