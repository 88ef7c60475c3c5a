"""Extraction: the SOQL of each table, full and incremental reads, and the tables of a
snapshot; the package docstring (``lib.salesforce``) tells the whole contract.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
from simple_salesforce import format_soql

from lib import snapshot
from lib.errors import SnapshotError, SourceError
from lib.periods import LONDON
from lib.salesforce.client import Client, InvalidField, RetryPolicy, connect
from lib.salesforce.schema import TABLES, missing_message, to_frame, warn_picklists
from lib.settings import SalesforceSection as Settings

log = logging.getLogger(__name__)

SOURCE = "salesforce"
BATCH_SIZE = 2000
"""Records per page asked for with ``Sforce-Query-Options``; 2,000 is Salesforce's maximum."""
OVERLAP = timedelta(hours=1)
"""Incremental refresh re-reads this much before the previous snapshot's newest change:
``SystemModstamp`` is stamped when a transaction starts, so a long one can commit a record
stamped earlier than others the previous extraction already saw."""
# Business events after Submitted_Date__c, latest stage last (the order Status__c follows).
LATER_EVENTS = ("Decision_Date__c", "Signed_Date__c", "Paid_Date__c", "Cancelled_Date__c")


# --------------------------------------------------------------------------- queries
def soql(table: str, where: str = "") -> str:
    """``SELECT <the §2 fields> FROM <object>`` plus a WHERE built with ``format_soql``."""
    sobject, fields = TABLES[table]
    return f"SELECT {', '.join(fields)} FROM {sobject}" + (f" WHERE {where}" if where else "")


def _cutoff(as_of: date) -> datetime:
    """The end of ``as_of`` in London, in UTC: the first instant not in the snapshot."""
    return datetime.combine(as_of + timedelta(days=1), dtime(), tzinfo=LONDON).astimezone(UTC)


def fetch(
    client: Client, table: str, where: str = "", *, batch_size: int = BATCH_SIZE
) -> pd.DataFrame:
    """All rows of ``table`` matching ``where``, page by page, in stored types.

    Raises:
        SourceError: fields hidden by field-level security (listed), or any failure
            retrying cannot fix.
    """
    sobject, _ = TABLES[table]
    headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
    query = soql(table, where)
    frames = []
    try:
        page = client.call(f"query of {sobject}", lambda sf: sf.query(query, headers=headers))
        n = 1
        frames.append(to_frame(table, page["records"]))
        while not page["done"]:
            url = page["nextRecordsUrl"]
            n += 1
            page = client.call(
                f"page {n} of {sobject}",
                lambda sf, url=url: sf.query_more(url, identifier_is_url=True, headers=headers),
            )
            frames.append(to_frame(table, page["records"]))
    except InvalidField as exc:
        _raise_hidden_fields(client, table, exc)
    log.info("fetched %d %s in %d page(s)", sum(len(f) for f in frames), table, len(frames))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def count(client: Client, table: str, where: str = "") -> int:
    """``SELECT COUNT() FROM <object> WHERE …``: one call, no records."""
    sobject, _ = TABLES[table]
    query = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")
    return int(client.call(f"count of {sobject}", lambda sf: sf.query(query))["totalSize"])


def _raise_hidden_fields(client: Client, table: str, exc: SourceError) -> None:
    """INVALID_FIELD names one field; describe the object to list every one we lack."""
    sobject, fields = TABLES[table]
    described = client.call(
        f"describe of {sobject}", lambda sf: sf.restful(f"sobjects/{sobject}/describe")
    )
    visible = {f["name"] for f in described.get("fields", [])}
    missing = [f for f in fields if f not in visible]
    if not missing:
        raise SourceError(f"Salesforce query of {sobject} failed: {exc}") from None
    raise SourceError(missing_message(sobject, missing)) from None


# --------------------------------------------------------------------------- as at
def cut_at(applications: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Nothing after ``as_of``: the state of the applications at the end of that day.

    Applications submitted later are dropped. Later events (decision, signing, payout,
    cancellation) are cleared, as the demo source does; ``Decision__c`` goes with its
    date, and ``Status__c`` of a row that lost an event is re-derived from the events
    left, latest stage first. Salesforce cannot say whether an undecided application
    was ``Referred`` at the time, so it becomes ``Submitted``. ``SystemModstamp`` is the
    record's version, not an event, and is kept as Salesforce reported it.
    """
    cutoff = pd.Timestamp(_cutoff(as_of))
    apps = applications[applications["Submitted_Date__c"] < cutoff].copy()
    clipped = pd.Series(False, index=apps.index)
    for col in LATER_EVENTS:
        late = apps[col] >= cutoff
        clipped |= late
        apps.loc[late, col] = pd.NaT
    if clipped.any():
        undecided = apps["Decision_Date__c"].isna() & clipped
        apps.loc[undecided, "Decision__c"] = None
        rows = apps[clipped]
        stage = pd.Series("Submitted", index=rows.index, dtype="str")
        decided = rows["Decision_Date__c"].notna()
        stage[decided] = rows.loc[decided, "Decision__c"].fillna("Submitted")
        for col, label in (
            ("Signed_Date__c", "Signed"),
            ("Paid_Date__c", "Paid"),
            ("Cancelled_Date__c", "Cancelled"),
        ):
            stage[rows[col].notna()] = label
        apps.loc[clipped, "Status__c"] = stage
        log.info(
            "%d applications had events after %s; those events are left out",
            int(clipped.sum()),
            as_of,
        )
    return apps


def _onboarded_by(accounts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Accounts as at ``as_of``: an onboarding date after it is not known yet (null, as
    while onboarding). The status is left as Salesforce has it: its history is not kept."""
    late = accounts["Onboarded_Date__c"].map(lambda d: d is not None and d > as_of)
    if not late.any():
        return accounts
    accounts = accounts.copy()
    accounts.loc[late, "Onboarded_Date__c"] = None
    log.info("%d accounts were onboarded after %s; their date is left out", int(late.sum()), as_of)
    return accounts


# --------------------------------------------------------------------------- extraction
def previous_snapshot(root: Path, as_of: date) -> Path | None:
    """The latest snapshot directory under ``root`` with an ``as_of`` on or before ``as_of``.

    Args:
        root: ``<outputs>/snapshots/salesforce`` (directories named ``YYYY-MM-DD``).
        as_of: the date being extracted; a later snapshot is never used, since rows it
            holds may already carry events this one must leave out.
    """
    if not root.is_dir():
        return None
    candidates = []
    for child in root.iterdir():
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if day <= as_of and (child / "manifest.json").is_file():
            candidates.append((day, child))
    return max(candidates)[1] if candidates else None


def _load_previous(previous: Path, instance: str) -> tuple[pd.DataFrame, date] | None:
    """The previous snapshot's applications and ``as_of``; None (reason logged) if unusable."""
    try:
        snap = snapshot.load(previous)
    except SnapshotError as exc:
        log.warning("previous snapshot unusable, doing a full refresh: %s", exc)
        return None
    manifest = snap.manifest
    if manifest.get("source") != SOURCE:
        log.warning("previous snapshot %s is not from Salesforce; full refresh", previous)
        return None
    if (manifest.get("api") or {}).get("instance") != instance:
        log.warning("previous snapshot %s is from another Salesforce org; full refresh", previous)
        return None
    apps = snap.applications[list(TABLES["applications"][1])]
    if apps.empty or apps["SystemModstamp"].isna().all():
        return None
    return apps, date.fromisoformat(str(manifest["as_of"]))


def extract_tables(
    settings: Settings,
    *,
    as_of: date,
    previous: Path | None = None,
    full: bool = False,
    policy: RetryPolicy | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Extract users, accounts and applications as at the end of ``as_of``.

    Users and accounts are read in full. Applications are read in full when ``full`` is
    set or no usable ``previous`` snapshot (same source, same org) is given; otherwise
    only those that may differ from it: changed since its newest ``SystemModstamp``
    less :data:`OVERLAP`, or carrying an event after its ``as_of`` (left out of it then,
    due now). They replace the previous rows by ``Id``. A ``COUNT()`` then checks the
    merged total; a mismatch (deleted records) falls back to a full read.

    Args:
        settings: connection settings, see :class:`Settings`.
        as_of: the last day of data; nothing later is kept (see :func:`cut_at`).
        previous: an earlier snapshot directory of this source (see
            :func:`previous_snapshot`).
        full: read everything even if ``previous`` is given.
        policy: retries, back-off, deadline and timeouts.
        batch_size: records per page (200–2,000).

    Returns:
        ``(tables, api)``: the three tables in stored types, sorted by ``Id``, and
        ``{"auth", "calls", "token_requests", "logins", "used", "limit", "instance",
        "refresh", "since"}`` for the snapshot manifest and ``run.json``.

    Raises:
        ConfigError: the sign-in is not configured properly, or Salesforce refused its
            credentials; the message names the variables or the file.
        SourceError: Salesforce could not be read; the message says how to fix it.
    """
    client = connect(settings, policy)
    cutoff = _cutoff(as_of)
    users = fetch(client, "users", batch_size=batch_size)
    accounts = fetch(client, "accounts", batch_size=batch_size)
    in_range = format_soql("Submitted_Date__c < {}", cutoff)

    loaded = None if full or previous is None else _load_previous(previous, client.instance)
    since: datetime | None = None
    apps: pd.DataFrame | None = None
    if loaded is not None:
        prev, prev_as_of = loaded
        since = prev["SystemModstamp"].max().to_pydatetime() - OVERLAP
        # Rows whose events fell after the previous as_of were cut there; re-read them.
        prev_cutoff = _cutoff(min(prev_as_of, as_of))
        changed = format_soql(
            "(SystemModstamp > {since} OR Submitted_Date__c >= {cut} OR Decision_Date__c >= {cut}"
            " OR Signed_Date__c >= {cut} OR Paid_Date__c >= {cut} OR Cancelled_Date__c >= {cut})",
            since=since,
            cut=prev_cutoff,
        )
        fresh = fetch(client, "applications", f"{in_range} AND {changed}", batch_size=batch_size)
        kept = prev[~prev["Id"].isin(fresh["Id"])]
        apps = pd.concat([kept, fresh], ignore_index=True) if len(fresh) else kept
        expected = count(client, "applications", in_range)
        if expected != len(apps):
            log.warning(
                "incremental refresh gives %d applications but Salesforce has %d (records "
                "deleted?); reading them all",
                len(apps),
                expected,
            )
            apps, since = None, None
        else:
            log.info("incremental refresh: %d changed applications since %s", len(fresh), since)
    if apps is None:
        apps = fetch(client, "applications", in_range, batch_size=batch_size)

    tables = {
        "users": users,
        "accounts": _onboarded_by(accounts, as_of),
        "applications": cut_at(apps, as_of),
    }
    tables = {k: v.sort_values("Id", kind="stable", ignore_index=True) for k, v in tables.items()}
    warn_picklists(tables)
    api = client.api_report()
    api["refresh"] = "incremental" if since is not None else "full"
    api["since"] = since.isoformat() if since is not None else None
    return tables, api
