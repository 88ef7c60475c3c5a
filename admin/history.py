"""Run history from ``outputs/<report>/<as_of>/run.json``, and the read-only outputs route.

The runner's ``run.json`` files are the history: nothing is copied into the database, so
the history can never disagree with the outputs. Parsed files are cached by modification
time, since a retailer run's summary is large and the page asks often.

Every path the admin reads or links for a request goes through :func:`inside`, which
resolves it (symlinks included) and refuses anything that is not under the outputs
folder; history is read only for declared reports, whose names are the callers' to check.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

OUTPUTS_ROUTE = "/outputs"
# The files a target directory may hold, in the order the page lists them.
TARGET_FILES = (
    "report.html",
    "email.html",
    "report.docx",
    "notebook.ipynb",
    "figures.json",
    "email.txt",
)
# What the outputs route serves: report files, messages, logs. Never the state database,
# locks or snapshot tables (Salesforce data, not outputs for a reader).
SERVED_SUFFIXES = frozenset({".html", ".json", ".ipynb", ".docx", ".eml", ".txt", ".png", ".log"})
MEDIA_TYPES = {".eml": "message/rfc822", ".ipynb": "application/json", ".log": "text/plain"}

_cache: dict[Path, tuple[int, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def read_run(path: Path) -> dict[str, Any] | None:
    """A parsed ``run.json`` (cached by mtime), or None if unreadable."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    with _cache_lock:
        hit = _cache.get(path)
    if hit and hit[0] == stamp:
        return hit[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        log.warning("skipping unreadable %s: %s", path, err)
        return None
    if not isinstance(data, dict):
        return None
    with _cache_lock:
        _cache[path] = (stamp, data)
    return data


def inside(outputs: Path, path: str | Path) -> Path | None:
    """``path`` (relative to ``outputs``, or absolute) resolved, if it lies inside ``outputs``.

    None for anything that leaves the folder once resolved (``..``, an absolute path
    elsewhere, a symlink pointing out), names a hidden file or folder, or cannot be a
    path at all (NUL, backslashes). The one check behind every path the admin serves.
    """
    text = str(path)
    if not text or "\x00" in text or "\\" in text:
        return None
    root = outputs.resolve()
    try:
        candidate = (root / path).resolve()
        parts = candidate.relative_to(root).parts
    except (ValueError, OSError, RuntimeError):
        return None
    if any(p.startswith(".") for p in parts):
        return None
    return candidate


def run_files(outputs: Path, reports: Iterable[str]) -> list[Path]:
    """Every ``run.json`` of ``reports`` (declared report names) inside ``outputs``."""
    found = []
    for report in reports:
        folder = inside(outputs, report)
        if folder is None or folder.parent != outputs.resolve() or not folder.is_dir():
            continue
        for path in folder.glob("*/run.json"):
            resolved = inside(outputs, path)
            if resolved is not None and resolved.parent.parent == folder:
                found.append(resolved)
    return sorted(found)


def output_link(outputs: Path, path: Path) -> str | None:
    """The URL of a file under ``outputs``, or None when it is not there."""
    resolved = inside(outputs, path)
    if resolved is None:
        return None
    return f"{OUTPUTS_ROUTE}/{quote(resolved.relative_to(outputs.resolve()).as_posix())}"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _target(outputs: Path, run_dir: Path, t: dict[str, Any], ran_at: Any = None) -> dict[str, Any]:
    error = t.get("error") or {}
    target_dir = run_dir / str(t.get("id", ""))
    links = {}
    if t.get("id") and target_dir.parent == run_dir:
        for name in TARGET_FILES:
            if (target_dir / name).is_file():
                links[name] = output_link(outputs, target_dir / name)
    kept = error.get("notebook")
    if kept and (link := output_link(outputs, Path(kept))):
        links["failed notebook"] = link
    message = error.get("message") or (
        f"{error.get('ename')}: {error.get('evalue')}" if error else None
    )
    cell = error.get("cell")
    return {
        "id": str(t.get("id")),
        "name": _str(t.get("name")),
        "ran_at": _str(t.get("ran_at") or ran_at),
        "status": str(t.get("status", "unknown")),
        "duration": t.get("duration") if isinstance(t.get("duration"), (int, float)) else None,
        "cell": cell if isinstance(cell, int) else None,
        "error": _str(message),
        "links": {k: v for k, v in links.items() if v},
    }


def _rows(items: Any) -> list[dict[str, str | None]]:
    return [{str(k): _str(v) for k, v in d.items()} for d in items or [] if isinstance(d, dict)]


def _runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    # A record written before runs were listed is one run: the one it describes.
    listed = data.get("runs")
    if not isinstance(listed, list):
        targets = [t for t in data.get("targets") or [] if isinstance(t, dict)]
        failed = sum(1 for t in targets if t.get("status") != "ok")
        listed = [
            {
                "started_at": data.get("started_at"),
                "duration": data.get("duration"),
                "targets": (data.get("spec") or {}).get("targets") or None,
                "ran": len(targets),
                "ok": len(targets) - failed,
                "failed": failed,
                "exit_status": data.get("exit_status"),
            }
        ]
    out = []
    for r in listed:
        if not isinstance(r, dict):
            continue
        asked = r.get("targets")
        out.append(
            {
                "started_at": _str(r.get("started_at")),
                "duration": r.get("duration")
                if isinstance(r.get("duration"), (int, float))
                else None,
                "targets": [str(t) for t in asked] if isinstance(asked, list) else None,
                "ran": r.get("ran") if isinstance(r.get("ran"), int) else 0,
                "ok": r.get("ok") if isinstance(r.get("ok"), int) else 0,
                "failed": r.get("failed") if isinstance(r.get("failed"), int) else 0,
                "exit_status": r.get("exit_status")
                if isinstance(r.get("exit_status"), int)
                else None,
            }
        )
    return out


def summarise(
    outputs: Path, path: Path, data: dict[str, Any], *, detail: bool = False
) -> dict[str, Any]:
    """One day's record for the API: the day's counts (every target's latest result),
    failures with their cell and error, links, and the runs that made the day."""
    run_dir = path.parent
    targets = [t for t in data.get("targets") or [] if isinstance(t, dict)]
    # A record from before targets carried ran_at: each ran in the one run it describes.
    started = data.get("started_at")
    shown = [
        _target(outputs, run_dir, t, started) for t in targets if detail or t.get("status") != "ok"
    ]
    deliveries = _rows(data.get("deliveries"))
    exit_status = data.get("exit_status")
    exit_status = exit_status if isinstance(exit_status, int) else 1
    failed = [t for t in shown if t["status"] != "ok"]
    out = {
        "report": str(data.get("report") or run_dir.parent.name),
        # The run's folder: <as_of>, or <as_of>-test for a test send kept beside the real run.
        "as_of": run_dir.name,
        "data_as_of": str(data.get("as_of") or run_dir.name),
        "started_at": _str(data.get("started_at")),
        "duration": data.get("duration")
        if isinstance(data.get("duration"), (int, float))
        else None,
        "source": _str(data.get("source")),
        "status": "ok" if exit_status == 0 else "failed",
        "exit_status": exit_status,
        "test_to": _str((data.get("spec") or {}).get("test_to")),
        "targets": len(targets),
        "ok": sum(1 for t in targets if t.get("status") == "ok"),
        "failed": sum(1 for t in targets if t.get("status") != "ok"),
        "delivered": sum(1 for d in deliveries if d.get("status") == "sent"),
        "delivery_failures": sum(1 for d in deliveries if d.get("status") == "failed"),
        "held_back": len(_rows(data.get("skipped_targets"))),
        "failures": failed,
        "link": output_link(outputs, path),
        "runs": _runs(data),
    }
    if detail:
        out |= {
            "all_targets": shown,
            "deliveries": deliveries,
            "skipped_recipients": _rows(data.get("skipped_recipients")),
            "skipped_targets": _rows(data.get("skipped_targets")),
        }
    return out


def runs(outputs: Path, reports: Iterable[str], *, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent runs of ``reports`` first (by start time), at most ``limit``."""
    found = []
    for path in run_files(outputs, reports):
        data = read_run(path)
        if data is not None:
            found.append((str(data.get("started_at") or ""), path, data))
    found.sort(key=lambda item: item[0], reverse=True)
    return [summarise(outputs, path, data) for _, path, data in found[:limit]]


def run_detail(outputs: Path, report: str, as_of: str) -> dict[str, Any] | None:
    """One run of the declared ``report`` with every target and delivery, or None."""
    path = resolve_output(outputs, f"{report}/{as_of}/run.json")
    if path is None or path.parent.parent != inside(outputs, report):
        return None
    data = read_run(path)
    return summarise(outputs, path, data, detail=True) if data is not None else None


def last_runs(outputs: Path, reports: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest run of each of ``reports``, by start time."""
    latest: dict[str, dict[str, Any]] = {}
    for run in runs(outputs, reports, limit=10_000):
        latest.setdefault(run["report"], run)
    return latest


def resolve_output(outputs: Path, rel: str) -> Path | None:
    """The file ``rel`` names under ``outputs``, or None if it may not be served.

    Refused: whatever :func:`inside` refuses, and every file type but report outputs
    and logs.
    """
    candidate = inside(outputs, rel)
    if candidate is None or candidate.suffix.lower() not in SERVED_SUFFIXES:
        return None
    return candidate if candidate.is_file() else None
