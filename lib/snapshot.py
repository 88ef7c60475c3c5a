"""Snapshot directories: the three Salesforce tables as parquet, plus a manifest.

A snapshot is what every report reads, whichever source produced it (the demo generator or
Salesforce). ``write`` stores the tables in fixed types and publishes the directory
atomically; ``load`` checks it (manifest, content hash, every table and column), converts
the types once and adds the derived columns every report needs (London days, canonical
lender, product family and term bucket, amount), so nothing downstream parses or
classifies again.

Layout::

    <dir>/users.parquet  accounts.parquet  applications.parquet  manifest.json
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lib import lenders, periods, products
from lib.errors import SnapshotError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"

SCHEMA: dict[str, dict[str, str]] = {
    "users": {"Id": "id", "Name": "string", "Email": "email", "IsActive": "bool"},
    "accounts": {
        "Id": "id",
        "Name": "string",
        "OwnerId": "id",
        "Retailer_Status__c": "picklist",
        "Onboarded_Date__c": "date",
        "Primary_Contact_Email__c": "email",
        "Sector__c": "picklist",
    },
    "applications": {
        "Id": "id",
        "Name": "string",
        "Retailer__c": "id",
        "Lender_Name__c": "string",
        "Product_Code__c": "string",
        "Loan_Amount__c": "currency",
        "Status__c": "picklist",
        "Submitted_Date__c": "datetime",
        "Decision__c": "picklist",
        "Decision_Date__c": "datetime",
        "Signed_Date__c": "datetime",
        "Paid_Date__c": "datetime",
        "Cancelled_Date__c": "datetime",
        "SystemModstamp": "datetime",
    },
}
"""Table -> Salesforce API column -> logical type (domain §2), in stored column order."""

_TEXT = frozenset({"id", "string", "email", "picklist"})
_ARROW: dict[str, pa.DataType] = {
    **{t: pa.string() for t in _TEXT},
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "currency": pa.float64(),
}

# Derived columns added by ``load``: applications' London days from their datetimes.
_DAY_COLUMNS = {
    "Submitted_Date__c": "submitted_day",
    "Decision_Date__c": "decision_day",
    "Signed_Date__c": "signed_day",
    "Paid_Date__c": "paid_day",
    "Cancelled_Date__c": "cancelled_day",
}
_MANIFEST_KEYS = ("schema_version", "source", "as_of", "extracted_at", "row_counts", "content_hash")
_HOW_TO_FIX = "extract it again with `broadsheet extract`"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A loaded snapshot: the three tables with derived columns, and its manifest.

    Treat the frames as read-only: notebooks and metrics share them.
    """

    path: Path
    manifest: dict
    users: pd.DataFrame = field(repr=False)
    accounts: pd.DataFrame = field(repr=False)
    applications: pd.DataFrame = field(repr=False)

    @property
    def as_of(self) -> date:
        """The last complete day of data in the snapshot."""
        return date.fromisoformat(self.manifest["as_of"])

    @property
    def source(self) -> str:
        """Where the data came from (``demo``, ``salesforce``)."""
        return str(self.manifest["source"])

    def for_retailers(self, ids: Collection[str]) -> Snapshot:
        """A copy holding only these retailers' accounts and applications.

        Users are cut down to the owners (BDMs) of the remaining accounts. Ids that are not
        in the snapshot simply match nothing.

        Args:
            ids: Account ids of the retailers to keep.

        Returns:
            A new ``Snapshot`` with the same path and manifest.
        """
        wanted = {ids} if isinstance(ids, str) else set(ids)
        accounts = self.accounts[self.accounts["Id"].isin(wanted)].reset_index(drop=True)
        applications = self.applications[self.applications["Retailer__c"].isin(wanted)].reset_index(
            drop=True
        )
        users = self.users[self.users["Id"].isin(set(accounts["OwnerId"].dropna()))]
        return replace(
            self, users=users.reset_index(drop=True), accounts=accounts, applications=applications
        )


def default_dir(outputs: Path, source: str, as_of: date) -> Path:
    """Where a snapshot of ``source`` for ``as_of`` lives by default.

    Returns:
        ``<outputs>/snapshots/<source>/<as_of>``.
    """
    return Path(outputs) / "snapshots" / source / as_of.isoformat()


# --- write -------------------------------------------------------------------------------


def write(
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | Path,
    *,
    source: str,
    as_of: date,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a snapshot directory atomically.

    The tables are converted to the stored types first (so a bad extract fails before
    anything touches the disk), written with the manifest into a temporary sibling
    directory, and that directory is renamed into place. A previous snapshot at
    ``out_dir`` is replaced; a failure leaves it (or nothing) behind, never a half-written
    snapshot.

    Args:
        tables: ``users``, ``accounts`` and ``applications`` with at least the columns of
            ``SCHEMA``; other columns are dropped. Datetimes may be tz-aware, naive UTC or
            Salesforce ISO strings; dates may be ``date`` objects or ``YYYY-MM-DD``.
        out_dir: The snapshot directory to create or replace. An existing directory that
            is not empty and not a snapshot is refused.
        source: Where the data came from (``demo``, ``salesforce``).
        as_of: The last complete day of data.
        extra: More manifest entries (e.g. ``{"api": {...}}``); they cannot override
            the standard ones.

    Returns:
        The snapshot directory, absolute.

    Raises:
        SnapshotError: A table or column is missing or cannot be stored in its type, or
            ``out_dir`` is something other than a snapshot.
    """
    out_dir = Path(out_dir).absolute()
    arrow = {table: _to_arrow(tables, table, out_dir) for table in SCHEMA}
    clash = sorted(set(extra or ()) & set(_MANIFEST_KEYS))
    if clash:
        raise ValueError(f"extra manifest entries cannot override {', '.join(clash)}")
    check_out_dir(out_dir)

    blobs = {table: _parquet_bytes(t) for table, t in arrow.items()}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "as_of": as_of.isoformat(),
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "row_counts": {table: t.num_rows for table, t in arrow.items()},
        "content_hash": _content_hash(blobs.values()),
        **dict(extra or {}),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sibling on the same filesystem, so the final rename is atomic; mkdir (not
    # mkdtemp) so the snapshot gets the usual umask permissions, not 0700.
    tmp = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex[:12]}.tmp")
    tmp.mkdir()
    try:
        for table, blob in blobs.items():
            _write_file(tmp / f"{table}.parquet", blob)
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        _write_file(tmp / MANIFEST, text.encode("utf-8"))
        _publish(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote snapshot %s (%s)", out_dir, manifest["row_counts"])
    return out_dir


def _to_arrow(tables: Mapping[str, pd.DataFrame], table: str, path: Path) -> pa.Table:
    """One table in its stored types and column order; errors name table and column."""
    frame = tables.get(table)
    if frame is None:
        raise SnapshotError("table missing from the extract", path=path, table=table)
    columns = SCHEMA[table]
    dropped = [c for c in frame.columns if c not in columns]
    if dropped:
        log.debug("%s: dropping columns outside the schema: %s", table, dropped)
    arrays = []
    for column, logical in columns.items():
        if column not in frame.columns:
            raise SnapshotError(
                "column missing from the extract", path=path, table=table, column=column
            )
        try:
            arrays.append(_arrow_column(frame[column], logical))
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise SnapshotError(
                f"cannot store as {logical}: {exc}", path=path, table=table, column=column
            ) from exc
    return pa.Table.from_arrays(arrays, names=list(columns))


def _arrow_column(values: pd.Series, logical: str) -> pa.Array:
    if logical in _TEXT:
        return pa.array(values, type=pa.string(), from_pandas=True)
    if logical == "bool":
        return pa.array(values, type=pa.bool_(), from_pandas=True)
    if logical == "currency":
        return pa.array(pd.to_numeric(values).astype("float64"), from_pandas=True)
    if logical == "date":
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = pd.to_datetime(values)  # date objects or "YYYY-MM-DD" strings
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        return pa.array(values.dt.normalize(), from_pandas=True).cast(pa.date32())
    if logical == "datetime":
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            values = values.dt.tz_localize("UTC")  # Salesforce datetimes are UTC
        else:
            values = pd.to_datetime(values, utc=True, format="ISO8601")
        return pa.array(values.astype("datetime64[us, UTC]"), from_pandas=True)
    raise ValueError(f"unknown logical type {logical!r}")


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _content_hash(blobs: Iterable[bytes]) -> str:
    """``sha256:`` over the table files' bytes, concatenated in ``SCHEMA`` order."""
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(blob)
    return f"sha256:{digest.hexdigest()}"


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse a target that ``write`` must not replace: anything but a snapshot or nothing.

    ``write`` checks this itself; call it first to fail before a long extraction.

    Raises:
        SnapshotError: ``out_dir`` is a file, or a non-empty directory without a manifest.
    """
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise SnapshotError("exists and is not a directory; choose another one", path=out_dir)
    if any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise SnapshotError(
            "exists and is not a snapshot directory; choose a new or empty one", path=out_dir
        )


def _publish(tmp: Path, out_dir: Path) -> None:
    """Rename ``tmp`` to ``out_dir``, replacing a previous snapshot there."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    # rename(2) cannot replace a non-empty directory: move the old one aside first and
    # put it back if the swap fails, so out_dir always holds a complete snapshot.
    old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --- load --------------------------------------------------------------------------------


def load(path: str | Path) -> Snapshot:
    """Read and validate a snapshot directory, converting types and adding derived columns.

    Derived columns: on applications ``submitted_day``, ``decision_day``, ``signed_day``,
    ``paid_day``, ``cancelled_day`` (London local midnight, ``datetime64[ns]``, NaT when
    null), ``lender`` (canonical), ``product_family``, ``term_bucket`` and ``amount``
    (``Loan_Amount__c`` with null as 0); on accounts ``onboarded_day``.

    Args:
        path: The snapshot directory.

    Returns:
        The ``Snapshot``.

    Raises:
        SnapshotError: The directory, manifest, a table or a column is missing or has the
            wrong type (the message names them), or the files are corrupt (their hash does
            not match the manifest, or they are not readable parquet).
    """
    path = Path(path)
    manifest, blobs = _read_checked(path)
    frames = {table: _read_table(path, table, blob) for table, blob in blobs.items()}
    for table, frame in frames.items():
        _check_rows(path, table, len(frame), manifest)
    applications = _derive_applications(frames["applications"])
    return Snapshot(
        path=path,
        manifest=manifest,
        users=frames["users"],
        accounts=_derive_accounts(frames["accounts"]),
        applications=applications,
    )


@dataclass(frozen=True, eq=False)
class Header:
    """A snapshot's manifest, users and accounts: what the runner needs to plan a run.

    The applications, the bulk of a snapshot, are left to the notebooks, which load the
    whole snapshot (:func:`load`) in their kernels.
    """

    path: Path
    manifest: dict
    users: pd.DataFrame = field(repr=False)
    accounts: pd.DataFrame = field(repr=False)


def load_header(path: str | Path) -> Header:
    """Validate a snapshot as :func:`load` does, and read only its users and accounts.

    Every check of :func:`load` is made (manifest, content hash, each table readable with
    every column of the right type and the manifest's row count), the applications' from
    their parquet schema and metadata, so a run refuses a bad snapshot before any kernel
    starts without paying to convert the applications, which it never reads.

    Raises:
        SnapshotError: as :func:`load`.
    """
    path = Path(path)
    manifest, blobs = _read_checked(path)
    frames: dict[str, pd.DataFrame] = {}
    for table, blob in blobs.items():
        if table == "applications":
            file = _parquet(path, table, blob)
            _check_columns(path, table, file.schema_arrow)
            _check_rows(path, table, file.metadata.num_rows, manifest)
        else:
            frames[table] = _read_table(path, table, blob)
            _check_rows(path, table, len(frames[table]), manifest)
    return Header(
        path=path,
        manifest=manifest,
        users=frames["users"],
        accounts=_derive_accounts(frames["accounts"]),
    )


def _read_checked(path: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and the table files' bytes, checked against the manifest's hash."""
    if not path.is_dir():
        raise SnapshotError(
            "no snapshot directory here; create one with `broadsheet extract --source demo`",
            path=path,
        )
    manifest = _read_manifest(path)
    blobs: dict[str, bytes] = {}
    for table in SCHEMA:
        file = path / f"{table}.parquet"
        try:
            blobs[table] = file.read_bytes()
        except FileNotFoundError:
            raise SnapshotError(
                f"table file {file.name} is missing; {_HOW_TO_FIX}", path=path, table=table
            ) from None
        except OSError as exc:
            raise SnapshotError(f"cannot read {file.name}: {exc}", path=path, table=table) from exc
    if _content_hash(blobs.values()) != manifest["content_hash"]:
        raise SnapshotError(
            f"snapshot is corrupt: the table files do not match the manifest's content_hash; "
            f"{_HOW_TO_FIX}",
            path=path,
        )
    return manifest, blobs


def _check_rows(path: Path, table: str, rows: int, manifest: dict) -> None:
    expected = manifest["row_counts"].get(table)
    if expected != rows:
        raise SnapshotError(
            f"snapshot is corrupt: {rows} rows, the manifest says {expected}",
            path=path,
            table=table,
        )


def _derive_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    accounts["onboarded_day"] = pd.to_datetime(accounts["Onboarded_Date__c"]).astype(
        "datetime64[ns]"
    )
    return accounts


def _read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{MANIFEST} is missing; {_HOW_TO_FIX}", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(
            f"snapshot is corrupt: {MANIFEST} is not readable JSON ({exc})", path=path
        ) from exc
    if not isinstance(manifest, dict):
        raise SnapshotError(f"snapshot is corrupt: {MANIFEST} is not a JSON object", path=path)
    for key in _MANIFEST_KEYS:
        if key not in manifest:
            raise SnapshotError(f"{MANIFEST} has no {key!r}; {_HOW_TO_FIX}", path=path)
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise SnapshotError(
            f"{MANIFEST}: schema_version {manifest['schema_version']!r} is not "
            f"{SCHEMA_VERSION}; {_HOW_TO_FIX}",
            path=path,
        )
    try:
        date.fromisoformat(manifest["as_of"])
    except (TypeError, ValueError):
        raise SnapshotError(
            f"{MANIFEST}: as_of {manifest['as_of']!r} is not a YYYY-MM-DD date", path=path
        ) from None
    if not isinstance(manifest["row_counts"], dict):
        raise SnapshotError(f"{MANIFEST}: row_counts is not an object", path=path)
    return manifest


def _parquet(path: Path, table: str, blob: bytes) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(pa.BufferReader(blob))
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, table, exc) from exc


def _unreadable(path: Path, table: str, exc: Exception) -> SnapshotError:
    return SnapshotError(
        f"snapshot is corrupt: {table}.parquet is not readable parquet ({exc}); {_HOW_TO_FIX}",
        path=path,
        table=table,
    )


def _check_columns(path: Path, table: str, schema: pa.Schema) -> None:
    """Every column of ``SCHEMA[table]`` is stored, in a type it can be read as."""
    for column, logical in SCHEMA[table].items():
        if column not in schema.names:
            raise SnapshotError(
                f"column is missing; {_HOW_TO_FIX}", path=path, table=table, column=column
            )
        found = schema.field(column).type
        if not _compatible(found, logical):
            raise SnapshotError(
                f"has type {found}, expected {_ARROW[logical]} ({logical})",
                path=path,
                table=table,
                column=column,
            )


def _read_table(path: Path, table: str, blob: bytes) -> pd.DataFrame:
    file = _parquet(path, table, blob)
    try:
        data = file.read()
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, table, exc) from exc
    _check_columns(path, table, data.schema)
    arrays = [
        data.column(column).cast(_ARROW[logical]) for column, logical in SCHEMA[table].items()
    ]
    return pa.Table.from_arrays(arrays, names=list(SCHEMA[table])).to_pandas()


def _compatible(found: pa.DataType, logical: str) -> bool:
    """Whether a stored arrow type can be read as ``logical`` without reinterpretation."""
    if pa.types.is_null(found):  # an all-null column written without a type
        return True
    if logical in _TEXT:
        return pa.types.is_string(found) or pa.types.is_large_string(found)
    if logical == "bool":
        return pa.types.is_boolean(found)
    if logical == "date":
        return pa.types.is_date(found)
    if logical == "datetime":
        return pa.types.is_timestamp(found) and found.tz is not None
    if logical == "currency":
        return (
            pa.types.is_floating(found) or pa.types.is_integer(found) or pa.types.is_decimal(found)
        )
    return False


def _derive_applications(apps: pd.DataFrame) -> pd.DataFrame:
    for source, day in _DAY_COLUMNS.items():
        apps[day] = periods.local_day(apps[source])
    apps["lender"] = lenders.normalise_series(apps["Lender_Name__c"])
    apps["product_family"] = products.family_series(apps["Product_Code__c"])
    apps["term_bucket"] = products.term_bucket_series(apps["Product_Code__c"])
    apps["amount"] = apps["Loan_Amount__c"].fillna(0.0)
    return apps
