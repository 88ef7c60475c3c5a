"""The demo company's applications: three years of them, every funnel stage drawn at once.

The per-retailer, per-day expected volume is one matrix, Poisson counts expand it into
applications, and each stage of the funnel is drawn for all applications at once.
Nothing is dated after the end of ``as_of`` in Europe/London.
"""

from __future__ import annotations

from datetime import date, datetime

import holidays
import numpy as np
import pandas as pd

from lib import lenders
from lib.demo.company import (
    CODE_STYLE_WEIGHTS,
    CODE_STYLES,
    DOW_FACTOR,
    FAMILIES,
    LENDERS,
    MONTH_FACTOR,
    ODD_CODES,
    P_BLANK_LENDER,
    P_NULL_AMOUNT,
    P_NULL_CODE,
    P_NULL_LENDER,
    P_ODD_CODE,
    P_UNKNOWN_LENDER,
    SECTORS,
    UNKNOWN_LENDERS,
    window_start,
)
from lib.demo.ids import sequential, sf_ids
from lib.periods import LONDON

_DAY = 86_400.0
_HOUR = 3_600.0


def generate_applications(
    rng: np.random.Generator,
    as_of: date,
    accounts: pd.DataFrame,
    plan: dict[str, np.ndarray],
    *,
    total: int | None = None,
) -> pd.DataFrame:
    n_ret = len(accounts)
    start_ord = window_start(as_of).toordinal()
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
    season = DOW_FACTOR[dow] * MONTH_FACTOR[months] / DOW_FACTOR.mean()
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
    if total is not None:
        lam *= total / lam.sum()  # the expected count; Poisson draws land close to it
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
    p_approve = np.append([lnd.approval for lnd in LENDERS], 0.6)[lender]
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

    numbers = sequential(rng, n)
    refs = "APP-" + pd.Series(numbers - numbers[0] + int(rng.integers(20_000, 60_000))).astype(
        "str"
    ).str.zfill(7)
    amount = np.where(rng.random(n) < P_NULL_AMOUNT, np.nan, amount)
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
    """Lender index per application (``len(LENDERS)`` = unknown/blank) and raw spelling."""
    n = r.size
    popularity = np.array([lnd.popularity for lnd in LENDERS])
    drift = np.array([lnd.drift for lnd in LENDERS])
    # Sparse per-retailer panels: most retailers work with two to four lenders.
    mix = rng.dirichlet(popularity * 1.5, size=n_ret)
    w = mix[r] * np.exp(drift[None, :] * years_back[:, None])
    cum = np.cumsum(w, axis=1)
    lender = (cum < (rng.random(n) * cum[:, -1])[:, None]).sum(axis=1)
    lender = np.minimum(lender, len(LENDERS) - 1)

    table: list[list[str | None]] = []
    weights: list[np.ndarray] = []
    alias_map = lenders.aliases()
    for name in (lnd.name for lnd in LENDERS):
        spellings, sw = _spellings(name, tuple(alias_map.get(name, ())))
        table.append(spellings)
        weights.append(sw)
    width = max(len(t) for t in table)
    lookup = np.full((len(LENDERS) + 1, width), None, dtype=object)
    cumw = np.ones((len(LENDERS) + 1, width))
    for i, (spellings, sw) in enumerate(zip(table, weights, strict=True)):
        lookup[i, : len(spellings)] = spellings
        cumw[i, : len(spellings)] = np.cumsum(sw) / sw.sum()
    variant = (cumw[lender] < rng.random(n)[:, None]).sum(axis=1)
    raw = lookup[lender, variant]

    # Off-panel lenders and blanks, as found in the wild.
    u = rng.random(n)
    unknown = u < P_UNKNOWN_LENDER
    raw[unknown] = np.array(UNKNOWN_LENDERS, dtype=object)[
        rng.integers(0, len(UNKNOWN_LENDERS), size=unknown.sum())
    ]
    null = (u >= P_UNKNOWN_LENDER) & (u < P_UNKNOWN_LENDER + P_NULL_LENDER)
    raw[null] = None
    blank = (u >= P_UNKNOWN_LENDER + P_NULL_LENDER) & (
        u < P_UNKNOWN_LENDER + P_NULL_LENDER + P_BLANK_LENDER
    )
    raw[blank] = np.where(rng.random(blank.sum()) < 0.5, "", "  ")
    lender = np.where(unknown | null | blank, len(LENDERS), lender)
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
    mix = np.array([s.mix for s in SECTORS])
    cum = np.cumsum(mix[sector], axis=1)
    family = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), len(FAMILIES) - 1)
    max_terms = max(len(f[1]) for f in FAMILIES)
    term_cum = np.ones((len(FAMILIES), max_terms))
    for i, (_, terms, tw) in enumerate(FAMILIES):
        term_cum[i, : len(terms)] = np.cumsum(tw)
    term = (term_cum[family] < rng.random(n)[:, None]).sum(axis=1)
    style_cum = np.cumsum(CODE_STYLE_WEIGHTS) / sum(CODE_STYLE_WEIGHTS)
    style = np.minimum(np.searchsorted(style_cum, rng.random(n)), len(CODE_STYLES) - 1)

    # A few hundred distinct codes at most: build each string once, then index.
    lookup = np.full((len(FAMILIES), max_terms, len(CODE_STYLES)), None, dtype=object)
    for fi, (prefix, terms, _) in enumerate(FAMILIES):
        for ti, t in enumerate(terms):
            for si, fmt in enumerate(CODE_STYLES):
                lookup[fi, ti, si] = fmt(prefix, t)
    codes = lookup[family, term, style]
    u = rng.random(n)
    odd = u < P_ODD_CODE
    codes[odd] = np.array(ODD_CODES, dtype=object)[rng.integers(0, len(ODD_CODES), odd.sum())]
    codes[(u >= P_ODD_CODE) & (u < P_ODD_CODE + P_NULL_CODE)] = None
    return codes


def _amounts(rng: np.random.Generator, sector: np.ndarray) -> np.ndarray:
    """Loan amounts in pounds by sector, £200–£25,000, priced like shop tickets."""
    median = np.array([s.median for s in SECTORS])[sector]
    sigma = np.array([s.sigma for s in SECTORS])[sector]
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
