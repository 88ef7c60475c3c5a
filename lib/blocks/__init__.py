"""Display blocks shared by every report: KPI bar, period table, lender split, pipeline
view, league table, commentary, and the switchers and tabs that hold them.

Each block is built from the published figures (never from raw data), so every number a
reader sees is one of ``figures.json``. A block displays as one output carrying up to
three forms: ``text/html`` (the interactive form, for ``report.html``), an email-safe form
(:data:`lib.contract.EMAIL_MIME`, for ``email.html``) and, for tables, structured rows
(:data:`lib.contract.TABLE_MIME`, for the Word pack). HTML comes from the Jinja macros in
``lib/templates/blocks.html.j2``, which the nbconvert templates share.
"""

from lib.blocks.base import (
    PREV_LABELS,
    STAGES,
    WINDOW_LABELS,
    Block,
    Cell,
    Table,
    prev_key,
    thresholds,
    window_label,
)
from lib.blocks.cards import Printable, commentary, kpi_bar, note, panels, printable, switch, tabs
from lib.blocks.since import restated_table, since_last
from lib.blocks.tables import (
    ageing_table,
    as_at_table,
    comparison_table,
    league_table,
    lender_split,
    methodology,
    period_table,
    pipeline_view,
    split_table,
)

__all__ = [
    "Block",
    "Cell",
    "PREV_LABELS",
    "Printable",
    "STAGES",
    "Table",
    "WINDOW_LABELS",
    "ageing_table",
    "as_at_table",
    "commentary",
    "comparison_table",
    "kpi_bar",
    "league_table",
    "lender_split",
    "methodology",
    "note",
    "panels",
    "period_table",
    "pipeline_view",
    "prev_key",
    "restated_table",
    "printable",
    "since_last",
    "split_table",
    "switch",
    "tabs",
    "thresholds",
    "window_label",
]
