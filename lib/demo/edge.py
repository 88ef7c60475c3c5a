"""The demo company's awkward corners: what real books hold and the demo alone does not.

``broadsheet demo --edge-cases`` adds to the generated company retailers named as Salesforce
allows (255 characters without a space, a control character, markup, two of one name), a
Live retailer with no application at all, a BDM whose retailers are all suspended and a
BDM with a single retailer, applications without an amount, events on both clock changes
and on 29 February, and a lender spelled five ways. Every report must render them.

Everything here is fixed (no random draws), so the generated company underneath keeps its
bytes, and the same arguments give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from lib.demo.company import COMPANY_DOMAIN
from lib.demo.ids import sf_ids
from lib.periods import LONDON

LONG_NAME = "Brackenridge" + "X" * 243
"""255 characters and no space to wrap at: the longest Account name Salesforce allows."""

CONTROL_NAME = "Bell\x07 & Sons\n<Kitchens>"
"""A name with a BEL and a line break pasted into it, and markup."""

TWIN_NAME = "Smile Dental"
"""Two retailers share this name (Salesforce does not make Account names unique)."""

LENDER_SPELLINGS = (
    "Harrowgate Credit",
    "HARROWGATE CREDIT LTD",
    "harrowgate  credit",
    " Harrowgate Credit, Ltd. ",
    "Harrowgate Credit UK Limited",
)
"""One lender off the panel, as five people typed it: all normalise to the first."""

ODD_LENDER = "Quayside\x07<Finance> & Co"
"""A lender with a BEL and markup in its name."""

# Ids far above any the generator hands out (it starts below 62**6), so none collide.
_FIRST_NUMBER = 62**7


@dataclass(frozen=True)
class _Retailer:
    key: str
    name: str
    status: str
    owner: str  # "base" (the first active BDM), "single" or "suspended"
    busy: int  # applications per day over the recent past; 0: none at all
    amount: float


_RETAILERS = (
    _Retailer("long", LONG_NAME, "Live", "base", 2, 24_000.0),
    _Retailer("control", CONTROL_NAME, "Live", "base", 2, 23_500.0),
    _Retailer("twin-a", TWIN_NAME, "Live", "base", 1, 21_000.0),
    _Retailer("twin-b", TWIN_NAME, "Live", "base", 1, 20_500.0),
    _Retailer("empty", "Ángel's Empty Workshop", "Live", "base", 0, 0.0),
    _Retailer("single", 'Łódź & Zoë\'s "Bikes"/Repairs', "Live", "single", 1, 1_500.0),
    _Retailer("suspended-1", "Penrose Paused Furnishings", "Suspended", "suspended", 1, 2_000.0),
    _Retailer("suspended-2", "Oldfield Halted Kitchens", "Suspended", "suspended", 1, 6_000.0),
)
_BDMS = (("single", "Nadia Single-Retailer"), ("suspended", "Ewan All-Suspended"))


def add_edge_cases(tables: dict[str, pd.DataFrame], *, as_of: date) -> dict[str, pd.DataFrame]:
    """The demo tables with the edge cases appended (the given rows are left as they are).

    Args:
        tables: ``users``, ``accounts`` and ``applications`` from ``lib.demo.generate``.
        as_of: The last complete day of data; nothing is dated after its end (London).

    Returns:
        New tables in the snapshot's stored types.
    """
    users, accounts, apps = tables["users"], tables["accounts"], tables["applications"]
    active = users.loc[users["IsActive"], "Id"]
    base_owner = str(active.iloc[0]) if len(active) else None
    user_ids = sf_ids("005", np.arange(len(_BDMS)) + _FIRST_NUMBER)
    owners = {"base": base_owner or str(user_ids[0])}
    owners.update({key: str(uid) for (key, _), uid in zip(_BDMS, user_ids, strict=True)})
    new_users = pd.DataFrame(
        {
            "Id": pd.Series(user_ids, dtype="str"),
            "Name": pd.Series([name for _, name in _BDMS], dtype="str"),
            "Email": pd.Series([f"{key}.bdm@{COMPANY_DOMAIN}" for key, _ in _BDMS], dtype="str"),
            "IsActive": np.ones(len(_BDMS), dtype=bool),
        }
    )
    account_ids = sf_ids("001", np.arange(len(_RETAILERS)) + _FIRST_NUMBER)
    new_accounts = pd.DataFrame(
        {
            "Id": pd.Series(account_ids, dtype="str"),
            "Name": pd.Series([r.name for r in _RETAILERS], dtype="str"),
            "OwnerId": pd.Series([owners[r.owner] for r in _RETAILERS], dtype="str"),
            "Retailer_Status__c": pd.Series([r.status for r in _RETAILERS], dtype="str"),
            "Onboarded_Date__c": pd.Series(
                [as_of - timedelta(days=500 - 20 * i) for i in range(len(_RETAILERS))],
                dtype=object,
            ),
            "Primary_Contact_Email__c": pd.Series(
                [f"accounts@{r.key}.example" for r in _RETAILERS], dtype="str"
            ),
            "Sector__c": pd.Series(["Furniture"] * len(_RETAILERS), dtype="str"),
        }
    )
    rows = _applications(dict(zip((r.key for r in _RETAILERS), account_ids, strict=True)), as_of)
    new_apps = _frame(rows, as_of)
    return {
        "users": pd.concat([users, new_users], ignore_index=True),
        "accounts": pd.concat([accounts, new_accounts], ignore_index=True),
        "applications": pd.concat([apps, new_apps], ignore_index=True),
    }


def _utc(day: date, hour: float) -> datetime:
    """``hour`` o'clock London time on ``day``, in UTC."""
    local = datetime.combine(day, time()) + timedelta(hours=hour)
    return local.replace(tzinfo=LONDON).astimezone(UTC)


def _clock_changes(as_of: date) -> list[datetime]:
    """UTC instants around the latest spring and autumn clock changes up to ``as_of``.

    Half an hour either side of the change at 01:00 UTC, and a quarter past midnight
    London time that Sunday (in summer time, still Saturday in UTC).
    """
    out = []
    for month in (3, 10):
        for year in (as_of.year, as_of.year - 1):
            last = date(year, month, 31)
            sunday = last - timedelta(days=(last.weekday() + 1) % 7)
            if sunday <= as_of:
                change = datetime.combine(sunday, time(1), tzinfo=UTC)
                past_midnight = _utc(sunday, 0.25)
                out += [change - timedelta(minutes=30), change + timedelta(minutes=30)]
                out.append(past_midnight)
                break
    return out


def _leap_days(as_of: date) -> list[datetime]:
    """Noon and half past eleven at night on the latest 29 February up to ``as_of``."""
    year = as_of.year
    while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) or date(year, 2, 29) > as_of:
        year -= 1
    leap = date(year, 2, 29)
    return [_utc(leap, 12), _utc(leap, 23.5)]


def _applications(ids: dict[str, str], as_of: date) -> list[dict]:
    """Application rows (submitted time, funnel offsets, lender, amount) per retailer."""
    rows: list[dict] = []
    lenders = (*LENDER_SPELLINGS, "Northwind Bank", "Oakfield Bank Ltd", ODD_LENDER)
    for r in _RETAILERS:
        if not r.busy:
            continue  # a Live retailer with no application at all
        # Suspended retailers stopped two months ago; the others run up to as_of.
        last = as_of - timedelta(days=60 if r.status == "Suspended" else 0)
        days = [last - timedelta(days=d) for d in range(150)]
        times = [_utc(d, 10 + 3 * k) for d in days for k in range(r.busy)]
        if r.key in ("single", "long"):
            times += _clock_changes(as_of) + _leap_days(as_of)
        for n, submitted in enumerate(sorted(times)):
            # Every seventh without an amount: counted in counts, £0 in values.
            amount = None if n % 7 == 3 else r.amount - 100.0 * (n % 5)
            rows.append(
                {
                    "retailer": ids[r.key],
                    "submitted": submitted,
                    "lender": lenders[n % len(lenders)],
                    "code": ("IFC-12", "ibc 36", "BNPL_006", "HP48", "PROMO")[n % 5],
                    "amount": amount,
                    # A cycle of outcomes: paid, approved and waiting, signed and waiting,
                    # declined, undecided, cancelled after approval.
                    "outcome": (
                        "paid",
                        "paid",
                        "approved",
                        "signed",
                        "declined",
                        "paid",
                        "open",
                        "cancelled",
                    )[n % 8],
                }  # fmt: skip
            )
    return rows


_OFFSETS = {  # hours after submission of decision, signing, payment and cancellation
    "paid": (2.0, 26.0, 74.0, None),
    "approved": (2.0, None, None, None),
    "signed": (2.0, 26.0, None, None),
    "declined": (3.0, None, None, None),
    "open": (None, None, None, None),
    "cancelled": (2.0, None, None, 100.0),
}


def _frame(rows: list[dict], as_of: date) -> pd.DataFrame:
    """The rows as ``Application__c`` records; events after ``as_of`` have not happened."""
    end = _utc(as_of + timedelta(days=1), 0)
    numbers = np.arange(len(rows)) + _FIRST_NUMBER
    records = []
    for i, row in enumerate(rows):
        submitted = row["submitted"]
        decision_h, signed_h, paid_h, cancelled_h = _OFFSETS[row["outcome"]]

        def at(hours: float | None, submitted: datetime = submitted) -> datetime | None:
            t = None if hours is None else submitted + timedelta(hours=hours)
            return t if t is not None and t < end else None

        decided, signed, paid, cancelled = (
            at(h) for h in (decision_h, signed_h, paid_h, cancelled_h)
        )
        verdict = (
            None if decided is None else "Declined" if row["outcome"] == "declined" else "Approved"
        )
        status = (
            "Cancelled" if cancelled else "Paid" if paid else "Signed" if signed
            else verdict or "Submitted"
        )  # fmt: skip
        stamps = [t for t in (submitted, decided, signed, paid, cancelled) if t is not None]
        records.append(
            {
                "Id": str(sf_ids("a0X", numbers[i : i + 1])[0]),
                "Name": f"APP-9{i:06d}",
                "Retailer__c": row["retailer"],
                "Lender_Name__c": row["lender"],
                "Product_Code__c": row["code"],
                "Loan_Amount__c": np.nan if row["amount"] is None else row["amount"],
                "Status__c": status,
                "Submitted_Date__c": submitted,
                "Decision__c": verdict,
                "Decision_Date__c": decided,
                "Signed_Date__c": signed,
                "Paid_Date__c": paid,
                "Cancelled_Date__c": cancelled,
                "SystemModstamp": max(stamps),
            }
        )
    frame = pd.DataFrame.from_records(records)
    for column in ("Submitted_Date__c", "Decision_Date__c", "Signed_Date__c", "Paid_Date__c",
                   "Cancelled_Date__c", "SystemModstamp"):  # fmt: skip
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    text = (
        "Id",
        "Name",
        "Retailer__c",
        "Lender_Name__c",
        "Product_Code__c",
        "Status__c",
        "Decision__c",
    )
    return frame.astype({c: "str" for c in text} | {"Loan_Amount__c": "float64"})
