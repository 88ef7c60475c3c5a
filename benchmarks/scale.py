"""Benchmark: a book ten times larger. The retailer weekly over a sample of targets on the
demo book and on a large one, s/target and peak memory per worker side by side.

Two demo snapshots are extracted to a temporary directory: the demo's size (150
retailers, ~116,000 applications) and ``--retailers``/``--applications`` (default 1,500
and 1,000,000 with ``--large``; a quick 300 retailers otherwise). On each,
``runner.run.run`` renders the same number of Live retailers spread over the book
(``--sample``) on a Dask cluster of ``--workers`` workers, in a subprocess of its own.

Reported per book: the steady s/target (median duration of the targets after each
worker's first: a target's cost once its kernel is warm and the snapshot loaded), each
worker's first target (kernel start, imports, snapshot load), the wall time, and the peak
RSS of a worker (worker process plus its kernel, sampled every half second). A target's
cost should follow its own data, not the book (target: large s/target <= 1.5x demo's, peak
RSS per worker < 1.5 GB).

Run::

    .venv/bin/python benchmarks/scale.py [--large] [--sample N] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.fanout import SCRUBBED, workers_rss  # noqa: E402

AS_OF = date(2026, 11, 22)
REPORT = "retailer_weekly"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class WorkerPeaks:
    """The largest RSS of each worker (with its kernel) under this process, on a thread."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.peaks = every, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker, size in workers_rss().items():
                self.peaks[worker] = max(self.peaks.get(worker, 0), size)
            self._stop.wait(self.every)

    def __enter__(self) -> WorkerPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def phase(snapshot_dir: Path, outputs: Path, sample: int, workers: int) -> dict[str, Any]:
    """Inside a subprocess: one run over ``sample`` targets; its figures."""
    from lib import snapshot
    from lib.settings import Settings
    from runner.run import run
    from runner.spec import RunSpec

    accounts = snapshot.load_header(snapshot_dir).accounts
    live = accounts[accounts["Retailer_Status__c"] == "Live"].sort_values(["Name", "Id"])
    ids = list(live["Id"])
    targets = tuple(ids[:: max(1, len(ids) // sample)][:sample])
    spec = RunSpec(
        report=REPORT,
        as_of=AS_OF,
        source=str(snapshot_dir),
        deliver="none",
        workers=workers,
        targets=targets,
    )
    t0 = time.perf_counter()
    with WorkerPeaks() as peaks:
        result = run(spec, Settings(outputs=outputs))
    wall = time.perf_counter() - t0
    ok = [t for t in result.targets if t.status == "ok"]
    # Each worker's first target pays the kernel and the snapshot: the slowest `workers`.
    by_duration = sorted(t.duration for t in ok)
    warm = by_duration[: max(1, len(by_duration) - workers)]
    return {
        "targets": len(result.targets),
        "ok": len(ok),
        "failed": [t.error for t in result.targets if t.status != "ok"][:3],
        "steady": statistics.median(warm),
        "first": by_duration[-1] if by_duration else 0.0,
        "wall": wall,
        "before_first_target": result.timings.get("before_first_target"),
        "peak_worker": max(peaks.peaks.values(), default=0),
        "applications": snapshot.load_header(snapshot_dir).manifest["row_counts"]["applications"],
    }


def measure(book: dict[str, int], work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from lib import demo, snapshot

    name = f"{book['retailers']}r"
    t0 = time.perf_counter()
    snapshot_dir = snapshot.write(
        demo.generate(as_of=AS_OF, retailers=book["retailers"], applications=book["applications"]),
        work / name / "snapshot" / AS_OF.isoformat(),
        source="demo",
        as_of=AS_OF,
    )
    print(f"  {name}: snapshot in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    result_file = work / name / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    cmd = [sys.executable, __file__, "--phase", str(snapshot_dir), str(work / name / "outputs")]
    cmd += [str(result_file), "--sample", str(args.sample), "--workers", str(args.workers)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr[-3000:]}")
    return json.loads(result_file.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="1,500 retailers, 1,000,000 apps")
    parser.add_argument("--retailers", type=int, help="large book: retailers")
    parser.add_argument("--applications", type=int, help="large book: applications")
    parser.add_argument("--sample", type=int, default=12, help="targets per book (12)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--phase", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        snapshot_dir, outputs, result_file = args.phase
        result_file.write_text(json.dumps(phase(snapshot_dir, outputs, args.sample, args.workers)))
        return 0

    large = {
        "retailers": args.retailers or (1500 if args.large else 300),
        "applications": args.applications or (1_000_000 if args.large else None),
    }
    books = [{"retailers": 150, "applications": None}, large]
    work = Path(tempfile.mkdtemp(prefix="broadsheet-scale-"))
    print(f"load average before: {load()}", file=sys.stderr)
    try:
        results = [measure(book, work, args) for book in books]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nretailer_weekly over {args.sample} Live retailers per book, {args.workers} workers, "
        f"as_of {AS_OF}; load average after: {load()}\n"
    )
    head = (
        f"{'book':34}{'s/target':>9}{'first s':>9}{'wall s':>8}{'before 1st s':>13}"
        f"{'peak MB/worker':>16}"
    )
    print(head)
    print("-" * len(head))
    for book, r in zip(books, results, strict=True):
        label = f"{book['retailers']:,} retailers, {r['applications']:,} apps"
        print(
            f"{label:34}{r['steady']:>9.2f}{r['first']:>9.1f}{r['wall']:>8.1f}"
            f"{r['before_first_target']:>13.1f}{r['peak_worker'] / 2**20:>16,.0f}"
        )
    demo_r, large_r = results
    ratio = large_r["steady"] / demo_r["steady"]
    peak = large_r["peak_worker"] / 2**30
    print(
        f"\nlarge/demo s/target = {ratio:.2f} (target <= 1.5)   {'met' if ratio <= 1.5 else 'MISSED'}"
    )
    print(
        f"peak RSS per worker = {peak:.2f} GB (target < 1.5)   {'met' if peak < 1.5 else 'MISSED'}"
    )
    failed = [r for r in results if r["ok"] != r["targets"]]
    for r in failed:
        print(f"failed targets: {r['failed']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
