"""Computing the registry's metrics over a snapshot, vectorised by group, and listing the
pipeline; the package docstring (``lib.metrics``) tells the whole contract.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lib.errors import InputError
from lib.metrics.book import (
    APP_COLUMNS,
    day_column,
    day_numbers,
    decisions,
    prepare,
    require,
)
from lib.metrics.definitions import (
    DEFINITIONS,
    GROWTH_BASES,
    GROWTH_DEFINITIONS,
    INACTIVE_DAYS,
    Metric,
)
from lib.metrics.kernels import as_at_columns, pipeline_masks, rate_columns, window_columns
from lib.registry import Registry

if TYPE_CHECKING:
    from lib.periods import Window
    from lib.snapshot import Snapshot

logger = logging.getLogger(__name__)

AS_AT = "as_at"
PIPELINE_BUCKETS = ("0–7", "8–30", "31–90", "90+")
# Upper bound (inclusive) of each bucket but the last, in days.
_BUCKET_EDGES = (7, 30, 90)

REGISTRY: Registry[Metric] = Registry("metric")

for _metric in (*DEFINITIONS, *GROWTH_DEFINITIONS):
    REGISTRY.register(_metric.id, _metric)


# (id prefix, generic registry entry, label suffix); the longer prefix is tried first.
_GROWTH_KINDS = (
    ("growth_ly_", "growth_ly", "growth on last year"),
    ("growth_", "growth", "growth"),
)


def get(metric_id: str) -> Metric:
    """Return the metric for ``metric_id``, including derived ``growth_<id>`` and
    ``growth_ly_<id>`` ids.

    Raises:
        UnknownNameError: ``metric_id`` is neither registered nor a growth of a metric in
            ``GROWTH_BASES``.
    """
    for prefix, rule, suffix in _GROWTH_KINDS:
        base = metric_id.removeprefix(prefix)
        if base != metric_id and base in GROWTH_BASES:
            generic, parent = REGISTRY.get(rule), REGISTRY.get(base)
            return Metric(
                metric_id,
                f"{parent.label} {suffix}",
                generic.unit,
                generic.definition,
                parent.basis,
                parent.higher_is_better,
            )
    return REGISTRY.get(metric_id)


def item_unit(metric_id: str) -> str | None:
    """The unit of each value inside a ``map`` metric; None for any other metric.

    Map ids follow one convention: ``*_share`` holds shares, ``*_value`` pounds and any
    other map counts (``lender_submissions``). ``lib.formatting.value(v, "map")`` formats
    shares only, so format the items of a money or count map with this unit instead.
    """
    if get(metric_id).unit != "map":
        return None
    if metric_id.endswith("_share"):
        return "share"
    return "money" if metric_id.endswith("_value") else "count"


def registry_rows() -> list[tuple[str, str, str, str]]:
    """Rows ``(id, label, unit, definition)`` for the methodology appendix, in display order."""
    return [(m.id, m.label, m.unit, m.definition) for m in map(REGISTRY.get, REGISTRY)]


def growth(current: float | None, previous: float | None) -> float | None:
    """``(current − previous) / previous``; None when either is None or ``previous`` is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def compute(
    snap: Snapshot,
    windows: Mapping[str, Window],
    as_of: date,
    *,
    by: str | None = None,
    commission_rates: Mapping[str, float] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every metric of the registry for every group and window.

    Vectorised: per window, one boolean mask per date column over all applications and a
    grouped sum/count/median over the group codes, so the cost barely depends on the number
    of groups.

    Args:
        snap: A loaded snapshot (derived columns present).
        windows: Window key → window (``start``/``end`` dates, inclusive), e.g. from
            ``lib.periods.windows``. Every window is cut off at ``as_of``.
        as_of: A, the last complete day of data.
        by: ``None`` for one group ``"all"``; ``"retailer"`` for every account id (plus any
            retailer id found only on applications); ``"bdm"`` for every user who owns an
            account. ``"unassigned"`` collects what has no retailer or no owner, if anything.
        commission_rates: Product family → commission rate (a fraction). ``None`` leaves
            ``commission`` undefined.

    Returns:
        ``{group_key: {metric_id: {window_key: value}}}``. As-at metrics use the key
        ``"as_at"``; map metrics give ``{window_key: {name: value}}``; ``growth_<id>`` (and
        ``growth_ly_<id>``) are given under every window key that has a ``<key>_prev``
        (``<key>_ly``). Values are ``int``, ``float``, ``dict`` or ``None``.

    Raises:
        SnapshotError: A column the metrics need is missing.
        ConfigError: A commission rate is for an unknown family or not within 0–1.
        InputError: Unknown ``by`` or a window named ``"as_at"``.
    """
    if AS_AT in windows:
        raise InputError(f"window key {AS_AT!r} is reserved for as-at metrics")
    rates = rate_columns(commission_rates)
    book = prepare(snap, by)
    a = day_column(as_of)

    columns: dict[str, dict[str, list]] = {}
    for key, window in windows.items():
        # Clip at A: nothing after the last complete day of data is counted (§3).
        start, end = day_column(window.start), min(day_column(window.end), a)
        for metric_id, values in window_columns(book, start, end, a, rates).items():
            columns.setdefault(metric_id, {})[key] = values
    for metric_id, values in as_at_columns(book, a).items():
        columns[metric_id] = {AS_AT: values}

    for prefix, suffix in (("growth_", "_prev"), ("growth_ly_", "_ly")):
        pairs = [(k, k + suffix) for k in windows if k + suffix in windows]
        if not pairs:
            continue
        for base in GROWTH_BASES:
            per_window = columns[base]
            columns[prefix + base] = {
                k: [growth(c, p) for c, p in zip(per_window[k], per_window[prev], strict=True)]
                for k, prev in pairs
            }

    order = [m for m in REGISTRY if m in columns] + [m for m in columns if m not in REGISTRY]
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for i, group in enumerate(book.keys):
        result[group] = {m: {k: values[i] for k, values in columns[m].items()} for m in order}
    logger.debug("metrics for %d groups × %d windows", book.n, len(windows))
    return result


def pipeline_items(snap: Snapshot, as_of: date) -> pd.DataFrame:
    """The applications behind the pipeline metrics, as at ``as_of``.

    Args:
        snap: A loaded snapshot (derived columns present).
        as_of: A.

    Returns:
        DataFrame with columns ``stage`` (``"ans"`` or ``"snp"``), ``ref`` (application
        Name), ``retailer`` (account id), ``lender``, ``product`` (product family),
        ``amount`` (pounds, missing → 0), ``date`` (the stage's date: the decision day for
        ``ans``, the signing day for ``snp``, a ``datetime.date``), ``days`` (A − that
        date) and ``bucket`` (one of ``PIPELINE_BUCKETS``); ANS first, then oldest first,
        then by reference.
    """
    apps = snap.applications
    require(apps, "applications", APP_COLUMNS)
    a = day_column(as_of)
    approved, _, decided_day = decisions(apps)
    signed = day_numbers(apps["signed_day"])
    ans, snp = pipeline_masks(
        approved,
        decided_day,
        signed,
        day_numbers(apps["paid_day"]),
        day_numbers(apps["cancelled_day"]),
        a,
    )
    parts = []
    for stage, mask, stage_day in (("ans", ans, decided_day), ("snp", snp, signed)):
        rows = apps.loc[mask]
        days = a - stage_day[mask]
        parts.append(
            pd.DataFrame(
                {
                    "stage": stage,
                    "ref": rows["Name"].to_numpy(),
                    "retailer": rows["Retailer__c"].to_numpy(),
                    "lender": rows["lender"].to_numpy(),
                    "product": rows["product_family"].to_numpy(),
                    "amount": rows["amount"].astype("float64").fillna(0.0).to_numpy(),
                    "date": [as_of - timedelta(days=int(d)) for d in days],
                    "days": days.astype(np.int64),
                    "bucket": np.array(PIPELINE_BUCKETS, dtype=object)[
                        np.searchsorted(_BUCKET_EDGES, days, side="left")
                    ],
                }
            )
        )
    items = pd.concat(parts, ignore_index=True)
    items["stage"] = items["stage"].astype("str")
    items["bucket"] = items["bucket"].astype("str")
    return items.sort_values(
        ["stage", "days", "ref"], ascending=[True, False, True], kind="stable", ignore_index=True
    )


def inactive_since(as_of: date) -> date:
    """First day of the ``inactive_retailers`` look-back that ends at ``as_of`` (inclusive)."""
    return as_of - timedelta(days=INACTIVE_DAYS - 1)
