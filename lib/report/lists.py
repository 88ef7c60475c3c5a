"""The pipeline as a list to work from: one row per application waiting in either stage.

Built from the published figures only (``figures["pipeline"]``, and ``figures["retailers"]``
for the names on a roll-up), so the rows of ``pipeline.csv`` and ``pipeline.xlsx`` are the
report's own numbers and hold nothing the report's target may not see.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from lib.blocks.base import STAGES

#: Columns of a roll-up's list; a single retailer's list has no Retailer column.
COLUMNS = (
    "Stage",
    "Reference",
    "Retailer",
    "Lender",
    "Product",
    "Amount",
    "Stage date",
    "Days waiting",
)


@dataclass(frozen=True)
class PipelineList:
    """Column titles and typed rows (``Amount`` a float in pounds, ``Stage date`` a date)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def pipeline_list(figures: Mapping[str, Any]) -> PipelineList:
    """Every application of ``figures["pipeline"]``, longest waiting first.

    Ties are broken by stage (approved but not signed first) and reference. The Retailer
    column appears when the pipeline items name their retailer (BDM portfolio, SMT).

    Args:
        figures: the report's published figures.
    """
    pipeline = figures.get("pipeline") or {}
    items = [(stage, item) for stage in STAGES for item in pipeline.get(stage) or ()]
    with_retailer = any("retailer" in item for _, item in items)
    names = {rid: str(e.get("name", rid)) for rid, e in (figures.get("retailers") or {}).items()}
    order = {stage: i for i, stage in enumerate(STAGES)}
    items.sort(key=lambda si: (-(si[1].get("days") or 0), order[si[0]], str(si[1]["ref"])))
    rows = []
    for stage, item in items:
        row: list[Any] = [STAGES[stage], str(item["ref"])]
        if with_retailer:
            rid = item.get("retailer")
            row.append(names.get(rid, "–"))
        row += [
            str(item.get("lender") or ""),
            str(item.get("product") or ""),
            _pounds(item.get("amount")),
            date.fromisoformat(item["date"]) if item.get("date") else None,
            int(item.get("days") or 0),
        ]
        rows.append(tuple(row))
    columns = COLUMNS if with_retailer else tuple(c for c in COLUMNS if c != "Retailer")
    return PipelineList(columns, rows)


def _pounds(amount: Any) -> float:
    """An amount in pounds; null (and a non-finite value, which no spreadsheet holds) is 0,
    as null amounts count in values (domain §2)."""
    value = float(amount or 0.0)
    return value if math.isfinite(value) else 0.0
