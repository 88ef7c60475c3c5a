"""What changed since the last report: pipeline movements and restated figures.

Every run keeps its ``figures.json``, so a report can say what moved since the one before
it, for the same report and target: which applications entered each pipeline stage and
which left it (and where they went), and which figures of a window the last report
published as its current window now read differently on today's data (late or corrected
records). The runner finds the previous figures; these functions only compare.

``since_last`` has the shape of ``interfaces.md``::

    {"previous_as_of": "2026-11-15" | None,
     "pipeline": {"ans": {"new": [ref, ...], "left": [{"ref": ..., "to": ...}]},
                  "snp": {"new": [], "left": []}},
     "restated": [{"metric": "paid_value", "window": "LW",
                   "published": 68485.0, "now": 69120.0}]}

For each stage, previous − left + new = current, as sets of references.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from lib import formatting, metrics

if TYPE_CHECKING:
    from lib.snapshot import Snapshot

STAGES = ("ans", "snp")
#: Where an application that left a stage went, by its latest event on or before A.
DESTINATIONS = ("signed", "paid", "cancelled", "declined", "gone")

# On the same day, the later stage wins: signed and paid on one day is paid; a cancellation
# ends everything.
_EVENTS = (("signed", "signed_day"), ("paid", "paid_day"), ("cancelled", "cancelled_day"))


def empty(previous_as_of: str | None = None) -> dict[str, Any]:
    """A ``since_last`` with nothing moved (and, by default, no previous report)."""
    return {
        "previous_as_of": previous_as_of,
        "pipeline": {s: {"new": [], "left": []} for s in STAGES},
        "restated": [],
    }


def stage_refs(pipeline: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[str]]:
    """The references in each stage of ``figures["pipeline"]``, in listed order."""
    return {s: [str(item["ref"]) for item in pipeline.get(s) or ()] for s in STAGES}


def pipeline_moves(
    previous: Mapping[str, Sequence[str]],
    current: Mapping[str, Sequence[str]],
    destinations: Mapping[str, str],
) -> dict[str, dict[str, list]]:
    """Per stage, the references that entered it and those that left it, with where to.

    Args:
        previous: stage → references in the last report.
        current: stage → references in this report.
        destinations: reference → one of :data:`DESTINATIONS`, for every reference that
            left a stage (see :func:`destinations`); a reference it lacks went ``gone``.

    Returns:
        ``{stage: {"new": [ref, ...], "left": [{"ref", "to"}, ...]}}``, each list sorted
        by reference, so that previous − left + new = current.
    """
    out: dict[str, dict[str, list]] = {}
    for stage in STAGES:
        before, now = set(previous.get(stage) or ()), set(current.get(stage) or ())
        out[stage] = {
            "new": sorted(now - before),
            "left": [
                {"ref": ref, "to": destinations.get(ref, "gone")} for ref in sorted(before - now)
            ],
        }
    return out


def destinations(snap: Snapshot, refs: Iterable[str], as_of: date) -> dict[str, str]:
    """Where each application went by the end of ``as_of``: its latest event then.

    ``signed``, ``paid`` or ``cancelled`` by the latest of those dates on or before A (on
    one day the later stage wins); else ``declined`` when the lender declined it; else
    ``gone``: no longer in the data the report sees (deleted, or its retailer left the
    target's scope) or no longer approved for a reason the data does not give.

    Args:
        snap: the snapshot this report was computed from, scoped to its target.
        refs: application references (``Name``).
        as_of: A of this report.
    """
    wanted = set(refs)
    if not wanted:
        return {}
    apps = snap.applications
    rows = apps.loc[apps["Name"].isin(wanted)]
    cut = pd.Timestamp(as_of)
    latest = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
    where = pd.Series("gone", index=rows.index, dtype=object)
    where[(rows["Decision__c"] == "Declined").fillna(False).to_numpy(dtype=bool)] = "declined"
    for name, column in _EVENTS:
        day = rows[column].where(rows[column] <= cut)
        later = day.notna() & (latest.isna() | (day >= latest))
        where[later.to_numpy(dtype=bool)] = name
        latest = latest.where(~later, day)
    found = dict(zip(rows["Name"].astype(str), where, strict=True))
    return {ref: found.get(ref, "gone") for ref in sorted(wanted)}


def _windows_by_dates(windows: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], str]:
    return {tuple(span): key for key, span in windows.items()}


def published_windows(figures: Mapping[str, Any]) -> list[str]:
    """The windows a report published as its own: not ``*_prev``, ``*_ly`` or as-at."""
    return [
        k
        for k in (figures.get("windows") or {})
        if not k.endswith(("_prev", "_ly")) and k != metrics.AS_AT
    ]


def restatements(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[dict]:
    """Figures the last report published for its own windows that now read differently.

    A window of the previous report (``LW`` of last week) is compared with the window of
    this report that covers the same days (``LW_prev`` this week); the board pack's ``M``
    of last month with this month's ``M_prev``. Only what a reader saw counts: a value
    whose display (``lib.formatting.value``) is unchanged is not a restatement, and
    metrics that move with A by definition (conversion), maps and growth rates are left
    out.

    Args:
        previous: the last report's figures.
        current: this report's figures.

    Returns:
        ``[{"metric", "window", "published", "now"}]`` in registry order; ``window`` is
        the previous report's key.
    """
    now_key = _windows_by_dates(current.get("windows") or {})
    before, after = previous.get("metrics") or {}, current.get("metrics") or {}
    out = []
    for window in published_windows(previous):
        key = now_key.get(tuple(previous["windows"][window]))
        if key is None:
            continue
        for metric in map(metrics.REGISTRY.get, metrics.REGISTRY):
            if (
                metric.unit == "map"
                or metric.basis != "window"
                or metric.moves_with_as_of
                or metric.id not in before
                or metric.id not in after
            ):
                continue
            published = (before[metric.id] or {}).get(window)
            today = (after[metric.id] or {}).get(key)
            if formatting.value(published, metric.unit) != formatting.value(today, metric.unit):
                out.append(
                    {"metric": metric.id, "window": window, "published": published, "now": today}
                )
    return out


def since_last(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None, snap: Snapshot
) -> dict[str, Any]:
    """``figures["since_last"]``: this report's figures against the last report's.

    Args:
        current: this report's figures (``report.figures``), pipeline included.
        previous: the last completed report's figures for the same target, or None when
            there is none (the first report).
        snap: the snapshot ``current`` was computed from, scoped to the target.
    """
    if not previous:
        return empty()
    as_of = date.fromisoformat(current["as_of"])
    before = stage_refs(previous.get("pipeline") or {})
    now = stage_refs(current.get("pipeline") or {})
    left = {r for s in STAGES for r in set(before[s]) - set(now[s])}
    return {
        "previous_as_of": previous.get("as_of"),
        "pipeline": pipeline_moves(before, now, destinations(snap, left, as_of)),
        "restated": restatements(previous, current),
    }


def counts(moves: Mapping[str, Any]) -> dict[str, int]:
    """How many left for each destination, for one stage's moves (zero counts left out)."""
    by = Counter(m["to"] for m in moves.get("left") or ())
    return {d: by[d] for d in DESTINATIONS if by[d]}
