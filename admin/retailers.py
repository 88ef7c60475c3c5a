"""Retailers as the admin shows them, and discovery of the newly onboarded.

The snapshot says who the retailers are (name, status, onboarding date, Salesforce's
primary contact); the admin's table says what the admin decided (extras, opt-out,
enablement). Discovery compares a fresh snapshot with the previous discovery:

- the first discovery is the *baseline*: every onboarded retailer it sees is enabled,
  since those were already receiving the retailer weekly;
- later, a retailer onboarded after the previous discovery's ``as_of`` on which the admin
  has not decided yet becomes *pending*, and gets no retailer weekly until approved;
- an onboarded retailer not seen before but onboarded earlier is simply recorded as
  enabled (a wiped admin database must not block the whole book);
- the admin's decisions are never overwritten.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from admin.store import Store
from lib import snapshot as snapshot_mod
from runner.state.models import Discovery, Retailer, effective_enablement, new_retailer, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """One retailer as the snapshot has it."""

    id: str
    name: str | None
    status: str | None
    onboarded: date | None
    primary_contact: str | None


def latest_snapshot(outputs: Path, source: str) -> Path | None:
    """The snapshot the admin shows: ``source`` itself if it is a snapshot directory, else
    the latest of ``<outputs>/snapshots/<source>/``, else the latest of any source."""
    if source not in ("demo", "salesforce") and (Path(source) / "manifest.json").is_file():
        return Path(source)
    root = outputs / "snapshots"
    patterns = [f"{source}/*/manifest.json"] if source in ("demo", "salesforce") else []
    for pattern in [*patterns, "*/*/manifest.json"]:
        # Hidden directories are snapshots being written (lib/snapshot.py renames them).
        found = sorted(
            (p for p in root.glob(pattern) if not p.parent.name.startswith(".")),
            key=lambda p: (p.parent.name, p.parent.parent.name == source),
        )
        if found:
            return found[-1].parent
    return None


def snapshot_info(path: Path) -> dict[str, Any]:
    """Where a snapshot is, its source and ``as_of``."""
    return dict(_read(str(path.resolve()), _stamp(path))[0], path=str(path))


def accounts(path: Path) -> list[Account]:
    """The retailers of a snapshot, in name order (read once per snapshot version)."""
    return _read(str(path.resolve()), _stamp(path))[1]


def _stamp(path: Path) -> int:
    return (path / "manifest.json").stat().st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read(path: str, stamp: int) -> tuple[dict[str, Any], list[Account]]:
    # Only the small parts are kept: a loaded snapshot holds every application.
    snap = snapshot_mod.load(path)
    frame = snap.accounts.sort_values(["Name", "Id"])
    found = [
        Account(
            id=str(a.Id),
            name=_text(a.Name),
            status=_text(a.Retailer_Status__c),
            onboarded=None if pd.isna(a.onboarded_day) else a.onboarded_day.date(),
            primary_contact=_text(a.Primary_Contact_Email__c),
        )
        for a in frame.itertuples(index=False)
    ]
    return {"source": snap.source, "as_of": snap.as_of}, found


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def retailer_out(account: Account | None, row: Retailer | None) -> dict[str, Any]:
    """One retailer for the API: the snapshot's facts and the admin's decisions."""
    if account is None and row is None:
        raise ValueError("a retailer needs a snapshot account or an admin row")
    return {
        "id": account.id if account else row.id,
        "name": (account.name if account else None) or (row.name if row else None),
        "status": account.status if account else None,
        "onboarded": (account.onboarded if account else None) or (row.onboarded if row else None),
        "primary_contact": account.primary_contact if account else None,
        "extras": list(row.extras) if row else [],
        "opted_out": bool(row.opted_out) if row else False,
        "enablement": effective_enablement(row),
        "in_snapshot": account is not None,
    }


def listing(store: Store, snapshot: Path | None) -> list[dict[str, Any]]:
    """Every retailer of the snapshot, then those only the admin knows (e.g. pending ones
    from a newer snapshot)."""
    rows = store.retailers()
    seen = accounts(snapshot) if snapshot else []
    out = [retailer_out(a, rows.get(a.id)) for a in seen]
    known = {a.id for a in seen}
    out += [
        retailer_out(None, r)
        for r in sorted(rows.values(), key=lambda r: (r.name or "", r.id))
        if r.id not in known
    ]
    return out


def find(store: Store, snapshot: Path | None, retailer_id: str) -> dict[str, Any] | None:
    """One retailer for the API, or None if neither the snapshot nor the admin knows it."""
    account = (
        next((a for a in accounts(snapshot) if a.id == retailer_id), None) if snapshot else None
    )
    row = store.retailer(retailer_id)
    return retailer_out(account, row) if account or row else None


def discover(
    store: Store, snapshot: Path, *, source: str
) -> tuple[Discovery, list[dict[str, Any]]]:
    """Queue the retailers onboarded since the previous discovery as pending.

    Args:
        store: the admin's state.
        snapshot: a snapshot directory, fresh for the discovery.
        source: where it came from (recorded).

    Returns:
        The discovery row and the retailers it queued.
    """
    found = accounts(snapshot)
    info = snapshot_info(snapshot)
    with store.sessions.begin() as s:
        previous: date | None = s.scalar(select(func.max(Discovery.as_of)))
        discovery = Discovery(
            run_at=utcnow(),
            as_of=info["as_of"],
            source=source,
            snapshot=str(snapshot),
            baseline=previous is None,
            found=0,
        )
        s.add(discovery)
        s.flush()
        rows = {r.id: r for r in s.scalars(select(Retailer))}
        queued: list[tuple[Account, Retailer]] = []
        for account in found:
            row = rows.get(account.id)
            if account.onboarded is None and row is None:
                continue  # not onboarded yet: nothing to decide
            if row is None:
                row = new_retailer(account.id)
                s.add(row)
            row.name, row.onboarded = account.name, account.onboarded
            if account.onboarded is None or row.enablement is not None:
                continue  # the admin (or an earlier discovery) has decided
            new = previous is not None and account.onboarded > previous
            row.enablement = "pending" if new else "enabled"
            row.discovery_id = discovery.id
            row.updated_at = utcnow()
            if new:
                queued.append((account, row))
        discovery.found = len(queued)
    log.info(
        "discovery %d (as_of %s): %d retailer(s) pending%s",
        discovery.id,
        discovery.as_of,
        len(queued),
        " (baseline)" if discovery.baseline else "",
    )
    return discovery, [retailer_out(a, r) for a, r in queued]


def pending(store: Store, snapshot: Path | None) -> list[dict[str, Any]]:
    """The retailers waiting for approval."""
    return [r for r in listing(store, snapshot) if r["enablement"] == "pending"]


def fresh_snapshot(settings: Any, source: str, as_of: date) -> Path:
    """The snapshot of ``source`` for ``as_of``: the runner's, extracted if not there yet.

    The runner's own lookup (``runner.run.snapshot_for``) is used so a discovery and the
    Monday runs share one extraction per day, under the same lock.
    """
    from runner.run import snapshot_for

    return snapshot_for(source, as_of, settings)


def run_discovery(
    settings: Any, source: str, as_of: date | None = None, *, store: Store | None = None
) -> tuple[Discovery, list[dict[str, Any]]]:
    """Discovery end to end, as ``broadsheet discover`` and the dashboard run it.

    Args:
        settings: ``lib.settings.Settings``.
        source: ``demo``, ``salesforce`` or a snapshot directory.
        as_of: the data's last day; default yesterday in London.
        store: the admin's state; default the settings' database, migrated.

    Raises:
        InputError: ``as_of`` is in the future, or the source is unknown.
    """
    from lib import periods
    from runner.state.database import engine_for, upgrade

    as_of = periods.check_as_of(as_of or periods.default_as_of())
    store = store or Store(upgrade(engine_for(settings.state_url())))
    return discover(store, fresh_snapshot(settings, source, as_of), source=source)
