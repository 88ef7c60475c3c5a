"""The metric registry and its vectorised computation (domain §6).

Each metric is defined exactly once, in :mod:`lib.metrics.definitions`: its id, label, unit
and the definition text that the board pack's methodology appendix prints verbatim; this
module registers them. ``compute`` turns a snapshot and a set of period windows into
``{group: {metric_id: {window_key: value}}}`` for the whole book, every retailer or every
BDM in one vectorised pass per window (:mod:`lib.metrics.book` and
:mod:`lib.metrics.kernels`); ``pipeline_items`` lists the applications behind the pipeline
metrics.

Rules the domain leaves open are written into the definitions (and ``GENERAL_RULES``), so the
appendix states exactly what the code does.
"""

from lib.metrics.book import ALL, UNASSIGNED
from lib.metrics.compute import (
    AS_AT,
    PIPELINE_BUCKETS,
    REGISTRY,
    compute,
    get,
    growth,
    inactive_since,
    item_unit,
    pipeline_items,
    registry_rows,
)
from lib.metrics.definitions import GENERAL_RULES, GROWTH_BASES, INACTIVE_DAYS, TOP_N, Metric

__all__ = [
    "ALL",
    "AS_AT",
    "GENERAL_RULES",
    "GROWTH_BASES",
    "INACTIVE_DAYS",
    "Metric",
    "PIPELINE_BUCKETS",
    "REGISTRY",
    "TOP_N",
    "UNASSIGNED",
    "compute",
    "get",
    "growth",
    "inactive_since",
    "item_unit",
    "pipeline_items",
    "registry_rows",
]
