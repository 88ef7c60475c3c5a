"""Benchmark: the runs people wait for. One target, 16 targets and the admin's previews,
against the naive ``papermill`` + ``jupyter nbconvert --to html --no-input`` pair.

On a demo book (``--retailers``, default 150) extracted once to a temporary directory:

1. **one target**: ``broadsheet run retailer_weekly --target X --deliver none`` as a
   process (the real command), against the naive pair for the same target, each run
   ``--repeat`` times, alternating, medians compared (target: ours <= 0.4x naive). Two
   ways of ours: **in its own process** (``BROADSHEET_WARM=off``, what cron does: imports,
   settings, database check, snapshot, kernel, render) and **handed to a warm runner**
   (``BROADSHEET_WARM=on``, what a run typed at a terminal does: ``runner/resident.py``),
   the runner started beforehand by ``broadsheet warm`` and timed on other targets than
   the one it warmed up on. The first run through a runner that is not up yet is shown too.
2. **16 targets**: ``broadsheet run`` with 16 ``--target``, against the naive loop over
   the same 16, timed on ``--naive-sample`` of them and extrapolated (target: >= 10x).
   Ours in its own process (a Dask cluster of one worker per core started for the run),
   and through the warm runner once its cluster is up (a first fan-out of 16 other
   targets starts it; shown too).
3. **admin preview**: the admin's warm worker (``admin/worker.py``) previews one retailer,
   then another (target: second <= 0.25x first).

Also printed: ``run.json``'s ``before_first_target`` and the load average before and after
(the machine is shared: ratios are measured within one run, on the same machine).

Run::

    .venv/bin/python benchmarks/startup.py [--retailers N] [--repeat R] [--naive-sample K]

Not a test: it prints a table and exits 0, or 1 if a run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 11, 22)
REPORT = "retailer_weekly"
BIN = Path(sys.executable).parent

from benchmarks.fanout import naive_pair as run_naive_pair  # noqa: E402

SCRUBBED = ("ANTHROPIC_", "BROADSHEET_", "SALESFORCE_", "GRAPH_", "SMTP_")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


WARM_TMP = Path(tempfile.mkdtemp(prefix="bw"))  # the warm runner's socket: a short path


def environment(outputs: Path, *, warm: bool = False) -> dict[str, str]:
    """No credentials (fallback commentary, no network); this benchmark's outputs; the warm
    runner on or off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    return env | {
        "BROADSHEET_OUTPUTS": str(outputs),
        "BROADSHEET_WARM": "on" if warm else "off",
        "TMPDIR": str(WARM_TMP),
    }


def warm_command(outputs: Path, *args: str) -> str:
    """``broadsheet warm ARGS`` with the benchmark's settings."""
    proc = subprocess.run(
        [str(BIN / "broadsheet"), "warm", *args],
        env=environment(outputs, warm=True),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"broadsheet warm {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout.strip()


def live_targets(snapshot_dir: Path, n: int) -> list[str]:
    """``n`` Live retailers spread over the book (by name, as the fan-out orders them)."""
    from lib import snapshot

    accounts = snapshot.load_header(snapshot_dir).accounts
    live = accounts[accounts["Retailer_Status__c"] == "Live"].sort_values(["Name", "Id"])
    ids = list(live["Id"])
    step = max(1, len(ids) // n)
    return ids[::step][:n]


def ours(
    snapshot_dir: Path, outputs: Path, targets: list[str], *, warm: bool = False
) -> tuple[float, dict[str, Any]]:
    """``broadsheet run`` as a process: wall seconds and its run.json."""
    args = [str(BIN / "broadsheet"), "run", REPORT, "--as-of", AS_OF.isoformat()]
    args += ["--source", str(snapshot_dir), "--deliver", "none"]
    for t in targets:
        args += ["--target", t]
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=environment(outputs, warm=warm), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"broadsheet run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads((outputs / REPORT / AS_OF.isoformat() / "run.json").read_text())
    return wall, summary


def naive_pair(snapshot_dir: Path, outputs: Path, target: str, parameters: dict) -> float:
    """The papermill CLI, then nbconvert to HTML without input: wall seconds."""
    out = outputs / "naive" / target
    out.mkdir(parents=True, exist_ok=True)
    env = environment(outputs)
    notebook = ROOT / "notebooks" / f"{REPORT}.ipynb"
    t0 = time.perf_counter()
    run_naive_pair(notebook, parameters | {"target": target}, notebook.parent, out, env)
    return time.perf_counter() - t0


def parameters(snapshot_dir: Path, outputs: Path) -> dict[str, Any]:
    """What the runner injects, but the target (the same for every target of a run)."""
    from lib.settings import Settings
    from runner.run import prepare
    from runner.spec import RunSpec

    spec = RunSpec(report=REPORT, as_of=AS_OF, source=str(snapshot_dir), deliver="none")
    job = prepare(spec, Settings(outputs=outputs / "plan"))[-1][0]
    return {k: v for k, v in job.parameters.items() if k != "target"}


def previews(snapshot_dir: Path, outputs: Path, targets: list[str]) -> list[dict[str, Any]]:
    """Two previews of different retailers through the admin's warm worker."""
    from admin.worker import WarmWorker
    from lib.settings import Settings
    from runner.state.database import engine_for, upgrade

    settings = Settings(outputs=outputs)
    engine = upgrade(engine_for(settings.state_url()))
    worker = WarmWorker(settings, engine)
    out = []
    try:
        for target in targets:
            request = {
                "kind": "preview",
                "report": REPORT,
                "target": target,
                "as_of": AS_OF.isoformat(),
                "source": str(snapshot_dir),
            }
            t0 = time.perf_counter()
            reply = worker.call(request)
            wall = time.perf_counter() - t0
            if not reply["ok"] or reply["result"]["target"]["status"] != "ok":
                raise SystemExit(f"preview failed: {reply}")
            out.append({"wall": wall, "reused": reply["result"]["kernel"]["reused"]})
    finally:
        worker.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retailers", type=int, default=150, help="demo book size (150)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each one-target way (3)")
    parser.add_argument("--targets", type=int, default=16, help="targets of the small run (16)")
    parser.add_argument("--naive-sample", type=int, default=4, help="of those, naive-timed (4)")
    parser.add_argument("--ways", default="123", help="which parts to run (123)")
    args = parser.parse_args(argv)

    from lib import demo, snapshot

    work = Path(tempfile.mkdtemp(prefix="broadsheet-startup-"))
    try:
        snapshot_dir = snapshot.write(
            demo.generate(as_of=AS_OF, retailers=args.retailers),
            work / "snapshot" / AS_OF.isoformat(),
            source="demo",
            as_of=AS_OF,
        )
        targets = live_targets(snapshot_dir, args.targets)
        injected = parameters(snapshot_dir, work)
        rows: list[tuple[str, str, str, str]] = []
        verdicts: list[str] = []
        print(f"load average before: {load()} ({os.cpu_count()} cores)", file=sys.stderr)

        warm_out = work / "warm"  # one outputs folder: one configuration, one runner
        pool = live_targets(snapshot_dir, 2 * args.targets + args.repeat + 2)
        targets, spare = pool[: args.targets], pool[args.targets :]

        def verdict(label: str, ratio: float, target: float, *, at_most: bool) -> str:
            ok = ratio <= target if at_most else ratio >= target
            sign = "<=" if at_most else ">="
            return f"{label} = {ratio:.2f} (target {sign} {target:g})   {'met' if ok else 'MISSED'}"

        if "1" in args.ways:
            cold, pair, before = [], [], []
            for i in range(args.repeat):
                wall, summary = ours(snapshot_dir, work / f"one-{i}", targets[:1])
                cold.append(wall)
                before.append(summary["timings"]["before_first_target"])
                pair.append(naive_pair(snapshot_dir, work / f"naive-one-{i}", targets[0], injected))
                print(
                    f"  one target #{i + 1}: ours {wall:.1f} s, naive {pair[-1]:.1f} s",
                    file=sys.stderr,
                )
            # A runner that is not up yet: the first run starts it (and waits for it).
            first, _ = ours(snapshot_dir, warm_out, spare[:1], warm=True)
            warm_command(warm_out, "--stop")
            time.sleep(2)
            print(f"  {warm_command(warm_out)}", file=sys.stderr)  # up again, ahead of runs
            ours(snapshot_dir, warm_out, spare[1:2], warm=True)  # its kernel's first target
            warm, warm_before = [], []
            for i in range(args.repeat):
                wall, summary = ours(snapshot_dir, warm_out, [spare[2 + i]], warm=True)
                warm.append(wall)
                warm_before.append(summary["timings"]["before_first_target"])
            print(f"  warm runs: {', '.join(f'{w:.2f}' for w in warm)} s", file=sys.stderr)
            c, w, b = statistics.median(cold), statistics.median(warm), statistics.median(pair)
            rows += [
                (
                    "1 target",
                    "broadsheet run, its own process",
                    f"{c:.1f}",
                    f"{statistics.median(before):.1f}",
                ),
                (
                    "1 target",
                    "broadsheet run, warm runner",
                    f"{w:.1f}",
                    f"{statistics.median(warm_before):.2f}",
                ),
                ("1 target", "broadsheet run, warm runner not up yet", f"{first:.1f}", ""),
                ("1 target", "papermill + nbconvert", f"{b:.1f}", ""),
            ]
            verdicts.append(
                verdict("one target, warm runner: ours/naive", w / b, 0.4, at_most=True)
            )
            verdicts.append(
                f"one target, its own process: ours/naive = {c / b:.2f} (cron's way; no target)"
            )

        if "2" in args.ways:
            wall, summary = ours(snapshot_dir, work / "many", targets)
            first16, _ = ours(snapshot_dir, warm_out, spare[: len(targets)], warm=True)
            warm16, warm_summary = ours(snapshot_dir, warm_out, targets, warm=True)
            sample = targets[:: max(1, len(targets) // args.naive_sample)][: args.naive_sample]
            pair = [naive_pair(snapshot_dir, work / "naive-many", t, injected) for t in sample]
            loop = statistics.mean(pair) * len(targets)
            n = len(targets)
            rows += [
                (
                    f"{n} targets",
                    f"broadsheet run ×{n}, its own process",
                    f"{wall:.1f}",
                    f"{summary['timings']['before_first_target']:.1f}",
                ),
                (
                    f"{n} targets",
                    f"broadsheet run ×{n}, warm runner",
                    f"{warm16:.1f}",
                    f"{warm_summary['timings']['before_first_target']:.1f}",
                ),
                (
                    f"{n} targets",
                    "warm runner's first fan-out (starts cluster)",
                    f"{first16:.1f}",
                    "",
                ),
                (
                    f"{n} targets",
                    f"naive loop ({len(sample)} timed, ×{n / len(sample):g})",
                    f"{loop:.1f}",
                    "",
                ),
            ]
            verdicts.append(
                verdict(f"{n} targets, warm runner: naive/ours", loop / warm16, 10, at_most=False)
            )
            verdicts.append(
                verdict(f"{n} targets, its own process: naive/ours", loop / wall, 10, at_most=False)
            )

        if "3" in args.ways:
            first, second = previews(snapshot_dir, work / "admin", targets[:2])
            rows += [
                ("preview", "admin, first (starts the worker)", f"{first['wall']:.1f}", ""),
                ("preview", "admin, second retailer (warm)", f"{second['wall']:.1f}", ""),
            ]
            ratio = second["wall"] / first["wall"]
            warm = (
                "kernel reused" if second["reused"] and not first["reused"] else "KERNEL NOT REUSED"
            )
            verdicts.append(
                f"admin preview: second/first = {ratio:.2f} (target <= 0.25, {warm})   {'met' if ratio <= 0.25 else 'MISSED'}"
            )

        print(
            f"\nretailer_weekly, demo book of {args.retailers} retailers, as_of {AS_OF}, {os.cpu_count()} cores; load average after: {load()}\n"
        )
        head = f"{'':11}{'way':46}{'wall s':>8}{'before 1st target s':>22}"
        print(head)
        print("-" * len(head))
        for what, way, wall, before in rows:
            print(f"{what:11}{way:46}{wall:>8}{before:>22}")
        print()
        for v in verdicts:
            print(v)
        return 0
    finally:
        with contextlib.suppress(SystemExit):
            warm_command(work / "warm", "--stop")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(WARM_TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
