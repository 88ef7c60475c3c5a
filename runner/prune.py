"""``broadsheet prune``: delete outputs older than each report's ``retention``.

What goes, per report (``retention`` in its declaration; default 26 weeks, or 25 months
for a monthly report, :data:`runner.declarations.DEFAULT_RETENTION`), for every ``as_of``
before the cut-off:

- the run folder's contents (targets' reports, emails, notebooks, figures, alerts), but
  not its ``run.json``: that summary (targets, failures, deliveries; tens of kB) *is*
  the run history the admin dashboard shows, so history outlives the files;
- test-send and preview folders (``<as_of>-test``, ``<as_of>-preview``) whole: the admin
  keeps each test send's summary in the state database;
- the outbox's ``.eml`` files of that report and day.

Shared by every report: snapshots older than :data:`SNAPSHOT_RETENTION` (the newest
snapshot of each source is always kept: incremental Salesforce extraction starts from it)
and commentary-cache entries not written for as long. Never touched: the state database
(the delivery ledger and the admin's choices), logs (logrotate's, ``deploy/``), locks.

A report that is running is skipped whole: its run lock is held while its files are
pruned, so no run of it can start meanwhile either. A snapshot being extracted (its lock
held) is skipped too.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from filelock import FileLock, Timeout

from runner import schedule
from runner.declarations import Declaration, before
from runner.outputs import folder_size

log = logging.getLogger(__name__)

SNAPSHOT_RETENTION = "35 days"
"""How long snapshots and commentary-cache entries are kept (a month of reruns)."""
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(-test|-preview)?$")


@dataclass(frozen=True)
class Removal:
    """One thing prune deletes (or, in a dry run, would delete)."""

    kind: str  # run, test-send, preview, outbox, snapshot, cache
    path: Path
    size: int
    files: int = 1
    keep: str | None = None  # a file kept inside ``path`` (a run's run.json)

    def apply(self) -> None:
        """Delete it (what is already gone is not an error)."""
        if self.keep is not None:
            for child in self.path.iterdir():
                if child.name != self.keep:
                    _remove(child)
        else:
            _remove(self.path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _day(text: str) -> tuple[date, str | None] | None:
    match = _DAY.match(text)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)), match.group(2)
    except ValueError:
        return None


def report_removals(outputs: Path, decl: Declaration, today: date) -> list[Removal]:
    """What of ``decl``'s outputs is older than its retention on ``today``."""
    cutoff = before(today, decl.kept_for)
    found: list[Removal] = []
    folder = outputs / decl.name
    for run in sorted(folder.glob("????-??-??*")) if folder.is_dir() else []:
        parsed = _day(run.name)
        if not parsed or not run.is_dir() or parsed[0] >= cutoff:
            continue
        if parsed[1]:
            kind = "preview" if run.name.endswith("-preview") else "test-send"
            found.append(Removal(kind, run, folder_size(run)))
            continue
        rest = [child for child in run.iterdir() if child.name != "run.json"]
        if rest:
            size = sum(folder_size(child) for child in rest)
            found.append(Removal("run", run, size, len(rest), keep="run.json"))
    outbox = outputs / "outbox"
    for eml in sorted(outbox.glob(f"{_glob_escape(decl.name)}_????-??-??_*.eml")):
        day = _day(eml.name[len(decl.name) + 1 : len(decl.name) + 11])
        if day and day[0] < cutoff:
            found.append(Removal("outbox", eml, eml.stat().st_size))
    return found


def shared_removals(outputs: Path, today: date) -> list[Removal]:
    """Old snapshots (not each source's newest, nor one being written) and cache entries."""
    cutoff = before(today, SNAPSHOT_RETENTION)
    found: list[Removal] = []
    for source in sorted(p for p in (outputs / "snapshots").glob("*") if p.is_dir()):
        days = sorted(p for p in source.iterdir() if p.is_dir() and _day(p.name))
        for snap in days[:-1]:
            if _day(snap.name)[0] >= cutoff:  # type: ignore[index]
                continue
            lock = FileLock(str(snap) + ".lock", blocking=False)
            try:
                lock.acquire()
            except Timeout:
                log.info("snapshot %s is being written; kept", snap)
                continue
            lock.release()
            found.append(Removal("snapshot", snap, folder_size(snap)))
    cache = outputs / "cache"
    for entry in sorted(cache.rglob("*")) if cache.is_dir() else []:
        if entry.is_file() and date.fromtimestamp(entry.stat().st_mtime) < cutoff:
            found.append(Removal("cache", entry, entry.stat().st_size))
    return found


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


@dataclass
class Outcome:
    """What a prune removed (or would), and what it skipped."""

    removed: list[Removal]
    skipped: list[str]

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removed)


def prune(
    outputs: Path,
    declarations: Iterable[Declaration],
    *,
    today: date,
    dry_run: bool = False,
    echo: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Delete (unless ``dry_run``) every report's expired outputs and old shared files.

    Each report is handled under its run lock; a report whose lock is held is skipped.
    ``echo`` is told each removal as it happens.
    """
    from runner.outputs import human_size

    outcome = Outcome([], [])
    verb = "would remove" if dry_run else "removed"

    def take(items: list[Removal]) -> None:
        for item in items:
            if not dry_run:
                item.apply()
            what = f"{item.path}" + (f" (all but {item.keep})" if item.keep else "")
            echo(f"{verb} {item.kind} {what}: {human_size(item.size)}")
            outcome.removed.append(item)

    for decl in sorted(declarations, key=lambda d: d.name):
        with schedule.run_lock(decl.name, outputs) as mine:
            if not mine:
                outcome.skipped.append(decl.name)
                echo(f"{decl.name}: running now; skipped")
                continue
            take(report_removals(outputs, decl, today))
    take(shared_removals(outputs, today))
    return outcome
