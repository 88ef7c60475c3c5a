"""The Salesforce fields of each snapshot table, and their conversion to stored types."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from lib import snapshot
from lib.errors import SourceError

log = logging.getLogger(__name__)

_SOBJECTS = {"users": "User", "accounts": "Account", "applications": "Application__c"}
_KINDS = {"id": "str", "string": "str", "email": "str", "picklist": "str", "currency": "float"}
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    table: (_SOBJECTS[table], {col: _KINDS.get(t, t) for col, t in columns.items()})
    for table, columns in snapshot.SCHEMA.items()
}
"""Table -> (Salesforce object, field -> conversion): exactly the snapshot's columns."""
PICKLISTS: dict[tuple[str, str], frozenset[str]] = {
    ("accounts", "Retailer_Status__c"): frozenset({"Onboarding", "Live", "Suspended", "Closed"}),
    ("applications", "Status__c"): frozenset(
        {"Submitted", "Referred", "Approved", "Declined", "Signed", "Paid", "Cancelled"}
    ),
    ("applications", "Decision__c"): frozenset({"Approved", "Declined"}),
}
_SF_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"


def missing_message(sobject: str, missing: list[str]) -> str:
    return (
        f"Salesforce does not return these {sobject} fields: {', '.join(missing)}. Give the "
        "integration user read access to them (field-level security) or check that they exist"
    )


def to_frame(table: str, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One page of REST records as a frame of stored types (domain §2, architecture)."""
    sobject, types = TABLES[table]
    if records:
        missing = [f for f in types if f not in records[0]]
        if missing:
            raise SourceError(missing_message(sobject, missing))
    columns: dict[str, Any] = {}
    for name, kind in types.items():
        values = [r[name] for r in records]
        try:
            columns[name] = _convert(values, kind)
        except (ValueError, TypeError) as exc:
            raise SourceError(f"Salesforce {sobject}.{name}: unexpected value ({exc})") from None
    return pd.DataFrame(columns)


def _convert(values: list[Any], kind: str) -> Any:
    if kind == "str":
        return pd.Series(values, dtype="str")
    if kind == "float":
        return pd.Series(values, dtype="float64")
    if kind == "bool":
        if any(v is None for v in values):
            raise ValueError("null in a checkbox field")
        return pd.Series(values, dtype="bool")
    if kind == "date":
        return pd.Series([date.fromisoformat(v) if v else None for v in values], dtype="object")
    if kind == "datetime":
        parsed = pd.to_datetime(pd.Series(values, dtype="object"), format=_SF_DATETIME, utc=True)
        return parsed.astype("datetime64[us, UTC]")
    raise AssertionError(kind)


def warn_picklists(tables: Mapping[str, pd.DataFrame]) -> None:
    for (table, column), allowed in PICKLISTS.items():
        values = tables[table][column].dropna()
        odd = values[~values.isin(allowed)]
        if len(odd):
            counts = odd.value_counts()
            shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(5).items())
            log.warning(
                "%s.%s has values outside domain §2, kept as they are: %s",
                TABLES[table][0],
                column,
                shown,
            )
