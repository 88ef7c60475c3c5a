"""The metric registry and its vectorised computation (domain §6).

Each metric is defined exactly once, here: its id, label, unit and the definition text that
the board pack's methodology appendix prints verbatim. ``compute`` turns a snapshot and a
set of period windows into ``{group: {metric_id: {window_key: value}}}`` for the whole book,
every retailer or every BDM in one vectorised pass per window; ``pipeline_items`` lists the
applications behind the pipeline metrics.

Rules the domain leaves open are written into the definitions (and ``GENERAL_RULES``), so the
appendix states exactly what the code does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lib.errors import ConfigError, InputError, SnapshotError
from lib.products import FAMILIES
from lib.registry import Registry

if TYPE_CHECKING:
    from lib.periods import Window
    from lib.snapshot import Snapshot

logger = logging.getLogger(__name__)

AS_AT = "as_at"
ALL = "all"
UNASSIGNED = "unassigned"
INACTIVE_DAYS = 30
TOP_N = 10
PIPELINE_BUCKETS = ("0–7", "8–30", "31–90", "90+")
# Upper bound (inclusive) of each bucket but the last, in days.
_BUCKET_EDGES = (7, 30, 90)


@dataclass(frozen=True)
class Metric:
    """One metric of domain §6.

    Attributes:
        id: The metric id used in figures.json.
        label: Short human label.
        unit: ``count``, ``money``, ``rate``, ``hours``, ``days``, ``share`` or ``map``.
        definition: The exact rule, printed verbatim in the methodology appendix.
        basis: ``window`` (one value per window key) or ``as_at`` (one value, key ``as_at``).
        higher_is_better: Whether an increase is good news (drives arrow colours).
    """

    id: str
    label: str
    unit: str
    definition: str
    basis: str = "window"
    higher_is_better: bool = True


REGISTRY: Registry[Metric] = Registry("metric")

_NO_DENOMINATOR = "Undefined (shown as –) when {den}."

_DEFINITIONS: tuple[Metric, ...] = (
    Metric(
        "submissions",
        "Submissions",
        "count",
        "Number of applications whose submission date (Submitted_Date__c) falls in W.",
    ),
    Metric(
        "submitted_value",
        "Submitted value",
        "money",
        "Sum of Loan_Amount__c over the applications counted in Submissions; a missing "
        "amount counts as £0.",
    ),
    Metric(
        "decisions",
        "Decisions",
        "count",
        "Number of applications with a decision (Decision__c is Approved or Declined) "
        "whose decision date (Decision_Date__c) falls in W.",
    ),
    Metric(
        "approvals",
        "Approvals",
        "count",
        "Number of applications with Decision__c = Approved whose decision date falls in W.",
    ),
    Metric(
        "declines",
        "Declines",
        "count",
        "Number of applications with Decision__c = Declined whose decision date falls in W.",
        higher_is_better=False,
    ),
    Metric(
        "approval_rate",
        "Approval rate",
        "rate",
        "Approvals ÷ Decisions, both in W. "
        + _NO_DENOMINATOR.format(den="there were no decisions"),
    ),
    Metric(
        "signed",
        "Signed",
        "count",
        "Number of applications whose signing date (Signed_Date__c) falls in W, whatever "
        "their status now (an agreement signed in W and cancelled later still counts).",
    ),
    Metric(
        "paid",
        "Paid",
        "count",
        "Number of applications whose payout date (Paid_Date__c) falls in W, whatever their "
        "status now.",
    ),
    Metric(
        "paid_value",
        "Paid value",
        "money",
        "Sum of Loan_Amount__c over the applications counted in Paid: the lending volume. "
        "A missing amount counts as £0.",
    ),
    Metric(
        "avg_loan",
        "Average loan",
        "money",
        "Paid value ÷ Paid, both in W. An application paid with no recorded amount counts as "
        "£0 and still counts in the denominator. "
        + _NO_DENOMINATOR.format(den="nothing was paid in W"),
    ),
    Metric(
        "cancelled",
        "Cancelled",
        "count",
        "Number of applications whose cancellation date (Cancelled_Date__c) falls in W, at "
        "whatever stage they were cancelled.",
        higher_is_better=False,
    ),
    Metric(
        "sign_rate",
        "Sign rate",
        "rate",
        "Signed ÷ Approvals, both in W. The two counts need not be the same applications "
        "(an approval late in one window may be signed in the next), so the rate can exceed "
        "100 %. " + _NO_DENOMINATOR.format(den="there were no approvals"),
    ),
    Metric(
        "conversion",
        "Conversion",
        "rate",
        "Cohort measure: of the applications submitted in W, the share with a payout date on "
        "or before A, whatever their status now. Recent windows read lower because their "
        "applications have had less time to pay out. "
        + _NO_DENOMINATOR.format(den="nothing was submitted in W"),
    ),
    Metric(
        "median_hours_to_decision",
        "Median hours to decision",
        "hours",
        "Median elapsed time in hours from Submitted_Date__c to Decision_Date__c, over the "
        "applications counted in Decisions. Exact timestamps are used, so clock changes do "
        "not distort it; times are taken as recorded. With an even number of decisions it is "
        "the mean of the middle two. " + _NO_DENOMINATOR.format(den="there were no decisions"),
        higher_is_better=False,
    ),
    Metric(
        "median_days_to_pay",
        "Median days to pay",
        "days",
        "Median number of calendar days (London) from the signing date to the payout date, "
        "over the applications counted in Paid that have a signing date. With an even number "
        "it is the mean of the middle two. "
        + _NO_DENOMINATOR.format(den="no such application was paid in W"),
        higher_is_better=False,
    ),
    Metric(
        "active_retailers",
        "Active retailers",
        "count",
        "Number of distinct retailers with at least one application submitted in W, whatever "
        "their status.",
    ),
    Metric(
        "new_retailers",
        "New retailers",
        "count",
        "Number of retailers whose Onboarded_Date__c falls in W, whatever their status now.",
    ),
    Metric(
        "inactive_retailers",
        "Inactive retailers",
        "count",
        f"As at A: number of retailers whose status is Live and that submitted no application "
        f"in the {INACTIVE_DAYS} days ending at A, i.e. from A − {INACTIVE_DAYS - 1} days to A "
        f"inclusive. A Live retailer that has never submitted counts as inactive. The status is "
        f"the one at extraction (Salesforce keeps no status history).",
        basis="as_at",
        higher_is_better=False,
    ),
    Metric(
        "pipeline_ans_count",
        "Approved but not signed",
        "count",
        "As at A: applications with Decision__c = Approved and a decision date on or before "
        "A, neither signed nor cancelled on or before A. An application signed or cancelled "
        "after A was still waiting at A and is counted. Each ages from its decision date to "
        "A in days, bucketed 0–7, 8–30, 31–90 and 90+ (91 days or more).",
        basis="as_at",
    ),
    Metric(
        "pipeline_ans_value",
        "Approved but not signed (value)",
        "money",
        "As at A: sum of Loan_Amount__c over the applications counted in Approved but not "
        "signed; a missing amount counts as £0.",
        basis="as_at",
    ),
    Metric(
        "pipeline_snp_count",
        "Signed but not paid",
        "count",
        "As at A: applications signed on or before A, neither paid nor cancelled on or before "
        "A. An application paid or cancelled after A was still waiting at A and is counted. "
        "Each ages from its signing date to A in days, bucketed like Approved but not signed.",
        basis="as_at",
    ),
    Metric(
        "pipeline_snp_value",
        "Signed but not paid (value)",
        "money",
        "As at A: sum of Loan_Amount__c over the applications counted in Signed but not paid; "
        "a missing amount counts as £0.",
        basis="as_at",
    ),
    Metric(
        "lender_share",
        "Lender share",
        "map",
        "For each canonical lender (names normalised as in §5; blank names become Unknown) "
        "with at least one application paid in W: its Paid value in W ÷ the total Paid value "
        "in W. The shares add up to 100 %; each is undefined when the total is £0.",
    ),
    Metric(
        "lender_paid_value",
        "Paid value by lender",
        "map",
        "For each canonical lender with at least one application paid in W: the sum of "
        "Loan_Amount__c of its applications paid in W, in pounds. Lenders with nothing paid "
        "in W are left out; the values add up to Paid value.",
    ),
    Metric(
        "lender_submissions",
        "Submissions by lender",
        "map",
        "For each canonical lender with at least one application submitted in W: the number "
        "of those applications. Lenders with no submission in W are left out; the counts add "
        "up to Submissions.",
    ),
    Metric(
        "product_share",
        "Product share",
        "map",
        "For each product family (Product_Code__c bucketed as in §5; Other when no family "
        "matches) with at least one application paid in W: its Paid value in W ÷ the total "
        "Paid value in W. The shares add up to 100 %; each is undefined when the total is £0.",
    ),
    Metric(
        "product_paid_value",
        "Paid value by product",
        "map",
        "For each product family with at least one application paid in W: the sum of "
        "Loan_Amount__c of its applications paid in W, in pounds. The values add up to Paid "
        "value.",
    ),
    Metric(
        "top10_concentration",
        "Top-10 concentration",
        "share",
        f"Paid value in W from the {TOP_N} retailers with the largest Paid value in W ÷ the "
        f"total Paid value in W, within the report's scope (the whole book, a BDM's portfolio "
        f"or one retailer): 100 % when {TOP_N} or fewer retailers were paid. "
        + _NO_DENOMINATOR.format(den="the total is £0"),
        higher_is_better=False,
    ),
    Metric(
        "commission",
        "Commission",
        "money",
        "Sum over product families of the family's Paid value in W × its commission rate "
        "from the report parameters (a fraction of the amount paid out: 0.015 is 1.5 %). A "
        "family with no rate earns £0; a rate for an unknown family, or outside 0–1, is a "
        "configuration error. Undefined when the report sets no commission rates.",
    ),
)

for _metric in _DEFINITIONS:
    REGISTRY.register(_metric.id, _metric)

# growth_<id> is defined for every windowed count or money metric.
GROWTH_BASES: tuple[str, ...] = tuple(
    m.id for m in _DEFINITIONS if m.basis == "window" and m.unit in ("count", "money")
)

REGISTRY.register(
    "growth",
    Metric(
        "growth",
        "Growth",
        "rate",
        "growth_<metric> = (value(W) − value(W_prev)) ÷ value(W_prev), reported under the key "
        "of every window W that has a previous window W_prev (LW, MTD, QTD, YTD and the board "
        "month M against the month before), as a fraction (0.12 is +12 %). It is given for "
        "every count or money metric: "
        + ", ".join(GROWTH_BASES)
        + ". Undefined when value(W_prev) is 0 or undefined, or value(W) is undefined. Rates "
        "are compared in percentage points instead.",
    ),
)
REGISTRY.register(
    "growth_ly",
    Metric(
        "growth_ly",
        "Growth on last year",
        "rate",
        "growth_ly_<metric> = (value(W) − value(W_ly)) ÷ value(W_ly), the same comparison "
        "against the same period last year, reported under W's key: the board month M "
        "against M_ly, the same month a year earlier. Same metrics and the same undefined "
        "cases as Growth.",
    ),
)

GENERAL_RULES: tuple[str, ...] = (
    "A is the as-of date, the last complete day of data. Every date is the Europe/London "
    "calendar day on which the event happened. A window W is a closed range of days "
    "[first day, last day]; “in W” means the named date falls in W. Nothing dated after A is "
    "counted.",
    "Counts follow the date of each event, not the application's current status.",
    "A missing loan amount counts as £0 in values and still counts in counts. Money is "
    "added up in whole pence, so totals are exact.",
    "A rate or share whose denominator is 0 is undefined and shown as –, never as 0.",
    "Per-BDM figures follow the BDM who owns the retailer's account at extraction "
    "(Salesforce keeps no ownership history), so a retailer that changes BDM takes its "
    "history with it. Applications whose retailer has no account, or whose account has no "
    "owner, are grouped as “unassigned”.",
)


# (id prefix, generic registry entry, label suffix); the longer prefix is tried first.
_GROWTH_KINDS = (
    ("growth_ly_", "growth_ly", "growth on last year"),
    ("growth_", "growth", "growth"),
)


def get(metric_id: str) -> Metric:
    """Return the metric for ``metric_id``, including derived ``growth_<id>`` and
    ``growth_ly_<id>`` ids.

    Raises:
        UnknownNameError: ``metric_id`` is neither registered nor a growth of a metric in
            ``GROWTH_BASES``.
    """
    for prefix, rule, suffix in _GROWTH_KINDS:
        base = metric_id.removeprefix(prefix)
        if base != metric_id and base in GROWTH_BASES:
            generic, parent = REGISTRY.get(rule), REGISTRY.get(base)
            return Metric(
                metric_id,
                f"{parent.label} {suffix}",
                generic.unit,
                generic.definition,
                parent.basis,
                parent.higher_is_better,
            )
    return REGISTRY.get(metric_id)


def item_unit(metric_id: str) -> str | None:
    """The unit of each value inside a ``map`` metric; None for any other metric.

    Map ids follow one convention: ``*_share`` holds shares, ``*_value`` pounds and any
    other map counts (``lender_submissions``). ``lib.formatting.value(v, "map")`` formats
    shares only, so format the items of a money or count map with this unit instead.
    """
    if get(metric_id).unit != "map":
        return None
    if metric_id.endswith("_share"):
        return "share"
    return "money" if metric_id.endswith("_value") else "count"


def registry_rows() -> list[tuple[str, str, str, str]]:
    """Rows ``(id, label, unit, definition)`` for the methodology appendix, in display order."""
    return [(m.id, m.label, m.unit, m.definition) for m in map(REGISTRY.get, REGISTRY)]


def growth(current: float | None, previous: float | None) -> float | None:
    """``(current − previous) / previous``; None when either is None or ``previous`` is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


# --------------------------------------------------------------------------- preparation

_NEVER = np.iinfo(np.int64).max  # day number of a missing date: never "in W", never "≤ A"
_EPOCH = date(1970, 1, 1)

_APP_COLUMNS = (
    "Name", "Retailer__c", "Decision__c", "Submitted_Date__c", "Decision_Date__c",
    "submitted_day", "decision_day", "signed_day", "paid_day", "cancelled_day",
    "lender", "product_family", "amount",
)  # fmt: skip
_ACCOUNT_COLUMNS = ("Id", "OwnerId", "Retailer_Status__c", "onboarded_day")


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _require(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise SnapshotError(
                "missing column; load the snapshot with lib.snapshot.load, which adds the "
                "derived columns",
                table=table,
                column=column,
            )


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Local-midnight datetimes → int64 days since 1970-01-01, ``_NEVER`` where missing."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        # A tz-aware "day" column would be bucketed on UTC days, silently moving late events.
        raise SnapshotError("expected naive London-local days", column=str(values.name))
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values)
    days = values.to_numpy(dtype="datetime64[D]").astype(np.int64)
    days[values.isna().to_numpy()] = _NEVER
    return days


def _utc(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _in(days: np.ndarray, start: int, end: int) -> np.ndarray:
    return (days >= start) & (days <= end)


@dataclass
class _Book:
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


def _prepare(snap: Snapshot, by: str | None) -> _Book:
    apps, accounts = snap.applications, snap.accounts
    _require(apps, "applications", _APP_COLUMNS)
    _require(accounts, "accounts", _ACCOUNT_COLUMNS)
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

    decision = apps["Decision__c"]
    approved = (decision == "Approved").to_numpy(bool, na_value=False)
    declined = (decision == "Declined").to_numpy(bool, na_value=False)
    decided_day = np.where(approved | declined, _day_numbers(apps["decision_day"]), _NEVER)
    signed = _day_numbers(apps["signed_day"])
    paid = _day_numbers(apps["paid_day"])
    # Elapsed hours from the UTC timestamps, so a clock change never adds or loses an hour.
    hours = (_utc(apps["Decision_Date__c"]) - _utc(apps["Submitted_Date__c"])) / pd.Timedelta(
        hours=1
    )
    pay_days = np.where((signed != _NEVER) & (paid != _NEVER), paid - signed, np.nan)
    amount = apps["amount"].astype("float64").fillna(0.0).to_numpy()
    lender, lenders = pd.factorize(apps["lender"].fillna("Unknown"))
    family, families = pd.factorize(apps["product_family"].fillna("Other"))

    return _Book(
        keys=keys,
        g=g.astype(np.int64),
        r=r,
        n_retailers=len(retailers),
        submitted=_day_numbers(apps["submitted_day"]),
        decided_day=decided_day,
        signed=signed,
        paid=paid,
        cancelled=_day_numbers(apps["cancelled_day"]),
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
        acc_onboarded=_day_numbers(accounts["onboarded_day"]),
        acc_live=(accounts["Retailer_Status__c"] == "Live").to_numpy(bool, na_value=False),
    )


# --------------------------------------------------------------------------- JSON values


def _ints(a: np.ndarray) -> list[int]:
    return a.astype(np.int64).tolist()


def _floats(a: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else x for x in np.asarray(a, "float64").tolist()]


def _money(pence: np.ndarray) -> list[float]:
    return (pence / 100.0).tolist()


def _ratio(num: np.ndarray, den: np.ndarray) -> list[float | None]:
    num, den = np.asarray(num, "float64"), np.asarray(den, "float64")
    out = np.full(len(den), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return _floats(out)


def _medians(book: _Book, mask: np.ndarray, values: np.ndarray) -> list[float | None]:
    keep = mask & ~np.isnan(values)
    med = pd.Series(values[keep]).groupby(book.g[keep]).median()
    return _floats(med.reindex(range(book.n)).to_numpy())


def _breakdown(
    book: _Book, mask: np.ndarray, codes: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per (group, name): number and pence of the masked applications, as (n, len(names))."""
    width = max(len(names), 1)
    key = book.g[mask] * width + codes[mask]
    size = book.n * width
    counts = np.bincount(key, minlength=size).reshape(book.n, width)
    pence = np.bincount(key, weights=book.pence[mask], minlength=size).reshape(book.n, width)
    return counts, pence


def _maps(counts: np.ndarray, values: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """One ``{name: value}`` per group over the names with a nonzero count, largest first."""
    out: list[dict[str, Any]] = [{} for _ in range(counts.shape[0])]
    rows, cols = np.nonzero(counts)
    for i, j, v in zip(rows.tolist(), cols.tolist(), values[rows, cols].tolist(), strict=True):
        out[i][names[j]] = v
    for i, m in enumerate(out):
        if len(m) > 1:
            out[i] = dict(sorted(m.items(), key=lambda kv: (-(kv[1] or 0), kv[0])))
    return out


def _shares(counts: np.ndarray, pence: np.ndarray, names: list[str]) -> list[dict]:
    total = pence.sum(axis=1, keepdims=True)
    shares = np.full(pence.shape, np.nan)
    np.divide(pence, total, out=shares, where=total != 0)
    maps = _maps(counts, shares, names)
    return [{k: (None if math.isnan(v) else v) for k, v in m.items()} for m in maps]


def _top_share(book: _Book, mask: np.ndarray, total: np.ndarray) -> list[float | None]:
    keep = mask & (book.r >= 0)  # an application with no retailer is in the total only
    per = (
        pd.DataFrame({"g": book.g[keep], "r": book.r[keep], "p": book.pence[keep]})
        .groupby(["g", "r"], sort=False)["p"]
        .sum()
    )
    top = (
        per.sort_values(ascending=False, kind="stable")
        .groupby(level="g", sort=False)
        .head(TOP_N)
        .groupby(level="g")
        .sum()
    )
    num = np.zeros(book.n)
    num[top.index.to_numpy(np.int64)] = top.to_numpy()
    return _ratio(num, total)


def _rates(commission_rates: Mapping[str, float] | None) -> dict[str, Fraction] | None:
    """Validated rates as exact fractions of the decimals written in the parameters."""
    if commission_rates is None:
        return None
    rates: dict[str, Fraction] = {}
    for family, rate in commission_rates.items():
        if family not in FAMILIES:
            raise ConfigError(
                f"unknown product family {family!r}; did you mean one of: {', '.join(FAMILIES)}",
                field="commission_rates",
            )
        if isinstance(rate, bool) or not isinstance(rate, Real | Decimal) or not 0 <= rate <= 1:
            raise ConfigError(
                f"rate for {family!r} must be a fraction from 0 to 1 (0.015 is 1.5 %), "
                f"got {rate!r}",
                field="commission_rates",
            )
        rates[family] = Fraction(str(rate))  # str: 0.015 is 15/1000, not the nearest binary
    return rates


def _commission(
    book: _Book, family_pence: np.ndarray, rates: dict[str, Fraction] | None
) -> list[float | None]:
    if rates is None:
        return [None] * book.n
    # Pence are integers and rates exact fractions, so each group's commission is summed
    # exactly in Python integers over a common denominator and rounded once, to a float.
    weights = [rates.get(f, Fraction(0)) for f in book.families]
    den = math.lcm(*(w.denominator for w in weights)) if weights else 1
    nums = [w.numerator * (den // w.denominator) for w in weights]
    rows = family_pence[:, : len(weights)].astype(np.int64).tolist()
    return [sum(p * n for p, n in zip(row, nums, strict=True)) / (100 * den) for row in rows]


# --------------------------------------------------------------------------- compute


def _pipeline_masks(
    approved: np.ndarray,
    decided_day: np.ndarray,
    signed: np.ndarray,
    paid: np.ndarray,
    cancelled: np.ndarray,
    a: int,
) -> tuple[np.ndarray, np.ndarray]:
    # "On or before A" only: anything dated after A had not happened yet at A. _NEVER > a.
    live = cancelled > a
    ans = approved & (decided_day <= a) & (signed > a) & live
    snp = (signed <= a) & (paid > a) & live
    return ans, snp


def _window_columns(
    book: _Book, start: int, end: int, a: int, rates: dict[str, Fraction] | None
) -> dict[str, list]:
    sub = _in(book.submitted, start, end)
    dec = _in(book.decided_day, start, end)
    appr = dec & book.approved
    paid = _in(book.paid, start, end)

    n_sub, n_dec, n_appr = book.count(sub), book.count(dec), book.count(appr)
    n_signed, n_paid = book.count(_in(book.signed, start, end)), book.count(paid)
    paid_pence = book.pence_sum(paid)

    # Distinct (group, retailer) pairs with a submission: one int64 key each.
    with_retailer = sub & (book.r >= 0)
    active = np.unique(book.g[with_retailer] * book.n_retailers + book.r[with_retailer])
    l_paid_n, l_paid_p = _breakdown(book, paid, book.lender, book.lenders)
    l_sub_n, _ = _breakdown(book, sub, book.lender, book.lenders)
    f_paid_n, f_paid_p = _breakdown(book, paid, book.family, book.families)

    return {
        "submissions": _ints(n_sub),
        "submitted_value": _money(book.pence_sum(sub)),
        "decisions": _ints(n_dec),
        "approvals": _ints(n_appr),
        "declines": _ints(book.count(dec & book.declined)),
        "approval_rate": _ratio(n_appr, n_dec),
        "signed": _ints(n_signed),
        "paid": _ints(n_paid),
        "paid_value": _money(paid_pence),
        "avg_loan": _ratio(paid_pence, n_paid * 100),
        "cancelled": _ints(book.count(_in(book.cancelled, start, end))),
        "sign_rate": _ratio(n_signed, n_appr),
        "conversion": _ratio(book.count(sub & (book.paid <= a)), n_sub),
        "median_hours_to_decision": _medians(book, dec, book.hours),
        "median_days_to_pay": _medians(book, paid, book.pay_days),
        "active_retailers": _ints(
            np.bincount(active // max(book.n_retailers, 1), minlength=book.n)
        ),
        "new_retailers": _ints(
            np.bincount(book.acc_g[_in(book.acc_onboarded, start, end)], minlength=book.n)
        ),
        "lender_share": _shares(l_paid_n, l_paid_p, book.lenders),
        "lender_paid_value": _maps(l_paid_n, l_paid_p / 100.0, book.lenders),
        "lender_submissions": _maps(l_sub_n, l_sub_n, book.lenders),
        "product_share": _shares(f_paid_n, f_paid_p, book.families),
        "product_paid_value": _maps(f_paid_n, f_paid_p / 100.0, book.families),
        "top10_concentration": _top_share(book, paid, paid_pence),
        "commission": _commission(book, f_paid_p, rates),
    }


def _as_at_columns(book: _Book, a: int) -> dict[str, list]:
    ans, snp = _pipeline_masks(
        book.approved, book.decided_day, book.signed, book.paid, book.cancelled, a
    )
    recent = _in(book.submitted, a - (INACTIVE_DAYS - 1), a) & (book.r >= 0)
    submitted_recently = np.zeros(book.n_retailers, bool)
    submitted_recently[book.r[recent]] = True
    inactive = book.acc_live & ~submitted_recently[book.acc_r]
    return {
        "inactive_retailers": _ints(np.bincount(book.acc_g[inactive], minlength=book.n)),
        "pipeline_ans_count": _ints(book.count(ans)),
        "pipeline_ans_value": _money(book.pence_sum(ans)),
        "pipeline_snp_count": _ints(book.count(snp)),
        "pipeline_snp_value": _money(book.pence_sum(snp)),
    }


def compute(
    snap: Snapshot,
    windows: Mapping[str, Window],
    as_of: date,
    *,
    by: str | None = None,
    commission_rates: Mapping[str, float] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every metric of the registry for every group and window.

    Vectorised: per window, one boolean mask per date column over all applications and a
    grouped sum/count/median over the group codes, so the cost barely depends on the number
    of groups.

    Args:
        snap: A loaded snapshot (derived columns present).
        windows: Window key → window (``start``/``end`` dates, inclusive), e.g. from
            ``lib.periods.windows``. Every window is cut off at ``as_of``.
        as_of: A, the last complete day of data.
        by: ``None`` for one group ``"all"``; ``"retailer"`` for every account id (plus any
            retailer id found only on applications); ``"bdm"`` for every user who owns an
            account. ``"unassigned"`` collects what has no retailer or no owner, if anything.
        commission_rates: Product family → commission rate (a fraction). ``None`` leaves
            ``commission`` undefined.

    Returns:
        ``{group_key: {metric_id: {window_key: value}}}``. As-at metrics use the key
        ``"as_at"``; map metrics give ``{window_key: {name: value}}``; ``growth_<id>`` (and
        ``growth_ly_<id>``) are given under every window key that has a ``<key>_prev``
        (``<key>_ly``). Values are ``int``, ``float``, ``dict`` or ``None``.

    Raises:
        SnapshotError: A column the metrics need is missing.
        ConfigError: A commission rate is for an unknown family or not within 0–1.
        InputError: Unknown ``by`` or a window named ``"as_at"``.
    """
    if AS_AT in windows:
        raise InputError(f"window key {AS_AT!r} is reserved for as-at metrics")
    rates = _rates(commission_rates)
    book = _prepare(snap, by)
    a = _day(as_of)

    columns: dict[str, dict[str, list]] = {}
    for key, window in windows.items():
        # Clip at A: nothing after the last complete day of data is counted (§3).
        start, end = _day(window.start), min(_day(window.end), a)
        for metric_id, values in _window_columns(book, start, end, a, rates).items():
            columns.setdefault(metric_id, {})[key] = values
    for metric_id, values in _as_at_columns(book, a).items():
        columns[metric_id] = {AS_AT: values}

    for prefix, suffix in (("growth_", "_prev"), ("growth_ly_", "_ly")):
        pairs = [(k, k + suffix) for k in windows if k + suffix in windows]
        if not pairs:
            continue
        for base in GROWTH_BASES:
            per_window = columns[base]
            columns[prefix + base] = {
                k: [growth(c, p) for c, p in zip(per_window[k], per_window[prev], strict=True)]
                for k, prev in pairs
            }

    order = [m for m in REGISTRY if m in columns] + [m for m in columns if m not in REGISTRY]
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for i, group in enumerate(book.keys):
        result[group] = {m: {k: values[i] for k, values in columns[m].items()} for m in order}
    logger.debug("metrics for %d groups × %d windows", book.n, len(windows))
    return result


def pipeline_items(snap: Snapshot, as_of: date) -> pd.DataFrame:
    """The applications behind the pipeline metrics, as at ``as_of``.

    Args:
        snap: A loaded snapshot (derived columns present).
        as_of: A.

    Returns:
        DataFrame with columns ``stage`` (``"ans"`` or ``"snp"``), ``ref`` (application
        Name), ``retailer`` (account id), ``lender``, ``amount`` (pounds, missing → 0),
        ``days`` (A − decision day for ``ans``, A − signing day for ``snp``) and ``bucket``
        (one of ``PIPELINE_BUCKETS``); ANS first, then oldest first, then by reference.
    """
    apps = snap.applications
    _require(apps, "applications", _APP_COLUMNS)
    a = _day(as_of)
    decision = apps["Decision__c"]
    approved = (decision == "Approved").to_numpy(bool, na_value=False)
    declined = (decision == "Declined").to_numpy(bool, na_value=False)
    decided_day = np.where(approved | declined, _day_numbers(apps["decision_day"]), _NEVER)
    signed = _day_numbers(apps["signed_day"])
    ans, snp = _pipeline_masks(
        approved,
        decided_day,
        signed,
        _day_numbers(apps["paid_day"]),
        _day_numbers(apps["cancelled_day"]),
        a,
    )
    parts = []
    for stage, mask, stage_day in (("ans", ans, decided_day), ("snp", snp, signed)):
        rows = apps.loc[mask]
        days = a - stage_day[mask]
        parts.append(
            pd.DataFrame(
                {
                    "stage": stage,
                    "ref": rows["Name"].to_numpy(),
                    "retailer": rows["Retailer__c"].to_numpy(),
                    "lender": rows["lender"].to_numpy(),
                    "amount": rows["amount"].astype("float64").fillna(0.0).to_numpy(),
                    "days": days.astype(np.int64),
                    "bucket": np.array(PIPELINE_BUCKETS, dtype=object)[
                        np.searchsorted(_BUCKET_EDGES, days, side="left")
                    ],
                }
            )
        )
    items = pd.concat(parts, ignore_index=True)
    items["stage"] = items["stage"].astype("str")
    items["bucket"] = items["bucket"].astype("str")
    return items.sort_values(
        ["stage", "days", "ref"], ascending=[True, False, True], kind="stable", ignore_index=True
    )


def inactive_since(as_of: date) -> date:
    """First day of the ``inactive_retailers`` look-back that ends at ``as_of`` (inclusive)."""
    return as_of - timedelta(days=INACTIVE_DAYS - 1)
