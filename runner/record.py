"""The day's record of a report, ``outputs/<report>/<as_of>/run.json``, across its runs.

A day may see several runs of a report: the scheduled one, then a ``--target`` rerun of
the targets that failed. The record is the day's, not the last run's: a partial run
(``--target``) merges into it, so each target keeps its latest result, stamped with when
it ran (``ran_at``); a full run (every target of the fan-out) replaces the targets, since
it is the whole answer for the day. Either way ``runs`` lists every run that wrote the
record, oldest first, so the history can show the day and each run in it.

The top-level fields a run sets (``started_at``, ``duration``, ``source``, ``spec``, …)
are those of the latest run; ``exit_status`` and ``summary`` are the day's, computed from
the merged targets and deliveries.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from runner.outputs import write_json

log = logging.getLogger(__name__)

ALREADY_SENT = "skipped-already-sent"
ALERT = "_alert"  # the target of the failure alert's delivery rows


def run_entry(run: dict[str, Any]) -> dict[str, Any]:
    """One run of the day, in brief: when, what it was asked to run, how it went."""
    targets = [t for t in run.get("targets") or [] if isinstance(t, dict)]
    failed = sum(1 for t in targets if t.get("status") != "ok")
    requested = (run.get("spec") or {}).get("targets") or None
    return {
        "started_at": run.get("started_at"),
        "duration": run.get("duration"),
        "targets": list(requested) if requested else None,
        "ran": len(targets),
        "ok": len(targets) - failed,
        "failed": failed,
        "exit_status": run.get("exit_status"),
    }


def merge(previous: dict[str, Any] | None, run: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The day's record once ``run`` (a ``RunResult.to_json()``) is added to ``previous``.

    Args:
        previous: the record so far (None on the day's first run).
        run: this run, as it would be written on its own.
        partial: the run covered only the targets asked for (``--target``).
    """
    stamped = [{**t, "ran_at": run.get("started_at")} for t in run.get("targets") or []]
    runs = list((previous or {}).get("runs") or ([run_entry(previous)] if previous else []))
    record = {**run, "targets": stamped, "runs": [*runs, run_entry(run)]}
    if previous is None:
        return _with_totals(record)
    if not partial:
        ids = {t["id"] for t in stamped} | {ALERT}
        earlier = [d for d in previous.get("deliveries") or [] if d.get("target") in ids]
        record["deliveries"] = _merge_deliveries(earlier, run.get("deliveries") or [])
        return _with_totals(record)

    rerun = {t["id"] for t in stamped}
    by_id = {t["id"]: t for t in stamped}
    kept = [t for t in previous.get("targets") or [] if isinstance(t, dict)]
    earlier_ran_at = previous.get("started_at")
    targets = [
        by_id.pop(t["id"]) if t["id"] in by_id else {"ran_at": earlier_ran_at, **t} for t in kept
    ]
    record["targets"] = targets + list(by_id.values())
    record["deliveries"] = _merge_deliveries(
        previous.get("deliveries") or [], run.get("deliveries") or []
    )
    record["skipped_recipients"] = [
        s for s in previous.get("skipped_recipients") or [] if s.get("target") not in rerun
    ] + list(run.get("skipped_recipients") or [])
    return _with_totals(record)


def _merge_deliveries(earlier: list[dict], latest: list[dict]) -> list[dict]:
    # Per target and recipient the latest row wins, except that "already sent" (the ledger
    # stopped a second send) keeps the row that says when it was sent.
    rows: dict[tuple[Any, Any], dict] = {(d.get("target"), d.get("recipient")): d for d in earlier}
    for d in latest:
        key = (d.get("target"), d.get("recipient"))
        if d.get("status") == ALREADY_SENT and key in rows:
            continue
        rows[key] = d
    return list(rows.values())


def _with_totals(record: dict[str, Any]) -> dict[str, Any]:
    targets = record["targets"]
    failed = sum(1 for t in targets if t.get("status") != "ok")
    failed_deliveries = any(d.get("status") == "failed" for d in record.get("deliveries") or [])
    record["exit_status"] = 1 if failed or failed_deliveries else 0
    record["summary"] = {"targets": len(targets), "ok": len(targets) - failed, "failed": failed}
    return record


def read(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning("%s is unreadable (%s); this run starts the day's record afresh", path, err)
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, run: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Merge ``run`` into the record at ``path`` and write it atomically; returns it.

    The caller holds the report's run lock, so no other run of the report writes the
    record meanwhile.
    """
    record = merge(read(path), run, partial=partial)
    write_json(path, record)
    return record
