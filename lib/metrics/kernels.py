"""The vectorised metric columns: one value per group, for one window or as at A.

Every function takes a :class:`lib.metrics.book._Book` and boolean masks over its
applications, and returns plain JSON values (int, float, dict or None) per group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from lib.errors import ConfigError
from lib.metrics.book import Book, within
from lib.metrics.definitions import INACTIVE_DAYS, TOP_N
from lib.products import FAMILIES


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


def _medians(book: Book, mask: np.ndarray, values: np.ndarray) -> list[float | None]:
    keep = mask & ~np.isnan(values)
    med = pd.Series(values[keep]).groupby(book.g[keep]).median()
    return _floats(med.reindex(range(book.n)).to_numpy())


def _breakdown(
    book: Book, mask: np.ndarray, codes: np.ndarray, names: list[str]
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


def _top_share(book: Book, mask: np.ndarray, total: np.ndarray) -> list[float | None]:
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


def rate_columns(commission_rates: Mapping[str, float] | None) -> dict[str, Fraction] | None:
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
    book: Book, family_pence: np.ndarray, rates: dict[str, Fraction] | None
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


def pipeline_masks(
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


def window_columns(
    book: Book, start: int, end: int, a: int, rates: dict[str, Fraction] | None
) -> dict[str, list]:
    sub = within(book.submitted, start, end)
    dec = within(book.decided_day, start, end)
    appr = dec & book.approved
    paid = within(book.paid, start, end)

    n_sub, n_dec, n_appr = book.count(sub), book.count(dec), book.count(appr)
    n_signed, n_paid = book.count(within(book.signed, start, end)), book.count(paid)
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
        "cancelled": _ints(book.count(within(book.cancelled, start, end))),
        "sign_rate": _ratio(n_signed, n_appr),
        "conversion": _ratio(book.count(sub & (book.paid <= a)), n_sub),
        "median_hours_to_decision": _medians(book, dec, book.hours),
        "median_days_to_pay": _medians(book, paid, book.pay_days),
        "active_retailers": _ints(
            np.bincount(active // max(book.n_retailers, 1), minlength=book.n)
        ),
        "new_retailers": _ints(
            np.bincount(book.acc_g[within(book.acc_onboarded, start, end)], minlength=book.n)
        ),
        "lender_share": _shares(l_paid_n, l_paid_p, book.lenders),
        "lender_paid_value": _maps(l_paid_n, l_paid_p / 100.0, book.lenders),
        "lender_submissions": _maps(l_sub_n, l_sub_n, book.lenders),
        "product_share": _shares(f_paid_n, f_paid_p, book.families),
        "product_paid_value": _maps(f_paid_n, f_paid_p / 100.0, book.families),
        "top10_concentration": _top_share(book, paid, paid_pence),
        "commission": _commission(book, f_paid_p, rates),
    }


def as_at_columns(book: Book, a: int) -> dict[str, list]:
    ans, snp = pipeline_masks(
        book.approved, book.decided_day, book.signed, book.paid, book.cancelled, a
    )
    recent = within(book.submitted, a - (INACTIVE_DAYS - 1), a) & (book.r >= 0)
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
