"""Salesforce API calls for a Monday run, full and incremental, at two company sizes.

On Monday the three weekly reports (retailer weekly, BDM portfolio, SMT dashboard) share
one extraction for ``as_of`` = Sunday. This counts the REST calls that extraction makes
against the HTTPS stand-in (``tests/standins/salesforce.py``) with the real
``simple_salesforce`` client:

- at 150 retailers (the demo company) and at 1,500 retailers with the same applications
  (the 150-retailer applications spread over the 1,500 retailers' accounts), so only the
  number of retailers changes;
- as a full refresh, and incrementally from the previous Monday's snapshot (weekly runs)
  and from Sunday's (had something extracted daily).

The previous snapshots are the full extract cut at their ``as_of`` (``cut_at``, exactly
what a full extraction for that day returns), which saves extracting them.

Targets: the same count at both sizes; incremental at least 10x fewer calls than full.

Run: ``.venv/bin/python benchmarks/api_calls.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import demo, salesforce, snapshot  # noqa: E402
from lib.settings import load as load_settings
from tests.standins.salesforce import SalesforceStandin  # noqa: E402

MONDAY = date(2026, 11, 23)
AS_OF = MONDAY - timedelta(days=1)
REPORTS_ON_MONDAY = 3


def company(
    retailers: int, applications: pd.DataFrame | None, seed: int
) -> dict[str, pd.DataFrame]:
    """Demo users and accounts for ``retailers``; the given applications spread over them."""
    tables = demo.generate(as_of=AS_OF, retailers=retailers, seed=seed)
    if applications is None:
        return tables
    # Same applications, other retailers: map each old retailer onto new ones at random
    # (seeded), application by application.
    rng = np.random.default_rng(seed)
    ids = tables["accounts"]["Id"].to_numpy()
    apps = applications.copy()
    apps["Retailer__c"] = pd.Series(ids[rng.integers(0, len(ids), len(apps))], dtype="str")
    return {**tables, "applications": apps}


def measure(tables: dict[str, pd.DataFrame], workdir: Path) -> dict[str, int]:
    """Calls of a full and of two incremental extractions for ``AS_OF``."""
    out: dict[str, int] = {}
    with SalesforceStandin(tables) as standin:
        os.environ.update(standin.env())
        settings = load_settings(env_file=None).salesforce
        full, api = salesforce.extract_tables(settings, as_of=AS_OF, full=True)
        assert api["calls"] == standin.calls
        out["full"] = api["calls"]
        for label, days in (("weekly", 7), ("daily", 1)):
            prev_as_of = AS_OF - timedelta(days=days)
            prev = {**full, "applications": salesforce.cut_at(full["applications"], prev_as_of)}
            path = snapshot.write(
                prev,
                snapshot.default_dir(workdir / label, "salesforce", prev_as_of),
                source="salesforce",
                as_of=prev_as_of,
                extra={"api": {"instance": f"127.0.0.1:{standin.port}"}},
            )
            standin.reset_counters()
            inc, api = salesforce.extract_tables(settings, as_of=AS_OF, previous=path)
            assert api["refresh"] == "incremental" and api["calls"] == standin.calls
            for name in full:  # an incremental refresh must give the full refresh's data
                pd.testing.assert_frame_equal(inc[name], full[name], obj=name)
            out[label] = api["calls"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 1500])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    rows = []
    applications = None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="api-calls-") as tmp:
        for size in args.sizes:
            tables = company(size, applications, args.seed)
            applications = tables["applications"] if applications is None else applications
            calls = measure(tables, Path(tmp) / str(size))
            rows.append((size, len(tables["applications"]), calls))

    print(
        f"Salesforce API calls, Monday {MONDAY} (as_of {AS_OF}): one extraction shared by "
        f"the {REPORTS_ON_MONDAY} weekly reports; pages of {salesforce.BATCH_SIZE} records"
    )
    header = ("retailers", "applications", "full", "incr. weekly", "incr. daily", "full/weekly")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in header) + "|")
    for size, n_apps, c in rows:
        cells = (
            f"{size:,}",
            f"{n_apps:,}",
            str(c["full"]),
            str(c["weekly"]),
            str(c["daily"]),
            f"{c['full'] / c['weekly']:.1f}x",
        )
        print(
            "| "
            + " | ".join(cell.rjust(len(h)) for cell, h in zip(cells, header, strict=True))
            + " |"
        )
    same = len({tuple(sorted(c.items())) for *_, c in rows}) == 1
    tenfold = all(c["full"] >= 10 * c["weekly"] for *_, c in rows)
    print(f"same count at every size: {'yes' if same else 'NO'}")
    print(f"incremental >= 10x fewer calls than full: {'yes' if tenfold else 'NO'}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0 if same and tenfold else 1


if __name__ == "__main__":
    sys.exit(main())
