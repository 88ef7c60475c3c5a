"""The hand-built book of the report and board tests, small enough to work out by hand.

As of A = 2026-03-31, a month end (M = March 2026, M_prev = February 2026, M_ly = March
2025). All times fall in GMT (British Summer Time starts on 29 March 2026), so each UTC
day is the London day.

    users     U1 Bea One, U2 Cal Two, U3 Ada Gone (inactive)
    accounts  R1 U1 Live       "Smith & Sons <Beds>"   (a name HTML must escape)
              R2 U1 Live       "Ace Sofas"
              R3 U2 Suspended  "Zed Kitchens"
              R4 U2 Live       "Quiet Ltd"             no applications
              R5 U3 Live       "Old Hands"             no applications
              R6 -  Closed     "Shut Co"               no owner, no applications

What the applications add up to (worked out from ``APPS``):

    submissions   M: A1 A2 A5 A8 = 4      M_prev: A3 A4 = 2          M_ly: A7 = 1
    paid          M: A1 A4 = 2            M_prev: A3 = 1             M_ly: A7 = 1
    paid_value    M: 1000 + 2000 = 3000   M_prev: 250                M_ly: 600
    pipeline      ANS: A6 (decided 1 Dec, 120 days), A5 (decided 20 Mar, 11 days)
                  SNP: A2 (signed 12 Mar, 19 days)
    inactive      R4, R5 (Live, nothing submitted 2-31 Mar; R1's A1 on 2 Mar counts)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from lib.snapshot import Snapshot
from tests.fixtures.data import book_snapshot

A = date(2026, 3, 31)

USERS = [("U1", "Bea One"), ("U2", "Cal Two"), ("U3", "Ada Gone")]
INACTIVE_USERS = {"U3"}
ACCOUNTS = [
    ("R1", "U1", "Live", "2025-01-01"),
    ("R2", "U1", "Live", "2025-01-01"),
    ("R3", "U2", "Suspended", "2025-01-01"),
    ("R4", "U2", "Live", None),
    ("R5", "U3", "Live", None),
    ("R6", None, "Closed", None),
]
NAMES = {
    "R1": "Smith & Sons <Beds>",
    "R2": "Ace Sofas",
    "R3": "Zed Kitchens",
    "R4": "Quiet Ltd",
    "R5": "Old Hands",
    "R6": "Shut Co",
}
# id, retailer, lender, family, amount, submitted (UTC), decision, decided (UTC),
# signed day, paid day, cancelled day
APPS = [
    ("A1", "R1", "Northwind Bank", "Interest Free", 1000.00, "2026-03-02T09:00", "Approved", "2026-03-02T15:00", "2026-03-05", "2026-03-09", None),
    ("A2", "R1", "Oakfield Bank", "Buy Now Pay Later", 500.00, "2026-03-10T09:00", "Approved", "2026-03-11T09:00", "2026-03-12", None, None),
    ("A3", "R1", "Northwind Bank", "Interest Free", 250.00, "2026-02-03T09:00", "Approved", "2026-02-03T12:00", "2026-02-04", "2026-02-10", None),
    ("A4", "R2", "Northwind Bank", "Interest Free", 2000.00, "2026-02-10T09:00", "Approved", "2026-02-10T12:00", "2026-02-12", "2026-03-03", None),
    ("A5", "R2", "Northwind Bank", "Interest Free", 800.00, "2026-03-20T09:00", "Approved", "2026-03-20T12:00", None, None, None),
    ("A6", "R3", "Oakfield Bank", "Hire Purchase", 3000.00, "2025-12-01T09:00", "Approved", "2025-12-01T12:00", None, None, None),
    ("A7", "R3", "Oakfield Bank", "Hire Purchase", 600.00, "2025-03-12T09:00", "Approved", "2025-03-12T12:00", "2025-03-14", "2025-03-20", None),
    ("A8", "R1", "Oakfield Bank", "Interest Free", 400.00, "2026-03-25T09:00", "Declined", "2026-03-26T09:00", None, None, None),
]  # fmt: skip


def report_snapshot(
    apps: list[tuple] = APPS, accounts: list[tuple] = ACCOUNTS, users: list[tuple] = USERS
) -> Snapshot:
    """The book above, with its retailers' names and U3 inactive."""
    snap = book_snapshot(apps, accounts, users, as_of=A)
    named = snap.accounts.assign(Name=[NAMES.get(i, f"Retailer {i}") for i in snap.accounts["Id"]])
    active = snap.users.assign(IsActive=[i not in INACTIVE_USERS for i in snap.users["Id"]])
    return replace(snap, accounts=named, users=active)
