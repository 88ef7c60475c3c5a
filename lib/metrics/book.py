"""A snapshot as flat numpy arrays, each application coded with its group once.

:func:`prepare` reads the applications and accounts of a snapshot into a :class:`Book`:
days as int64 day numbers, amounts in whole pence, lenders and product families as codes,
and every application's group (the whole book, its retailer or its retailer's BDM), so
that :mod:`lib.metrics.kernels` computes every metric with masks and ``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lib.errors import InputError, SnapshotError

if TYPE_CHECKING:
    from lib.snapshot import Snapshot

ALL = "all"
UNASSIGNED = "unassigned"

_NEVER = np.iinfo(np.int64).max  # day number of a missing date: never "in W", never "≤ A"
_EPOCH = date(1970, 1, 1)

APP_COLUMNS = (
    "Name", "Retailer__c", "Decision__c", "Submitted_Date__c", "Decision_Date__c",
    "submitted_day", "decision_day", "signed_day", "paid_day", "cancelled_day",
    "lender", "product_family", "amount",
)  # fmt: skip
_ACCOUNT_COLUMNS = ("Id", "OwnerId", "Retailer_Status__c", "onboarded_day")


def day_column(d: date) -> int:
    return (d - _EPOCH).days


def require(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise SnapshotError(
                "missing column; load the snapshot with lib.snapshot.load, which adds the "
                "derived columns",
                table=table,
                column=column,
            )


def day_numbers(values: pd.Series) -> np.ndarray:
    """Local-midnight datetimes → int64 days since 1970-01-01, ``_NEVER`` where missing."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        # A tz-aware "day" column would be bucketed on UTC days, silently moving late events.
        raise SnapshotError("expected naive London-local days", column=str(values.name))
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values)
    days = values.to_numpy(dtype="datetime64[D]").astype(np.int64)
    days[values.isna().to_numpy()] = _NEVER
    return days


def decisions(apps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approved and declined flags, and the decision day (``_NEVER`` when undecided)."""
    decision = apps["Decision__c"]
    approved = (decision == "Approved").to_numpy(bool, na_value=False)
    declined = (decision == "Declined").to_numpy(bool, na_value=False)
    decided_day = np.where(approved | declined, day_numbers(apps["decision_day"]), _NEVER)
    return approved, declined, decided_day


def _utc(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values, utc=True, format="ISO8601")


def within(days: np.ndarray, start: int, end: int) -> np.ndarray:
    return (days >= start) & (days <= end)


@dataclass
class Book:
    """The applications and accounts of a snapshot as flat numpy arrays, grouped once."""

    keys: list[str]
    g: np.ndarray  # group code of each application
    r: np.ndarray  # retailer code of each application; -1 when it has no retailer
    n_retailers: int
    submitted: np.ndarray
    decided_day: np.ndarray  # decision day, _NEVER when Decision__c is unset
    signed: np.ndarray
    paid: np.ndarray
    cancelled: np.ndarray
    approved: np.ndarray
    declined: np.ndarray
    pence: np.ndarray  # float64 holding whole pence: exact sums below 2**53 pence
    hours: np.ndarray
    pay_days: np.ndarray
    lender: np.ndarray
    lenders: list[str]
    family: np.ndarray
    families: list[str]
    acc_g: np.ndarray
    acc_r: np.ndarray
    acc_onboarded: np.ndarray
    acc_live: np.ndarray

    @property
    def n(self) -> int:
        return len(self.keys)

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.g[mask], minlength=self.n)

    def pence_sum(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.g[mask], weights=self.pence[mask], minlength=self.n)


def _codes(index: pd.Index, values: pd.Series | np.ndarray, missing: int) -> np.ndarray:
    codes = index.get_indexer(values)
    codes[codes < 0] = missing
    return codes.astype(np.int64)


def prepare(snap: Snapshot, by: str | None) -> Book:
    apps, accounts = snap.applications, snap.accounts
    require(apps, "applications", APP_COLUMNS)
    require(accounts, "accounts", _ACCOUNT_COLUMNS)
    # An account without an Id cannot be a retailer of any application; a duplicated Id is
    # one retailer. Either would otherwise be counted twice or grouped nowhere.
    accounts = accounts[accounts["Id"].notna().to_numpy()].drop_duplicates("Id")

    # Retailers: every account, then retailers that only appear on applications.
    account_ids = pd.Index(accounts["Id"])
    app_retailers = apps["Retailer__c"]
    orphans = sorted(set(app_retailers.dropna().unique()) - set(account_ids))
    retailers = account_ids.append(pd.Index(orphans, dtype=account_ids.dtype))
    r = retailers.get_indexer(app_retailers).astype(np.int64)
    acc_r = retailers.get_indexer(accounts["Id"]).astype(np.int64)

    if by is None:
        keys = [ALL]
        g = np.zeros(len(apps), np.int64)
        acc_g = np.zeros(len(accounts), np.int64)
    elif by == "retailer":
        keys = list(retailers)
        g = np.where(r >= 0, r, len(keys))
        acc_g = acc_r
        if (r < 0).any():
            keys.append(UNASSIGNED)
    elif by == "bdm":
        owner_of = accounts.set_index("Id")["OwnerId"]
        owned = set(owner_of.dropna())
        ordered = [u for u in pd.unique(snap.users["Id"]) if u in owned]
        keys = ordered + sorted(owned - set(ordered))
        owners = pd.Index(keys, dtype=object)
        unassigned = len(keys)
        owner_code = _codes(owners, owner_of.reindex(retailers).to_numpy(object), unassigned)
        g = np.where(r >= 0, owner_code[np.maximum(r, 0)], unassigned)
        acc_g = _codes(owners, accounts["OwnerId"].to_numpy(object), unassigned)
        if (g == unassigned).any() or (acc_g == unassigned).any():
            keys.append(UNASSIGNED)
    else:
        raise InputError(f"unknown grouping by={by!r}; did you mean one of: None, bdm, retailer")

    approved, declined, decided_day = decisions(apps)
    signed = day_numbers(apps["signed_day"])
    paid = day_numbers(apps["paid_day"])
    # Elapsed hours from the UTC timestamps, so a clock change never adds or loses an hour.
    hours = (_utc(apps["Decision_Date__c"]) - _utc(apps["Submitted_Date__c"])) / pd.Timedelta(
        hours=1
    )
    pay_days = np.where((signed != _NEVER) & (paid != _NEVER), paid - signed, np.nan)
    amount = apps["amount"].astype("float64").fillna(0.0).to_numpy()
    lender, lenders = pd.factorize(apps["lender"].fillna("Unknown"))
    family, families = pd.factorize(apps["product_family"].fillna("Other"))

    return Book(
        keys=keys,
        g=g.astype(np.int64),
        r=r,
        n_retailers=len(retailers),
        submitted=day_numbers(apps["submitted_day"]),
        decided_day=decided_day,
        signed=signed,
        paid=paid,
        cancelled=day_numbers(apps["cancelled_day"]),
        approved=approved,
        declined=declined,
        pence=np.rint(amount * 100.0),
        hours=hours.to_numpy("float64", na_value=np.nan),
        pay_days=pay_days.astype("float64"),
        lender=lender.astype(np.int64),
        lenders=[str(x) for x in lenders],
        family=family.astype(np.int64),
        families=[str(x) for x in families],
        acc_g=acc_g.astype(np.int64),
        acc_r=acc_r,
        acc_onboarded=day_numbers(accounts["onboarded_day"]),
        acc_live=(accounts["Retailer_Status__c"] == "Live").to_numpy(bool, na_value=False),
    )
