"""Assemble one report target's figures: scope the data, compute, list the pipeline.

Notebooks call these so they stay thin: load → scope → figures → display. Scoping happens
*before* anything is computed, so a retailer's figures cannot hold another retailer's data.
Run interactively with empty parameters, the helpers choose the defaults an analyst wants
(yesterday, the demo snapshot, the first target).
"""

from lib.contract import Target
from lib.report.assemble import (
    DEMO_OUTPUTS,
    bdm_target,
    figures,
    inactive_retailers,
    names,
    no_activity,
    open_snapshot,
    period_series,
    pipeline,
    pipeline_notes,
    portfolio_retailers,
    retailer_target,
    scope,
    volume_drops,
    windows,
)
from lib.report.board import (
    ageing_series,
    chart_labels,
    comparison_notes,
    comparison_series,
    entity_series,
    is_empty_month,
    month_key,
    month_label,
    month_windows,
    monthly_trend,
    named_facts,
    names_note,
    pipeline_ageing,
    ranked,
    rates_note,
    split_bridge,
    split_series,
    top_entries,
    trend_series,
    trend_split,
)
from lib.report.lists import PipelineList, pipeline_list
from lib.report.since import since_last

__all__ = [
    "DEMO_OUTPUTS",
    "PipelineList",
    "Target",
    "ageing_series",
    "bdm_target",
    "chart_labels",
    "comparison_notes",
    "comparison_series",
    "entity_series",
    "figures",
    "inactive_retailers",
    "is_empty_month",
    "month_key",
    "month_label",
    "month_windows",
    "monthly_trend",
    "named_facts",
    "names",
    "names_note",
    "no_activity",
    "open_snapshot",
    "period_series",
    "pipeline",
    "pipeline_ageing",
    "pipeline_list",
    "pipeline_notes",
    "portfolio_retailers",
    "ranked",
    "rates_note",
    "retailer_target",
    "scope",
    "since_last",
    "split_bridge",
    "split_series",
    "top_entries",
    "trend_series",
    "trend_split",
    "volume_drops",
    "windows",
]
