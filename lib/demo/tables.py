"""The demo company's users, accounts and applications as Salesforce-shaped tables
(:func:`generate`); the package docstring (``lib.demo``) tells the whole contract.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import date

import numpy as np
import pandas as pd

from lib.demo.applications import generate_applications
from lib.demo.company import (
    COMPANY_DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    SECTOR_INDEX,
    SECTORS,
    SPECIAL_RETAILERS,
    window_start,
)
from lib.demo.edge import add_edge_cases
from lib.demo.ids import sequential, sf_ids
from lib.errors import InputError

log = logging.getLogger(__name__)


def generate(
    *,
    as_of: date,
    retailers: int = 150,
    seed: int = 7,
    applications: int | None = None,
    edge_cases: bool = False,
) -> dict[str, pd.DataFrame]:
    """Build the demo company's Salesforce tables up to the end of ``as_of`` (London).

    Args:
        as_of: The last complete day of data; nothing is dated after its end in
            Europe/London.
        retailers: Number of retailer accounts; BDMs scale with it (about 1 per 12).
        seed: Seed of ``numpy.random.default_rng``. Same arguments, same bytes.
        applications: About how many applications in all (the volumes are scaled to
            it, shapes kept); default what the retailers' volumes give (about 770 per
            retailer). For benchmarks of a bigger book.
        edge_cases: Add the awkward retailers, BDMs and applications of
            :mod:`lib.demo.edge` (long and odd names, no applications, all suspended, clock
            changes, 29 February, a lender spelled five ways) to the generated company.

    Returns:
        ``{"users": ..., "accounts": ..., "applications": ...}`` with exactly the
        Salesforce API columns of domain §2, in the snapshot's stored types.

    Raises:
        InputError: ``retailers`` is less than 1 or ``seed`` is negative.
    """
    if retailers < 1:
        raise InputError(f"retailers must be at least 1, got {retailers}")
    if seed < 0:
        raise InputError(f"seed must not be negative, got {seed}")
    if applications is not None and applications < 1:
        raise InputError(f"applications must be at least 1, got {applications}")
    # Independent streams per table, so changing how one table is drawn never reshuffles
    # the others.
    rng_users, rng_accounts, rng_apps = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    users, active_ids, inactive_ids = _users(rng_users, retailers)
    accounts, plan = _accounts(rng_accounts, as_of, retailers, active_ids, inactive_ids)
    apps = generate_applications(rng_apps, as_of, accounts, plan, total=applications)
    if edge_cases:
        edged = add_edge_cases(
            {"users": users, "accounts": accounts, "applications": apps}, as_of=as_of
        )
        users, accounts, apps = edged["users"], edged["accounts"], edged["applications"]
    log.info(
        "demo data for %s: %d users, %d accounts, %d applications",
        as_of,
        len(users),
        len(accounts),
        len(apps),
    )
    return {"users": users, "accounts": accounts, "applications": apps}


# --- users -------------------------------------------------------------------------------


# Letters that Unicode does not decompose into an ASCII base letter.
_TRANSLITERATE = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae"}
)


def _ascii_slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII letters and digits of ``text`` (for invented e-mail addresses)."""
    plain = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    words = ["".join(ch for ch in w if ch.isalnum()) for w in plain.lower().split()]
    return sep.join(w for w in words if w)


def _users(rng: np.random.Generator, retailers: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    n_active = max(1, round(retailers / 12))
    n_inactive = 2
    n = n_active + n_inactive
    names: list[str] = []
    firsts = rng.permutation(len(FIRST_NAMES))
    lasts = rng.permutation(len(LAST_NAMES))
    # Walk the first/last name grid diagonally so names stay distinct for any count.
    k = 0
    while len(names) < n:
        first = FIRST_NAMES[firsts[k % len(firsts)]]
        last = LAST_NAMES[lasts[(k + k // len(lasts)) % len(lasts)]]
        name = f"{first} {last}"
        if name not in names:
            names.append(name)
        k += 1
    ids = sf_ids("005", sequential(rng, n))
    emails = [f"{_ascii_slug(nm, '.')}@{COMPANY_DOMAIN}" for nm in names]
    active = np.arange(n) < n_active
    users = pd.DataFrame(
        {
            "Id": pd.Series(ids, dtype="str"),
            "Name": pd.Series(names, dtype="str"),
            "Email": pd.Series(emails, dtype="str"),
            "IsActive": active,
        }
    )
    return users, list(ids[:n_active]), list(ids[n_active:])


# --- accounts ----------------------------------------------------------------------------


def _accounts(
    rng: np.random.Generator,
    as_of: date,
    n: int,
    active_bdms: list[str],
    inactive_bdms: list[str],
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The retailers, and the plan of their activity that the applications follow."""
    as_of_ord = as_of.toordinal()

    # Statuses: at least one of each when there are enough retailers (always one Live),
    # placed after the showcase names where possible so that those stay Live.
    non_live: list[str] = []
    room = n - 1
    for label, share in (("Onboarding", 0.06), ("Suspended", 0.07), ("Closed", 0.10)):
        count = min(max(1, round(n * share)), room)
        non_live += [label] * count
        room -= count
    n_special = min(n, len(SPECIAL_RETAILERS))
    slots = np.concatenate([rng.permutation(np.arange(n_special, n)), rng.permutation(n_special)])
    status = np.full(n, "Live", dtype=object)
    status[slots[: len(non_live)]] = non_live

    # Sectors and names.
    sector_w = np.array([s.weight for s in SECTORS])
    sector = rng.choice(len(SECTORS), size=n, p=sector_w / sector_w.sum())
    names = _retailer_names(rng, sector)
    for i, (_, sec) in enumerate(SPECIAL_RETAILERS[:n]):
        sector[i] = SECTOR_INDEX[sec]

    # Onboarding: more recent is likelier (the company grows); up to five years back.
    age = np.floor(21 + (5 * 365 - 21) * (1 - np.sqrt(rng.random(n)))).astype(np.int64)
    live = np.flatnonzero(status == "Live")
    n_new = min(live.size, max(1, round(n * 0.04))) if live.size > 1 else 0
    n_quiet = min(live.size - n_new, max(1, round(n * 0.05))) if live.size > 2 else 0
    picked = rng.permutation(live)
    new, quiet = picked[:n_new], picked[n_new : n_new + n_quiet]
    age[new] = rng.integers(3, 29, size=new.size)
    age[quiet] = np.maximum(age[quiet], rng.integers(200, 900, size=quiet.size))
    suspended_or_closed = np.flatnonzero(np.isin(status, ["Suspended", "Closed"]))
    age[suspended_or_closed] = np.maximum(age[suspended_or_closed], 240)
    onboarded = as_of_ord - age
    onboarded_obj = np.array([date.fromordinal(int(o)) for o in onboarded], dtype=object)
    onboarded_obj[status == "Onboarding"] = None

    # When submissions stop: suspension, closure, or a Live retailer gone quiet.
    last_day = np.full(n, as_of_ord, dtype=np.int64)
    for idx, (lo, hi) in (
        (np.flatnonzero(status == "Suspended"), (7, 200)),
        (np.flatnonzero(status == "Closed"), (14, 500)),
        (quiet, (35, 150)),
    ):
        back = rng.integers(lo, hi, size=idx.size)
        last_day[idx] = np.maximum(as_of_ord - back, onboarded[idx] + 90)
    last_day[status == "Onboarding"] = onboarded[status == "Onboarding"] - 1  # none at all

    # Owners: every active BDM gets a Live retailer first, the rest by uneven portfolios;
    # inactive BDMs still own some closed retailers (nobody reassigned them).
    owner = np.empty(n, dtype=object)
    weights = rng.dirichlet(np.full(len(active_bdms), 4.0))
    owner[:] = np.array(active_bdms, dtype=object)[rng.choice(len(active_bdms), size=n, p=weights)]
    first_live = rng.permutation(live)[: len(active_bdms)]
    owner[first_live] = np.array(active_bdms, dtype=object)[: first_live.size]
    closed = np.flatnonzero(status == "Closed")
    orphaned = closed[rng.random(closed.size) < 0.4]
    owner[orphaned] = np.array(inactive_bdms, dtype=object)[
        rng.integers(0, len(inactive_bdms), size=orphaned.size)
    ]

    ids = sf_ids("001", sequential(rng, n))
    accounts = pd.DataFrame(
        {
            "Id": pd.Series(ids, dtype="str"),
            "Name": pd.Series(names, dtype="str"),
            "OwnerId": pd.Series(owner, dtype="str"),
            "Retailer_Status__c": pd.Series(status, dtype="str"),
            "Onboarded_Date__c": pd.Series(onboarded_obj, dtype=object),
            "Primary_Contact_Email__c": pd.Series(_contact_emails(rng, names), dtype="str"),
            "Sector__c": pd.Series(_sector_labels(rng, sector), dtype="str"),
        }
    )
    plan = {
        "sector": sector,
        "first_day": np.maximum(onboarded, window_start(as_of).toordinal()),
        "onboarded": onboarded,
        "last_day": last_day,
    }
    return accounts, plan


def _retailer_names(rng: np.random.Generator, sector: np.ndarray) -> list[str]:
    names = [name for name, _ in SPECIAL_RETAILERS[: sector.size]]
    seen = set(names)
    places = rng.permutation(len(PLACES))
    k = 0
    for i in range(len(names), sector.size):
        nouns = SECTORS[sector[i]].nouns
        while True:
            place = PLACES[places[k % len(places)]]
            noun = nouns[(k // len(places) + i) % len(nouns)]
            round_ = k // (len(places) * len(nouns))
            k += 1
            name = f"{place} {noun}" + (f" {round_ + 1}" if round_ else "")
            if rng.random() < 0.12:
                name += " Ltd"
            if name not in seen:
                break
        seen.add(name)
        names.append(name)
    return names


def _contact_emails(rng: np.random.Generator, names: list[str]) -> list[str | None]:
    """Mostly valid addresses; some null and some malformed, as typed into Salesforce."""
    out: list[str | None] = []
    draws = rng.random(len(names))
    local_parts = ("accounts", "info", "finance", "hello", "office")
    for name, u in zip(names, draws, strict=True):
        slug = _ascii_slug(name, "-") or "retailer"
        local = local_parts[int(u * 1000) % len(local_parts)]
        if u < 0.07:
            out.append(None)
        elif u < 0.09:
            out.append(f"{local} at {slug}.example")
        elif u < 0.11:
            out.append(f"{local}@{slug}")
        elif u < 0.12:
            out.append(f" {local}@@{slug}.example ")
        else:
            out.append(f"{local}@{slug}.example")
    return out


def _sector_labels(rng: np.random.Generator, sector: np.ndarray) -> list[str | None]:
    labels: list[str | None] = []
    for s, u in zip(sector, rng.random(sector.size), strict=True):
        variants = SECTORS[s].labels
        labels.append(None if u < 0.03 else variants[int(u * 997) % len(variants)])
    return labels
