"""Targets, scoping and the figures of one report target; the package docstring
(``lib.report``) tells the whole contract.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from lib import demo, metrics, periods
from lib import snapshot as snapshot_mod
from lib.contract import Target
from lib.errors import InputError, excerpt

log = logging.getLogger(__name__)

DEMO_OUTPUTS = Path(__file__).resolve().parents[2] / "outputs"


def open_snapshot(
    path: str, as_of: str, *, monthly: bool = False
) -> tuple[snapshot_mod.Snapshot, date]:
    """The snapshot and ``as_of`` of a run; in JupyterLab, empty values mean the demo.

    Args:
        path: a snapshot directory, or ``""`` for the demo snapshot of ``as_of`` (built
            under ``outputs/snapshots/demo/`` when missing).
        as_of: ``YYYY-MM-DD`` or ``""`` for the default (yesterday; for a monthly pack
            the last day of the previous month).
        monthly: whether the report covers whole months.
    """
    try:
        day = date.fromisoformat(as_of) if as_of else periods.default_as_of()
    except ValueError:
        raise InputError(f"parameter as_of: {excerpt(as_of)} is not a date (YYYY-MM-DD)") from None
    if monthly and not as_of:
        day = periods.board_month_as_of(day + timedelta(days=1))
    if path:
        return _load(str(Path(path).resolve()), _stamp(Path(path))), day
    snap_day = periods.default_as_of() if monthly else day
    out = snapshot_mod.default_dir(DEMO_OUTPUTS, "demo", snap_day)
    if not (out / snapshot_mod.MANIFEST).is_file():
        log.info("building the demo snapshot in %s", out)
        snapshot_mod.write(demo.generate(as_of=snap_day), out, source="demo", as_of=snap_day)
    return _load(str(out.resolve()), _stamp(out)), day


def _stamp(path: Path) -> int:
    """Changes whenever the snapshot is rewritten (the manifest is replaced last)."""
    return (path / snapshot_mod.MANIFEST).stat().st_mtime_ns


@functools.lru_cache(maxsize=2)
def _load(path: str, stamp: int) -> snapshot_mod.Snapshot:
    # A warm kernel serves many targets from one snapshot: load and validate it once.
    # Callers only ever read it (scope() makes filtered copies), so sharing is safe.
    return snapshot_mod.load(path)


def retailer_target(snap: snapshot_mod.Snapshot, target: str) -> Target:
    """A retailer by id; ``""`` picks the first Live retailer by name (interactive use)."""
    accounts = snap.accounts
    if not target:
        live = accounts[accounts["Retailer_Status__c"] == "Live"].sort_values(["Name", "Id"])
        if live.empty:
            raise InputError("the snapshot has no Live retailer")
        target = str(live["Id"].iloc[0])
    row = accounts[accounts["Id"] == target]
    if row.empty:
        raise InputError(f"retailer {target!r} is not in the snapshot")
    return Target("retailer", target, str(row["Name"].iloc[0]))


def bdm_target(snap: snapshot_mod.Snapshot, target: str) -> Target:
    """A BDM by user id; ``""`` picks the first active BDM with a Live retailer."""
    users = snap.users
    if not target:
        owners = set(snap.accounts.loc[snap.accounts["Retailer_Status__c"] == "Live", "OwnerId"])
        active = users[users["IsActive"].astype(bool) & users["Id"].isin(owners)].sort_values(
            ["Name", "Id"]
        )
        if active.empty:
            raise InputError("the snapshot has no active BDM with a Live retailer")
        target = str(active["Id"].iloc[0])
    row = users[users["Id"] == target]
    if row.empty:
        raise InputError(f"BDM {target!r} is not in the snapshot")
    return Target("bdm", target, str(row["Name"].iloc[0]))


def scope(snap: snapshot_mod.Snapshot, target: Target) -> snapshot_mod.Snapshot:
    """Only the data the target may see: one retailer, a BDM's retailers, or everything."""
    if target.kind == "retailer":
        return snap.for_retailers([target.id])
    if target.kind == "bdm":
        owned = snap.accounts.loc[snap.accounts["OwnerId"] == target.id, "Id"]
        return snap.for_retailers(list(owned))
    return snap


def windows(
    as_of: date, keys: Sequence[str], fiscal_year_start_month: int = 1
) -> dict[str, periods.Window]:
    """The report's windows with their previous windows."""
    return periods.windows(as_of, tuple(keys), fiscal_year_start_month=fiscal_year_start_month)


def pipeline(
    snap: snapshot_mod.Snapshot, as_of: date, *, with_retailer: bool = False
) -> dict[str, list[dict]]:
    """``figures["pipeline"]``: the applications behind the pipeline view, by stage.

    Each item: ``ref``, ``lender``, ``product`` (family), ``amount``, ``date`` (the stage's
    date, ISO), ``days`` waiting and ``bucket``, plus ``retailer`` (its id) for roll-ups;
    oldest first, as ``metrics.pipeline_items`` orders them.
    """
    items = metrics.pipeline_items(snap, as_of)
    columns = ["ref", "lender", "product", "amount", "date", "days", "bucket"] + (
        ["retailer"] if with_retailer else []
    )
    convert = {"amount": float, "days": int, "date": date.isoformat}
    out: dict[str, list[dict]] = {"ans": [], "snp": []}
    for stage in out:
        rows = items.loc[items["stage"] == stage, columns]
        out[stage] = [
            {k: convert.get(k, str)(v) for k, v in r.items()} for r in rows.to_dict("records")
        ]
    return out


def figures(
    report: str,
    snap: snapshot_mod.Snapshot,
    target: Target,
    as_of: date,
    window_keys: Sequence[str],
    *,
    fiscal_year_start_month: int = 1,
    commission_rates: Mapping[str, float] | None = None,
    per_retailer: bool = False,
    per_bdm: bool = False,
) -> dict[str, Any]:
    """The ``figures.json`` object of one target (commentary is added by the notebook).

    Args:
        report: the report's name.
        snap: the snapshot already scoped to the target (see :func:`scope`).
        target: who the report is for.
        as_of: A.
        window_keys: e.g. ``("LW", "MTD", "QTD", "YTD")``; previous windows are added.
        fiscal_year_start_month: 1–12.
        commission_rates: product family → rate.
        per_retailer: add ``retailers`` (roll-up reports).
        per_bdm: add ``bdms`` (the SMT dashboard and board pack).
    """
    wins = windows(as_of, window_keys, fiscal_year_start_month)
    # No rates means commission is undefined, not £0 (an empty mapping from a YAML file too).
    commission_rates = commission_rates or None
    book = metrics.compute(snap, wins, as_of, commission_rates=commission_rates)["all"]
    fig: dict[str, Any] = {
        "report": report,
        "target": target.to_json(),
        "as_of": as_of.isoformat(),
        "windows": {k: w.to_json() for k, w in wins.items()},
        "metrics": book,
        "pipeline": pipeline(snap, as_of, with_retailer=per_retailer),
    }
    if per_retailer:
        by_retailer = metrics.compute(
            snap, wins, as_of, by="retailer", commission_rates=commission_rates
        )
        names = dict(zip(snap.accounts["Id"], snap.accounts["Name"], strict=True))
        status = dict(zip(snap.accounts["Id"], snap.accounts["Retailer_Status__c"], strict=True))
        owner = dict(zip(snap.accounts["Id"], snap.accounts["OwnerId"], strict=True))
        fig["retailers"] = {
            rid: {
                "name": str(names[rid]),
                "status": str(status[rid]),
                "bdm": _str(owner.get(rid)),
                "metrics": m,
            }
            for rid, m in by_retailer.items()
            if rid in names
        }
    if per_bdm:
        by_bdm = metrics.compute(snap, wins, as_of, by="bdm", commission_rates=commission_rates)
        names = dict(zip(snap.users["Id"], snap.users["Name"], strict=True))
        fig["bdms"] = {
            uid: {"name": str(names[uid]), "metrics": m}
            for uid, m in by_bdm.items()
            if uid in names
        }
    return fig


def inactive_retailers(snap: snapshot_mod.Snapshot, as_of: date) -> list[str]:
    """Names of Live retailers with no submission in the 30 days ending at A (§6)."""
    since = pd.Timestamp(metrics.inactive_since(as_of))
    until = pd.Timestamp(as_of)
    apps = snap.applications
    recent = apps.loc[
        (apps["submitted_day"] >= since) & (apps["submitted_day"] <= until), "Retailer__c"
    ]
    live = snap.accounts[snap.accounts["Retailer_Status__c"] == "Live"]
    quiet = live[~live["Id"].isin(set(recent))]
    return sorted(str(n) for n in quiet["Name"])


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def pipeline_notes(items: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Ageing lines for commentary: how many items wait in each stage beyond a week."""
    from lib import blocks, formatting

    notes = []
    for stage, title in blocks.STAGES.items():
        rows = items.get(stage, [])
        old = [r for r in rows if (r.get("days") or 0) > 30]
        if rows:
            notes.append(
                f"{title}: {formatting.counted(len(rows), 'application')} worth "
                f"{formatting.money(sum(r.get('amount') or 0 for r in rows), compact=True)}; "
                f"{formatting.count(len(old))} of them waiting over 30 days."
            )
    return notes


def period_series(
    figures_metrics: Mapping[str, Any], metric_id: str, window_keys: Sequence[str]
) -> tuple[list[str], dict[str, list]]:
    """Chart data for one metric: each window against its previous window."""
    from lib.blocks import prev_key, window_label

    labels = [window_label(w) for w in window_keys]
    by_window = figures_metrics.get(metric_id) or {}
    return labels, {
        "This period": [by_window.get(w) for w in window_keys],
        "Previous period": [by_window.get(prev_key(w)) for w in window_keys],
    }


def portfolio_retailers(
    retailers: Mapping[str, Mapping[str, Any]], window: str = "YTD"
) -> list[str]:
    """Retailers worth a drill-down: Live or Suspended, or with submissions in ``window``.

    Closed and onboarding retailers with no activity would only lengthen the dropdown.
    """
    keep = []
    for rid, entry in retailers.items():
        active = ((entry["metrics"].get("submissions") or {}).get(window) or 0) > 0
        if entry.get("status") in ("Live", "Suspended") or active:
            keep.append(rid)
    return sorted(keep, key=lambda r: (retailers[r]["name"], r))


def volume_drops(
    retailers: Mapping[str, Mapping[str, Any]],
    window: str = "LW",
    *,
    metric_id: str = "submissions",
    top: int = 5,
) -> list[str]:
    """Commentary notes: the retailers whose ``metric_id`` fell most against the previous window."""
    from lib import formatting

    prev = f"{window}_prev"
    drops = []
    for entry in retailers.values():
        by_window = entry["metrics"].get(metric_id) or {}
        now, before = by_window.get(window), by_window.get(prev)
        if now is not None and before and now < before:
            drops.append((now - before, entry["name"], now, before))
    drops.sort(key=lambda d: (d[0], d[1]))
    unit = metrics.get(metric_id).unit
    return [
        f"{name}: {metrics.get(metric_id).label.lower()} {formatting.headline(before, unit)} → "
        f"{formatting.headline(now, unit)} ({formatting.delta(now, before, unit)})"
        for _, name, now, before in drops[:top]
    ]


def names(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Id → display name of ``figures["retailers"]`` or ``figures["bdms"]``."""
    return {key: str(entry["name"]) for key, entry in entries.items()}


def no_activity(figures: Mapping[str, Any], window: str) -> str | None:
    """Why a target has nothing to send under ``send_when: activity``, or None if it has.

    A target is quiet when no application was submitted, decided, signed, paid out or
    cancelled in ``window`` (the report's main window) and nothing waits in either
    pipeline stage at A.

    Args:
        figures: the target's published figures.
        window: the main window's key (``LW`` for the weekly reports).
    """
    from lib.blocks.base import window_label
    from lib.report.board import is_empty_month

    m = figures.get("metrics") or {}
    pipeline = figures.get("pipeline") or {}
    waiting = any(pipeline.get(s) for s in ("ans", "snp")) or any(
        (m.get(f"pipeline_{s}_count") or {}).get(metrics.AS_AT) for s in ("ans", "snp")
    )
    if waiting or not is_empty_month(m, window):
        return None
    span = (figures.get("windows") or {}).get(window)
    dates = f" ({span[0]} to {span[1]})" if span else ""
    return (
        f"no application activity in {window_label(window).lower()}{dates} and nothing in "
        "the pipeline (send_when: activity)"
    )
