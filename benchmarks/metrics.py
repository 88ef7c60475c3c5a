"""Benchmark: ``lib.metrics.compute`` against the per-retailer loop it replaces.

Builds a synthetic book shaped like a loaded snapshot (the derived columns included) with
numpy, then computes every metric for every retailer over the eight report windows (LW,
MTD, QTD, YTD and their ``_prev``):

* vectorised: one ``compute(..., by="retailer")`` call;
* naive: for each retailer, filter its applications and compute each metric with pandas.
  The loop is timed on a sample of retailers and extrapolated to all of them (the output
  says so); its results on the sample are also checked against the vectorised ones.

Run::

    .venv/bin/python benchmarks/metrics.py [--retailers N --applications M --sample S]

Not a test: it prints a table and exits 0 (1 if the two approaches disagree).
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import metrics, periods  # noqa: E402
from lib.lenders import CANONICAL  # noqa: E402
from lib.products import FAMILIES  # noqa: E402
from lib.snapshot import Snapshot  # noqa: E402

RATES = {"Buy Now Pay Later": 0.035, "Interest Free": 0.025, "Interest Bearing": 0.015}


# ----------------------------------------------------------------------------- data


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:015d}" for i in range(n)], dtype=object)


def _utc(seconds: np.ndarray, valid: np.ndarray) -> pd.Series:
    stamps = pd.Series(pd.to_datetime(np.where(valid, seconds, 0), unit="s", utc=True))
    return stamps.astype("datetime64[us, UTC]").where(valid)


def synthetic(n_retailers: int, n_apps: int, as_of: date, seed: int = 7) -> Snapshot:
    """A book of ``n_retailers`` and ``n_apps`` applications over two years up to ``as_of``.

    Volumes per retailer are skewed (log-normal), so top-10 concentration means something;
    the funnel (decision, signing, payout, cancellation) is drawn for all applications at
    once, and anything that would fall after ``as_of`` is left unset, as in an extract.
    """
    rng = np.random.default_rng(seed)
    n_bdms = max(1, n_retailers // 12)
    users = pd.DataFrame(
        {
            "Id": pd.Series(_ids("005", n_bdms), dtype="str"),
            "Name": pd.Series([f"BDM {i}" for i in range(n_bdms)], dtype="str"),
            "Email": pd.Series([f"bdm{i}@example.com" for i in range(n_bdms)], dtype="str"),
            "IsActive": np.ones(n_bdms, bool),
        }
    )
    first = as_of - timedelta(days=730)
    onboard = np.where(
        rng.random(n_retailers) < 0.95,
        rng.integers(-700, 730, n_retailers),
        -100_000,  # never onboarded
    )
    onboarded = pd.Series(
        [first + timedelta(days=int(d)) if d > -100_000 else None for d in onboard],
        dtype="object",
    )
    retailer_ids = _ids("001", n_retailers)
    accounts = pd.DataFrame(
        {
            "Id": pd.Series(retailer_ids, dtype="str"),
            "Name": pd.Series([f"Retailer {i}" for i in range(n_retailers)], dtype="str"),
            "OwnerId": pd.Series(users["Id"].to_numpy()[rng.integers(0, n_bdms, n_retailers)]),
            "Retailer_Status__c": pd.Series(
                rng.choice(
                    ["Live", "Suspended", "Closed", "Onboarding"],
                    n_retailers,
                    p=[0.8, 0.08, 0.07, 0.05],
                ),
                dtype="str",
            ),  # fmt: skip
            "Onboarded_Date__c": onboarded,
            "onboarded_day": pd.to_datetime(onboarded).astype("datetime64[ns]"),
        }
    )

    weights = rng.lognormal(0, 1.2, n_retailers)
    retailer = rng.choice(n_retailers, n_apps, p=weights / weights.sum())
    start = pd.Timestamp(first, tz=periods.LONDON).timestamp()
    end = pd.Timestamp(datetime.combine(as_of + timedelta(days=1), dtime()), tz=periods.LONDON)
    cutoff = end.timestamp()  # first second after as_of in London
    submitted = rng.integers(int(start), int(cutoff), n_apps)
    decided = submitted + rng.exponential(20 * 3600, n_apps).astype(np.int64)
    has_decision = (rng.random(n_apps) < 0.9) & (decided < cutoff)
    approved = has_decision & (rng.random(n_apps) < 0.7)
    signed = decided + rng.exponential(6 * 86400, n_apps).astype(np.int64)
    is_signed = approved & (rng.random(n_apps) < 0.8) & (signed < cutoff)
    paid = signed + rng.exponential(5 * 86400, n_apps).astype(np.int64)
    is_paid = is_signed & (rng.random(n_apps) < 0.92) & (paid < cutoff)
    cancelled = submitted + rng.exponential(15 * 86400, n_apps).astype(np.int64)
    is_cancelled = ~is_paid & (rng.random(n_apps) < 0.06) & (cancelled < cutoff)
    amount = np.round(rng.lognormal(7.3, 0.8, n_apps), 2)
    amount[rng.random(n_apps) < 0.02] = np.nan

    lender_names = np.array([*CANONICAL, "Unknown"], dtype=object)
    family_names = np.array(FAMILIES, dtype=object)
    apps = pd.DataFrame(
        {
            "Id": pd.Series(_ids("a0A", n_apps), dtype="str"),
            "Name": pd.Series([f"APP-{i:07d}" for i in range(n_apps)], dtype="str"),
            "Retailer__c": pd.Series(retailer_ids[retailer], dtype="str"),
            "Loan_Amount__c": amount,
            "Submitted_Date__c": _utc(submitted, np.ones(n_apps, bool)),
            "Decision__c": pd.Series(
                np.where(approved, "Approved", np.where(has_decision, "Declined", None)),
                dtype="str",
            ),
            "Decision_Date__c": _utc(decided, has_decision),
            "Signed_Date__c": _utc(signed, is_signed),
            "Paid_Date__c": _utc(paid, is_paid),
            "Cancelled_Date__c": _utc(cancelled, is_cancelled),
            "lender": pd.Series(
                lender_names[rng.integers(0, len(lender_names), n_apps)], dtype="str"
            ),
            "product_family": pd.Series(
                family_names[rng.integers(0, len(family_names), n_apps)], dtype="str"
            ),
            "amount": np.nan_to_num(amount, nan=0.0),
        }
    )
    for source, day in (
        ("Submitted_Date__c", "submitted_day"),
        ("Decision_Date__c", "decision_day"),
        ("Signed_Date__c", "signed_day"),
        ("Paid_Date__c", "paid_day"),
        ("Cancelled_Date__c", "cancelled_day"),
    ):
        apps[day] = periods.local_day(apps[source])
    manifest = {"schema_version": 1, "source": "synthetic", "as_of": as_of.isoformat()}
    return Snapshot(Path("synthetic"), manifest, users, accounts, apps)


# ----------------------------------------------------------------------------- naive loop


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    return v


def _div(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def naive_retailer(
    snap: Snapshot,
    rid: str,
    windows: Mapping[str, periods.Window],
    as_of: date,
    rates: Mapping[str, float],
) -> dict[str, dict[str, Any]]:
    """Every metric for one retailer, the straightforward way: filter, then compute."""
    apps = snap.applications[snap.applications["Retailer__c"] == rid]
    account = snap.accounts[snap.accounts["Id"] == rid]
    a = pd.Timestamp(as_of)
    out: dict[str, dict[str, Any]] = {}

    def put(metric: str, key: str, value: Any) -> None:
        out.setdefault(metric, {})[key] = _clean(value)

    for key, w in windows.items():
        start, end = pd.Timestamp(w.start), pd.Timestamp(min(w.end, as_of))

        def within(frame: pd.DataFrame, column: str, s=start, e=end) -> pd.Series:
            return (frame[column] >= s) & (frame[column] <= e)

        sub = apps[within(apps, "submitted_day")]
        dec = apps[
            within(apps, "decision_day") & apps["Decision__c"].isin(["Approved", "Declined"])
        ]
        appr = dec[dec["Decision__c"] == "Approved"]
        signed = apps[within(apps, "signed_day")]
        paid = apps[within(apps, "paid_day")]
        paid_value = paid["amount"].sum()
        hours = (dec["Decision_Date__c"] - dec["Submitted_Date__c"]).dt.total_seconds() / 3600
        to_pay = (paid["paid_day"] - paid["signed_day"]).dt.days.dropna()
        by_lender = paid.groupby("lender")["amount"].sum()
        by_family = paid.groupby("product_family")["amount"].sum()
        top = paid.groupby("Retailer__c")["amount"].sum().nlargest(metrics.TOP_N).sum()
        put("submissions", key, len(sub))
        put("submitted_value", key, sub["amount"].sum())
        put("decisions", key, len(dec))
        put("approvals", key, len(appr))
        put("declines", key, len(dec) - len(appr))
        put("approval_rate", key, _div(len(appr), len(dec)))
        put("signed", key, len(signed))
        put("paid", key, len(paid))
        put("paid_value", key, paid_value)
        put("avg_loan", key, _div(paid_value, len(paid)))
        put("cancelled", key, int(within(apps, "cancelled_day").sum()))
        put("sign_rate", key, _div(len(signed), len(appr)))
        put("conversion", key, _div(int((sub["paid_day"] <= a).sum()), len(sub)))
        put("median_hours_to_decision", key, hours.median() if len(hours) else None)
        put("median_days_to_pay", key, to_pay.median() if len(to_pay) else None)
        put("active_retailers", key, sub["Retailer__c"].nunique())
        put("new_retailers", key, int(within(account, "onboarded_day").sum()))
        put("lender_share", key, {k: _div(v, paid_value) for k, v in by_lender.items()})
        put("lender_paid_value", key, dict(by_lender.items()))
        put("lender_submissions", key, dict(sub["lender"].value_counts().items()))
        put("product_share", key, {k: _div(v, paid_value) for k, v in by_family.items()})
        put("product_paid_value", key, dict(by_family.items()))
        put("top10_concentration", key, _div(top, paid_value))
        put("commission", key, sum(v * rates.get(k, 0.0) for k, v in by_family.items()))

    not_cancelled = ~(apps["cancelled_day"] <= a)
    ans = apps[
        (apps["Decision__c"] == "Approved")
        & (apps["decision_day"] <= a)
        & ~(apps["signed_day"] <= a)
        & not_cancelled
    ]
    snp = apps[(apps["signed_day"] <= a) & ~(apps["paid_day"] <= a) & not_cancelled]
    recent = (apps["submitted_day"] >= a - pd.Timedelta(days=metrics.INACTIVE_DAYS - 1)) & (
        apps["submitted_day"] <= a
    )
    live = bool((account["Retailer_Status__c"] == "Live").any())
    put("inactive_retailers", "as_at", int(live and not recent.any()))
    put("pipeline_ans_count", "as_at", len(ans))
    put("pipeline_ans_value", "as_at", ans["amount"].sum())
    put("pipeline_snp_count", "as_at", len(snp))
    put("pipeline_snp_value", "as_at", snp["amount"].sum())

    for base in metrics.GROWTH_BASES:
        for key in windows:
            if f"{key}_prev" in windows:
                put(f"growth_{base}", key, metrics.growth(out[base][key], out[base][key + "_prev"]))
    return out


def _agree(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_agree(x[k], y[k]) for k in x)
    if x is None or y is None:
        return x is None and y is None
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)


# ----------------------------------------------------------------------------- harness


def _rss_mb() -> float:
    # ru_maxrss is the peak resident set size of the process so far, in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """The result and the best of ``repeat`` wall-clock times (the least disturbed run)."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def _traced_peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retailers", type=int, default=1_000)
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=50, help="retailers the loop is timed on")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 22))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="report the best of N runs of each timing"
    )
    args = parser.parse_args(argv)

    windows = periods.windows(args.as_of)
    snap, t_data = _timed(
        lambda: synthetic(args.retailers, args.applications, args.as_of, args.seed)
    )
    rss_data = _rss_mb()
    print(
        f"{args.retailers:,} retailers, {len(snap.applications):,} applications, "
        f"{len(windows)} windows ({', '.join(windows)}), as_of {args.as_of}; "
        f"data built in {t_data:.1f} s, RSS {rss_data:,.0f} MB"
    )

    def vectorised() -> dict:
        return metrics.compute(snap, windows, args.as_of, by="retailer", commission_rates=RATES)

    fast, t_fast = _timed(vectorised, args.repeat)
    rss_fast = _rss_mb()
    traced_fast = _traced_peak_mb(vectorised)
    _, t_book = _timed(
        lambda: metrics.compute(snap, windows, args.as_of, commission_rates=RATES), args.repeat
    )
    _, t_bdm = _timed(
        lambda: metrics.compute(snap, windows, args.as_of, by="bdm", commission_rates=RATES),
        args.repeat,
    )

    rng = np.random.default_rng(args.seed)
    ids = snap.accounts["Id"].to_numpy()
    sample = rng.choice(ids, min(args.sample, len(ids)), replace=False)

    def loop() -> dict:
        return {rid: naive_retailer(snap, rid, windows, args.as_of, RATES) for rid in sample}

    slow, t_sample = _timed(loop, args.repeat)
    rss_slow = _rss_mb()
    traced_slow = _traced_peak_mb(
        lambda: naive_retailer(snap, sample[0], windows, args.as_of, RATES)
    )
    t_loop = t_sample * len(ids) / len(sample)

    mismatches = [
        (rid, m, key)
        for rid, got in slow.items()
        for m, per_window in got.items()
        for key, v in per_window.items()
        if not _agree(v, fast[rid][m][key])
    ]

    rows = [
        (f'compute(by="retailer"), {len(fast):,} groups', t_fast, rss_fast, traced_fast, t_loop / t_fast),
        ("compute(by=None), whole book", t_book, None, None, None),
        (f'compute(by="bdm"), {len({u for u in snap.accounts["OwnerId"]}):,} groups', t_bdm, None, None, None),
        (f"naive loop, {len(sample)} retailers timed", t_sample, rss_slow, traced_slow, None),
        (f"naive loop, all {len(ids):,} (extrapolated ×{len(ids) / len(sample):g})", t_loop, None, None, 1.0),
    ]  # fmt: skip
    print()
    print(f"{'approach':<52} {'seconds':>9} {'peak RSS MB':>12} {'traced MB':>10} {'speed-up':>9}")
    for name, secs, rss, traced, speed in rows:
        print(
            f"{name:<52} {secs:>9.2f} {'' if rss is None else f'{rss:,.0f}':>12} "
            f"{'' if traced is None else f'{traced:,.1f}':>10} "
            f"{'' if speed is None else f'{speed:,.1f}×':>9}"
        )
    print()
    print(
        f"Times are the best of {args.repeat} runs. Peak RSS is the process's "
        "high-water mark so far (data included); traced MB is the tracemalloc peak of one "
        "call (for the loop: one retailer; pandas' Arrow string buffers are not traced). The "
        f"loop is timed on {len(sample)} random retailers and scaled to all "
        f"{len(ids):,}."
    )
    checked = sum(len(v) for got in slow.values() for v in got.values())
    if mismatches:
        print(f"DISAGREE on {len(mismatches)} of {checked} values, e.g. {mismatches[:5]}")
        return 1
    print(f"naive and vectorised agree on all {checked:,} values of the sampled retailers")
    speed_up = t_loop / t_fast
    verdict = "met" if speed_up >= 20 and rss_fast < 1536 else "NOT met"
    print(f"target (≥ 20× faster, < 1.5 GB peak): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
