"""Deterministic synthetic Salesforce data for the fictional demo company (domain §1–2).

``generate`` returns the three tables of a snapshot (``users``, ``accounts``,
``applications``) in their stored types, shaped exactly like a Salesforce extract: messy
lender spellings and product codes, null amounts, retailers in every status, names that
need escaping, and three years of applications that end at ``as_of`` (Europe/London).

Everything is vectorised with numpy: the per-retailer, per-day expected volume is one
matrix, Poisson counts expand it into applications, and each stage of the funnel is drawn
for all applications at once. The same arguments give the same bytes.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd

from lib import lenders
from lib.errors import InputError

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")

COMPANY_NAME = "Larkspur Retail Finance"
"""The invented company the demo data belongs to."""

COMPANY_DOMAIN = "larkspur-finance.example"

YEARS = 3
"""Years of application history ending at ``as_of``."""


# The demo company's lenders (domain §5), with how popular each is with retailers, how
# often it approves, and how its popularity drifts per year (so lender shares move over
# time, which the board pack comments on).
class _Lender(NamedTuple):
    name: str
    popularity: float
    approval: float
    drift: float  # yearly change of popularity, log scale


_LENDERS = (
    _Lender("Northwind Bank", 0.22, 0.72, -0.05),
    _Lender("Blue Heron Credit", 0.15, 0.64, 0.00),
    _Lender("Castlegate Finance", 0.12, 0.58, -0.10),
    _Lender("Meridian Consumer Lending", 0.12, 0.66, 0.05),
    _Lender("Oakfield Bank", 0.14, 0.74, 0.00),
    _Lender("Silverline Credit", 0.09, 0.55, 0.10),
    _Lender("Tidewater Finance", 0.09, 0.63, -0.05),
    _Lender("Kestrel Money", 0.07, 0.52, 0.35),
)

# Lenders outside the company's panel, and blanks, as they turn up in real data.
_UNKNOWN_LENDERS = (
    "Greyfriars Lending Ltd",
    "Pennant Credit",
    "quayside finance co",
    "Ravensworth Capital",
    "FINANCE-DIRECT",
)
_P_UNKNOWN_LENDER = 0.012
_P_NULL_LENDER = 0.006
_P_BLANK_LENDER = 0.002


# Sectors: weight among retailers, loan amount (median £, log-sd), product family mix
# (BNPL, IFC, IBC, HP), the spellings Sector__c arrives in, and shop-name nouns.
class _Sector(NamedTuple):
    name: str
    weight: float
    median: float
    sigma: float
    mix: tuple[float, ...]
    labels: tuple[str, ...]
    nouns: tuple[str, ...]


_SECTORS = (
    _Sector(
        "Furniture", 0.25, 1800, 0.60, (0.20, 0.50, 0.25, 0.05),
        ("Furniture", "Furniture", "furniture", "Home Furnishings"),
        ("Furnishings", "Sofas", "Beds", "Interiors", "Home Store", "Furniture"),
    ),
    _Sector(
        "Dental", 0.15, 3500, 0.55, (0.10, 0.50, 0.40, 0.00),
        ("Dental", "Dental", "Dentistry", "dental "),
        ("Dental", "Dental Care", "Dental Practice", "Orthodontics", "Smile Clinic"),
    ),
    _Sector(
        "Cycling", 0.12, 1400, 0.60, (0.25, 0.45, 0.20, 0.10),
        ("Bikes & Cycling", "Cycling", "Bicycles"),
        ("Cycles", "Bikes", "Bike Co", "Cycle Centre"),
    ),
    _Sector(
        "Home Improvement", 0.20, 7000, 0.60, (0.00, 0.25, 0.50, 0.25),
        ("Home Improvement", "Home Improvement", "Home improvements", "HOME IMPROVEMENT"),
        ("Windows & Doors", "Kitchens", "Bathrooms", "Roofing", "Solar", "Home Improvements"),
    ),
    _Sector(
        "Jewellery", 0.06, 900, 0.70, (0.45, 0.40, 0.15, 0.00),
        ("Jewellery", "Jewelry"),
        ("Jewellers", "Diamonds", "Goldsmiths"),
    ),
    _Sector(
        "Musical Instruments", 0.05, 1100, 0.70, (0.30, 0.50, 0.20, 0.00),
        ("Musical Instruments", "Music"),
        ("Music", "Guitars", "Pianos"),
    ),
    _Sector(
        "Mobility", 0.05, 3000, 0.50, (0.00, 0.40, 0.30, 0.30),
        ("Mobility", "Mobility Aids"),
        ("Mobility", "Stairlifts"),
    ),
    _Sector(
        "Hot Tubs & Garden", 0.06, 5000, 0.50, (0.05, 0.35, 0.35, 0.25),
        ("Hot Tubs & Garden", "Garden", "Leisure"),
        ("Hot Tubs", "Garden Rooms", "Garden Centre"),
    ),
    _Sector(
        "Aesthetics", 0.06, 2200, 0.60, (0.35, 0.45, 0.20, 0.00),
        ("Aesthetics", "Cosmetic"),
        ("Aesthetics", "Skin Clinic", "Laser Clinic"),
    ),
)  # fmt: skip
_SECTOR_INDEX = {s.name: i for i, s in enumerate(_SECTORS)}

# Names that exercise escaping and Unicode everywhere a retailer name is shown.
_SPECIAL_RETAILERS: tuple[tuple[str, str], ...] = (
    ("Harbour & Sons", "Home Improvement"),
    ("O'Neill's Bikes", "Cycling"),
    ("Smile/Dental Co", "Dental"),
    ("<Dent> Studio", "Dental"),
    ("Café Zoë Furnishings", "Furniture"),
    ("Łódź Interiors", "Furniture"),
    ('The "Comfy" Sofa Barn', "Furniture"),
    ("Müller & Søn Kitchens", "Home Improvement"),
    ("Ángel Guitar Workshop", "Musical Instruments"),
    ("Brontë Beds", "Furniture"),
)

_PLACES = (
    "Millbrook", "Ashworth", "Kingsley", "Penrose", "Thornbury", "Hollins", "Redcliffe",
    "Fairholme", "Wyndham", "Caldbeck", "Stanmoor", "Oldfield", "Brackenridge", "Eastleigh",
    "Hartwell", "Lindqvist", "Marlow", "Northgate", "Pemberton", "Quarry Hill", "Rosewood",
    "Saltash", "Tanner", "Upton", "Valley", "Westcombe", "Yarrow", "Abbotsford", "Beacon",
    "Chalkstone", "Dunmore", "Elmstead", "Foxley", "Greenhow", "Highfield", "Ivybridge",
    "Juniper", "Kelso", "Larchmont", "Moorcroft", "Newhaven", "Orchard", "Priory",
    "Riverside", "Seacroft", "Tillingham", "Wharfedale", "Pennine", "Cobble Lane", "Kowalski",
)  # fmt: skip

_FIRST_NAMES = (
    "Priya", "Tom", "Siobhán", "Kwame", "Hannah", "Marek", "Aisha", "Callum", "Fiona",
    "Dev", "Rhiannon", "Oluwaseun", "Ewan", "Zofia", "Gareth", "Mei", "Jonah", "Nadia",
)  # fmt: skip
_LAST_NAMES = (
    "Raman", "Whitfield", "Doyle", "Mensah", "Lewis", "Nowak", "Khan", "MacLeod", "Ó Briain",
    "Patel", "Pryce", "Adeyemi", "Grant", "Wiśniewska", "Hughes", "Chen", "Ellery", "Haddad",
)  # fmt: skip

# Product families as their code prefixes appear, with terms (months) and term weights.
_FAMILIES: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...] = (
    ("BNPL", (3, 6, 12), (0.30, 0.40, 0.30)),
    ("IFC", (6, 10, 12, 18, 24, 36), (0.15, 0.15, 0.30, 0.10, 0.20, 0.10)),
    ("IBC", (24, 36, 48, 60, 84, 120), (0.15, 0.30, 0.20, 0.25, 0.05, 0.05)),
    ("HP", (24, 36, 48, 60), (0.25, 0.35, 0.20, 0.20)),
)
# How a product code is typed: "BNPL-12", "ifc 24", "IBC_060", "hp36", ...
_CODE_STYLES = (
    lambda f, t: f"{f}-{t}",
    lambda f, t: f"{f.lower()} {t}",
    lambda f, t: f"{f}_{t:03d}",
    lambda f, t: f"{f.lower()}{t}",
    lambda f, t: f"{f.title()}{t}",
    lambda f, t: f"{f} {t}M",  # the trailing "M" leaves no trailing digits: term Unknown
    lambda f, t: f" {f}-{t} ",
    lambda f, t: f"{f}/{t}",
)
_CODE_STYLE_WEIGHTS = (0.40, 0.15, 0.15, 0.10, 0.10, 0.03, 0.05, 0.02)
_ODD_CODES = ("PROMO", "LEGACY-A", "STAFF", "TBC", "0%APR", "IF-C 12", "HP", "X99")
_P_ODD_CODE = 0.010
_P_NULL_CODE = 0.007
_P_NULL_AMOUNT = 0.007

_DOW_FACTOR = np.array([1.00, 1.05, 1.05, 1.10, 1.15, 0.45, 0.25])  # Mon..Sun: quiet weekends
_MONTH_FACTOR = np.array([1.10, 0.90, 1.00, 1.00, 1.00, 0.95, 0.95, 0.88, 1.00, 1.05, 1.15, 0.80])

_SF_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_SF_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_SF_POD = "8d"

_DAY = 86_400.0
_HOUR = 3_600.0


def generate(*, as_of: date, retailers: int = 150, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Build the demo company's Salesforce tables up to the end of ``as_of`` (London).

    Args:
        as_of: The last complete day of data; nothing is dated after its end in
            Europe/London.
        retailers: Number of retailer accounts; BDMs scale with it (about 1 per 12).
        seed: Seed of ``numpy.random.default_rng``. Same arguments, same bytes.

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
    # Independent streams per table, so changing how one table is drawn never reshuffles
    # the others.
    rng_users, rng_accounts, rng_apps = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    users, active_ids, inactive_ids = _users(rng_users, retailers)
    accounts, plan = _accounts(rng_accounts, as_of, retailers, active_ids, inactive_ids)
    applications = _applications(rng_apps, as_of, accounts, plan)
    log.info(
        "demo data for %s: %d users, %d accounts, %d applications",
        as_of,
        len(users),
        len(accounts),
        len(applications),
    )
    return {"users": users, "accounts": accounts, "applications": applications}


# --- ids ---------------------------------------------------------------------------------


def sf_ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """Salesforce-style 18-character ids for non-negative integers, vectorised.

    The 15-character id is the 3-character key prefix, a 2-character pod, a reserved
    ``0`` and the number in 9 base-62 digits; the 3-character suffix is Salesforce's
    case-safe checksum (one bit per upper-case letter in each 5-character chunk).

    Args:
        prefix: Key prefix (``005`` users, ``001`` accounts, ``a0X`` applications).
        numbers: Integers below 62**9.

    Returns:
        A numpy array of ``str``.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    head = np.frombuffer((prefix + _SF_POD + "0").encode("ascii"), dtype=np.uint8)
    digits = np.empty((n, 9), dtype=np.uint8)
    rest = numbers.copy()
    for pos in range(8, -1, -1):
        digits[:, pos] = _SF_BASE62[rest % 62]
        rest //= 62
    body = np.concatenate([np.broadcast_to(head, (n, 6)), digits], axis=1)
    upper = ((body >= ord("A")) & (body <= ord("Z"))).reshape(n, 3, 5)
    bits = (upper * (1 << np.arange(5))).sum(axis=2)
    full = np.ascontiguousarray(np.concatenate([body, _SF_SUFFIX[bits]], axis=1))
    return full.view("S18").ravel().astype("U18")


def _sequential(rng: np.random.Generator, n: int) -> np.ndarray:
    """Increasing record numbers with small gaps, as Salesforce hands them out."""
    start = int(rng.integers(62**5, 62**6))
    return start + np.cumsum(rng.integers(1, 40, size=n))


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
    firsts = rng.permutation(len(_FIRST_NAMES))
    lasts = rng.permutation(len(_LAST_NAMES))
    # Walk the first/last name grid diagonally so names stay distinct for any count.
    k = 0
    while len(names) < n:
        first = _FIRST_NAMES[firsts[k % len(firsts)]]
        last = _LAST_NAMES[lasts[(k + k // len(lasts)) % len(lasts)]]
        name = f"{first} {last}"
        if name not in names:
            names.append(name)
        k += 1
    ids = sf_ids("005", _sequential(rng, n))
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


def _window_start(as_of: date) -> date:
    try:
        return as_of.replace(year=as_of.year - YEARS) + timedelta(days=1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - YEARS, day=28) + timedelta(days=1)


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
    n_special = min(n, len(_SPECIAL_RETAILERS))
    slots = np.concatenate([rng.permutation(np.arange(n_special, n)), rng.permutation(n_special)])
    status = np.full(n, "Live", dtype=object)
    status[slots[: len(non_live)]] = non_live

    # Sectors and names.
    sector_w = np.array([s.weight for s in _SECTORS])
    sector = rng.choice(len(_SECTORS), size=n, p=sector_w / sector_w.sum())
    names = _retailer_names(rng, sector)
    for i, (_, sec) in enumerate(_SPECIAL_RETAILERS[:n]):
        sector[i] = _SECTOR_INDEX[sec]

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

    ids = sf_ids("001", _sequential(rng, n))
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
        "first_day": np.maximum(onboarded, _window_start(as_of).toordinal()),
        "onboarded": onboarded,
        "last_day": last_day,
    }
    return accounts, plan


def _retailer_names(rng: np.random.Generator, sector: np.ndarray) -> list[str]:
    names = [name for name, _ in _SPECIAL_RETAILERS[: sector.size]]
    seen = set(names)
    places = rng.permutation(len(_PLACES))
    k = 0
    for i in range(len(names), sector.size):
        nouns = _SECTORS[sector[i]].nouns
        while True:
            place = _PLACES[places[k % len(places)]]
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
        variants = _SECTORS[s].labels
        labels.append(None if u < 0.03 else variants[int(u * 997) % len(variants)])
    return labels


# --- applications ------------------------------------------------------------------------


def _applications(
    rng: np.random.Generator,
    as_of: date,
    accounts: pd.DataFrame,
    plan: dict[str, np.ndarray],
) -> pd.DataFrame:
    n_ret = len(accounts)
    start_ord = _window_start(as_of).toordinal()
    end_ord = as_of.toordinal()
    days = np.arange(start_ord, end_ord + 1)
    n_days = days.size
    epoch_ord = date(1970, 1, 1).toordinal()
    # Local-midnight offsets (seconds east of UTC) per day, far enough past as_of for
    # events that are drawn beyond it and then cut off.
    offsets = _utc_offsets(date.fromordinal(start_ord), n_days + 400)

    # Expected submissions per retailer per day: base volume x weekday x month x growth x
    # ramp-up after onboarding x weekly noise, zero outside the retailer's active span.
    base = np.clip(rng.lognormal(np.log(40.0), 0.75, size=n_ret), 3.0, 400.0) / 30.44
    growth = rng.normal(0.12, 0.15, size=n_ret)
    dow = (days - 1) % 7  # date.toordinal(): day 1 was a Monday
    months = (days - epoch_ord).astype("datetime64[D]").astype("datetime64[M]").astype(
        np.int64
    ) % 12
    season = _DOW_FACTOR[dow] * _MONTH_FACTOR[months] / _DOW_FACTOR.mean()
    years_back = (days - end_ord) / 365.25
    lam = base[:, None] * season[None, :] * np.exp(growth[:, None] * years_back[None, :])
    since = days[None, :] - plan["onboarded"][:, None]
    lam *= np.clip(0.3 + 0.7 * since / 60.0, 0.3, 1.0)
    lam *= (days[None, :] >= plan["first_day"][:, None]) & (
        days[None, :] <= plan["last_day"][:, None]
    )
    weeks = (days - days[0]) // 7
    noise = rng.gamma(8.0, 1 / 8.0, size=(n_ret, weeks[-1] + 1))
    lam *= noise[:, weeks]
    counts = rng.poisson(lam)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    r, d = cell // n_days, cell % n_days
    n = cell.size

    # Submission time: shop hours around late morning and mid-afternoon, some online.
    peak = np.where(rng.random(n) < 0.5, 11.0, 15.0)
    hour = np.clip(rng.normal(peak, 1.8), 8.0, 21.5)
    online = rng.random(n) < 0.15
    hour[online] = rng.uniform(7.0, 24.0, size=online.sum())
    local_sec = np.minimum(np.floor(hour * _HOUR), _DAY - 1)
    submitted = (days[d] - epoch_ord) * _DAY + local_sec - offsets[d]
    order = np.lexsort((r, submitted))
    r, d, submitted = r[order], d[order], submitted[order]
    sector = plan["sector"][r]

    lender, lender_raw = _lenders(rng, r, years_back[d], n_ret)
    codes = _product_codes(rng, sector)
    amount = _amounts(rng, sector)

    # Funnel. Times are float seconds since the epoch, NaN when the event never happens;
    # NaN propagates through later stages and drops out of comparisons.
    nan = np.full(n, np.nan)
    withdrawn = rng.random(n) < 0.03  # abandoned or withdrawn before any decision
    referred = rng.random(n) < 0.40  # manual underwriting: hours to days, not minutes
    delay = np.where(
        referred,
        np.clip(rng.lognormal(np.log(20 * _HOUR), 1.0, n), _HOUR, 10 * _DAY),
        np.clip(rng.lognormal(np.log(240.0), 0.9, n), 20.0, 2 * _HOUR),
    )
    decision = np.where(withdrawn, nan, submitted + np.floor(delay))
    withdraw_after = np.where(
        rng.random(n) < 0.5, rng.uniform(0.1, 2.0, n) * _DAY, (30 + rng.random(n)) * _DAY
    )
    p_approve = np.append([lnd.approval for lnd in _LENDERS], 0.6)[lender]
    # Referred cases are the marginal ones: approved less often.
    logit = (
        np.log(p_approve / (1 - p_approve)) + 0.2 - 0.4 * referred + rng.normal(0, 0.1, n_ret)[r]
    )
    approved = ~withdrawn & (rng.random(n) < 1 / (1 + np.exp(-logit)))

    signs = approved & (rng.random(n) < 0.82)
    signed = np.where(
        signs,
        decision + np.floor(np.clip(rng.lognormal(np.log(1.5 * _DAY), 0.9, n), 600, 30 * _DAY)),
        nan,
    )
    # Approvals that are never signed are withdrawn or expire; a few go stale.
    expire = approved & ~signs & (rng.random(n) >= 0.02)
    expire_after = np.where(
        rng.random(n) < 0.4, rng.uniform(1, 14, n) * _DAY, rng.uniform(30, 90, n) * _DAY
    )
    # Signed agreements are paid out on a later working day; some are cancelled in the
    # cooling-off period first, a few get stuck.
    u = rng.random(n)
    cancel_signed = signs & (u < 0.03)
    pays = signs & (u >= 0.033)
    paid = np.where(pays, _payout_time(rng, signed, offsets, start_ord, epoch_ord), nan)

    cancelled = nan.copy()
    cancelled[withdrawn] = (submitted + np.floor(withdraw_after))[withdrawn]
    cancelled[expire] = (decision + np.floor(expire_after))[expire]
    cancelled[cancel_signed] = (signed + np.floor(rng.uniform(0.5, 14, n) * _DAY))[cancel_signed]

    # Nothing after the end of as_of (London): later events have not happened yet.
    cutoff = (end_ord + 1 - epoch_ord) * _DAY - offsets[n_days]
    decision, signed, paid, cancelled = (
        np.where(t < cutoff, t, np.nan) for t in (decision, signed, paid, cancelled)
    )
    has_decision = ~np.isnan(decision)
    decision_label = np.where(
        has_decision, np.where(approved, "Approved", "Declined"), None
    ).astype(object)
    status = np.select(
        [
            ~np.isnan(cancelled),
            ~np.isnan(paid),
            ~np.isnan(signed),
            has_decision & approved,
            has_decision,
            referred,
        ],
        ["Cancelled", "Paid", "Signed", "Approved", "Declined", "Referred"],
        "Submitted",
    ).astype(object)
    modstamp = np.fmax(np.fmax(np.fmax(np.fmax(submitted, decision), signed), paid), cancelled)

    numbers = _sequential(rng, n)
    refs = "APP-" + pd.Series(numbers - numbers[0] + int(rng.integers(20_000, 60_000))).astype(
        "str"
    ).str.zfill(7)
    amount = np.where(rng.random(n) < _P_NULL_AMOUNT, np.nan, amount)
    return pd.DataFrame(
        {
            "Id": pd.Series(sf_ids("a0X", numbers), dtype="str"),
            "Name": refs.astype("str"),
            "Retailer__c": accounts["Id"].to_numpy()[r],
            "Lender_Name__c": pd.Series(lender_raw, dtype="str"),
            "Product_Code__c": pd.Series(codes, dtype="str"),
            "Loan_Amount__c": amount.astype("float64"),
            "Status__c": pd.Series(status, dtype="str"),
            "Submitted_Date__c": _utc(submitted),
            "Decision__c": pd.Series(decision_label, dtype="str"),
            "Decision_Date__c": _utc(decision),
            "Signed_Date__c": _utc(signed),
            "Paid_Date__c": _utc(paid),
            "Cancelled_Date__c": _utc(cancelled),
            "SystemModstamp": _utc(modstamp),
        }
    ).astype({"Retailer__c": "str"})


def _utc_offsets(first: date, n_days: int) -> np.ndarray:
    """Seconds east of UTC at local midday in London, for ``n_days`` days from ``first``.

    Midday, because clocks change at night: every time we place within a day (shop
    hours, payouts) is on the same side of the change as midday.
    """
    noon = pd.date_range(datetime(first.year, first.month, first.day, 12), periods=n_days)
    aware = noon.tz_localize(LONDON)
    return (noon - aware.tz_convert("UTC").tz_localize(None)).total_seconds().to_numpy()


def _payout_time(
    rng: np.random.Generator,
    signed: np.ndarray,
    offsets: np.ndarray,
    start_ord: int,
    epoch_ord: int,
) -> np.ndarray:
    """A payout between 09:00 and 17:00 London, one to a few working days after signing.

    Working days skip weekends and England & Wales bank holidays, as lenders' payment
    runs do.
    """
    n = signed.size
    idx_max = offsets.size - 1
    epoch_to_start = start_ord - epoch_ord
    safe = np.nan_to_num(signed, nan=epoch_to_start * _DAY)
    sign_idx = np.clip(np.floor(safe / _DAY).astype(np.int64) - epoch_to_start, 0, idx_max)
    local_day = np.floor((safe + offsets[sign_idx]) / _DAY).astype(np.int64)
    wait = np.clip(np.round(rng.lognormal(np.log(2.0), 0.6, n)), 1, 15).astype(np.int64)
    first = date.fromordinal(start_ord)
    years = range(first.year, first.year + (idx_max // 365) + 2)
    bank_holidays = sorted(holidays.country_holidays("GB", subdiv="ENG", years=years))
    pay_day = np.busday_offset(
        local_day.astype("datetime64[D]"), wait, roll="forward", holidays=bank_holidays
    ).astype(np.int64)
    pay_idx = np.clip(pay_day - epoch_to_start, 0, idx_max)
    local_sec = np.floor(rng.uniform(9, 17, n) * _HOUR)
    paid = pay_day * _DAY + local_sec - offsets[pay_idx]
    return np.where(np.isnan(signed), np.nan, paid)


def _lenders(
    rng: np.random.Generator, r: np.ndarray, years_back: np.ndarray, n_ret: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lender index per application (``len(_LENDERS)`` = unknown/blank) and raw spelling."""
    n = r.size
    popularity = np.array([lnd.popularity for lnd in _LENDERS])
    drift = np.array([lnd.drift for lnd in _LENDERS])
    # Sparse per-retailer panels: most retailers work with two to four lenders.
    mix = rng.dirichlet(popularity * 1.5, size=n_ret)
    w = mix[r] * np.exp(drift[None, :] * years_back[:, None])
    cum = np.cumsum(w, axis=1)
    lender = (cum < (rng.random(n) * cum[:, -1])[:, None]).sum(axis=1)
    lender = np.minimum(lender, len(_LENDERS) - 1)

    table: list[list[str | None]] = []
    weights: list[np.ndarray] = []
    alias_map = lenders.aliases()
    for name in (lnd.name for lnd in _LENDERS):
        spellings, sw = _spellings(name, tuple(alias_map.get(name, ())))
        table.append(spellings)
        weights.append(sw)
    width = max(len(t) for t in table)
    lookup = np.full((len(_LENDERS) + 1, width), None, dtype=object)
    cumw = np.ones((len(_LENDERS) + 1, width))
    for i, (spellings, sw) in enumerate(zip(table, weights, strict=True)):
        lookup[i, : len(spellings)] = spellings
        cumw[i, : len(spellings)] = np.cumsum(sw) / sw.sum()
    variant = (cumw[lender] < rng.random(n)[:, None]).sum(axis=1)
    raw = lookup[lender, variant]

    # Off-panel lenders and blanks, as found in the wild.
    u = rng.random(n)
    unknown = u < _P_UNKNOWN_LENDER
    raw[unknown] = np.array(_UNKNOWN_LENDERS, dtype=object)[
        rng.integers(0, len(_UNKNOWN_LENDERS), size=unknown.sum())
    ]
    null = (u >= _P_UNKNOWN_LENDER) & (u < _P_UNKNOWN_LENDER + _P_NULL_LENDER)
    raw[null] = None
    blank = (u >= _P_UNKNOWN_LENDER + _P_NULL_LENDER) & (
        u < _P_UNKNOWN_LENDER + _P_NULL_LENDER + _P_BLANK_LENDER
    )
    raw[blank] = np.where(rng.random(blank.sum()) < 0.5, "", "  ")
    lender = np.where(unknown | null | blank, len(_LENDERS), lender)
    return lender, raw


def _spellings(canonical: str, aliases: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """How a lender's name gets typed: case, legal suffixes, stray whitespace, aliases.

    Every spelling normalises back to ``canonical`` under domain §5.
    """
    spellings = [
        (canonical, 40.0),
        (f"{canonical} Ltd", 10.0),
        (canonical.upper(), 6.0),
        (canonical.lower(), 4.0),
        (f"{canonical} plc", 3.0),
        (f"{canonical} Limited", 2.0),
        (f"  {canonical} ", 3.0),
        (canonical.replace(" ", "  "), 3.0),
        (f"{canonical} UK Ltd.", 3.0),
        (f"{canonical}, Ltd.", 2.0),
    ]
    for alias in aliases:
        spellings += [(alias, 3.0), (f"{alias} Ltd", 1.0), (alias.upper(), 1.0)]
    return [s for s, _ in spellings], np.array([w for _, w in spellings])


def _product_codes(rng: np.random.Generator, sector: np.ndarray) -> np.ndarray:
    n = sector.size
    mix = np.array([s.mix for s in _SECTORS])
    cum = np.cumsum(mix[sector], axis=1)
    family = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), len(_FAMILIES) - 1)
    max_terms = max(len(f[1]) for f in _FAMILIES)
    term_cum = np.ones((len(_FAMILIES), max_terms))
    for i, (_, terms, tw) in enumerate(_FAMILIES):
        term_cum[i, : len(terms)] = np.cumsum(tw)
    term = (term_cum[family] < rng.random(n)[:, None]).sum(axis=1)
    style_cum = np.cumsum(_CODE_STYLE_WEIGHTS) / sum(_CODE_STYLE_WEIGHTS)
    style = np.minimum(np.searchsorted(style_cum, rng.random(n)), len(_CODE_STYLES) - 1)

    # A few hundred distinct codes at most: build each string once, then index.
    lookup = np.full((len(_FAMILIES), max_terms, len(_CODE_STYLES)), None, dtype=object)
    for fi, (prefix, terms, _) in enumerate(_FAMILIES):
        for ti, t in enumerate(terms):
            for si, fmt in enumerate(_CODE_STYLES):
                lookup[fi, ti, si] = fmt(prefix, t)
    codes = lookup[family, term, style]
    u = rng.random(n)
    odd = u < _P_ODD_CODE
    codes[odd] = np.array(_ODD_CODES, dtype=object)[rng.integers(0, len(_ODD_CODES), odd.sum())]
    codes[(u >= _P_ODD_CODE) & (u < _P_ODD_CODE + _P_NULL_CODE)] = None
    return codes


def _amounts(rng: np.random.Generator, sector: np.ndarray) -> np.ndarray:
    """Loan amounts in pounds by sector, £200–£25,000, priced like shop tickets."""
    median = np.array([s.median for s in _SECTORS])[sector]
    sigma = np.array([s.sigma for s in _SECTORS])[sector]
    raw = np.clip(rng.lognormal(np.log(median), sigma), 200.0, 25_000.0)
    pounds = np.round(raw / 5.0) * 5.0
    # About a quarter are "£1,499.99"-style prices.
    return np.where(rng.random(sector.size) < 0.25, np.maximum(pounds - 0.01, 200.0), pounds)


def _utc(seconds: np.ndarray) -> pd.Series:
    """Float seconds since the epoch (NaN for none) as ``datetime64[us, UTC]``."""
    micro = np.where(np.isnan(seconds), 0, seconds).astype(np.int64) * 1_000_000
    values = micro.astype("datetime64[us]")
    values[np.isnan(seconds)] = np.datetime64("NaT")
    return pd.Series(values).dt.tz_localize("UTC")
