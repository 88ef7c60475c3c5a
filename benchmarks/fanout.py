"""Benchmark: a fan-out of the retailer weekly report, four ways, in one run.

For the Live retailers of a demo book of N retailers (default 200), extracted once to a
temporary snapshot directory:

a. **naive loop**: per target, the ``papermill`` CLI then ``jupyter nbconvert --to html
   --no-input``, as subprocesses, as a cron loop would. Timed on a sample of targets
   (``--sample``, default 10) and extrapolated to all of them; the table says so.
b. **ours, one worker**: ``runner.run.run`` with ``workers=1``, ``deliver="none"`` (warm
   kernel, in process).
c. **ours, all cores**: the same with ``workers=os.cpu_count()`` (a Dask LocalCluster).
d. **direct-render limit**: the ``lib/`` calls of ``notebooks/retailer_weekly.ipynb``
   made directly in one process, their display outputs put into an in-memory notebook
   and rendered by the same ``runner.render.formats`` formats (the same nbconvert templates and
   Jinja macros), ``figures.json`` written: everything but the kernel and papermill.

Each way runs in its own subprocess, so peak memory is that of its process tree (the sum
of the RSS of the process and its descendants: kernels, Dask workers, papermill), sampled
every half second. Memory per worker is the RSS of a worker process plus its kernel,
once the run has done 10 targets per worker (imports done, caches warm) and after the
last target (before the kernels stop); it should not grow by more than 10 %. The output of (d) is checked against (b)'s for a few
targets, so the limit measures the same work.

Run::

    .venv/bin/python benchmarks/fanout.py [--retailers N] [--sample K] [--workers W]

Not a test: it prints a table (targets of issue 11: a/c >= 10, c/d <= 1.3, memory flat)
and exits 0, or 1 if a way failed a target or (d)'s outputs differ from (b)'s.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 11, 22)  # a Sunday: the demo data's and the tests' as_of
REPORT = "retailer_weekly"
START_MARK = 10  # "start" memory: after this many targets per worker (imports, caches warm)
PAGE = os.sysconf("SC_PAGE_SIZE")
BIN = Path(sys.executable).parent
# Deterministic fallback commentary, no network, our own outputs and declarations.
SCRUBBED = ("ANTHROPIC_", "BROADSHEET_", "SALESFORCE_", "GRAPH_", "SMTP_")


# ------------------------------------------------------------------------ memory


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc; Linux)."""
    kids, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def rss(pid: int) -> int:
    """Resident set size of one process in bytes (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def workers_rss() -> dict[int, int]:
    """Worker pid -> RSS of the worker and its kernel, for each kernel under this process."""
    out: dict[int, int] = {}
    for pid in tree(os.getpid()):
        if "ipykernel_launcher" in _cmdline(pid):
            stat = Path(f"/proc/{pid}/stat").read_text()
            worker = int(stat.rsplit(")", 1)[1].split()[1])
            out[worker] = out.get(worker, 0) + rss(worker) + rss(pid)
    return out


class PeakSampler:
    """The largest summed RSS of a process tree, sampled on a thread."""

    def __init__(self, root: int, every: float = 0.5) -> None:
        self.root, self.every, self.peak = root, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(rss(p) for p in tree(self.root)))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------------ phases


def _settings(outputs: Path):
    from lib.settings import Settings

    return Settings(outputs=outputs)


def _jobs(snapshot: Path, outputs: Path) -> list:
    from runner.run import prepare
    from runner.spec import RunSpec

    spec = RunSpec(report=REPORT, as_of=AS_OF, source=str(snapshot), deliver="none")
    return prepare(spec, _settings(outputs))[-1]


def naive_pair(notebook: Path, parameters: dict, cwd: Path, out: Path, env: dict) -> None:
    """The naive way for one target: the papermill CLI, then nbconvert to HTML without input."""
    subprocess.run(
        [
            str(BIN / "papermill"),
            str(notebook),
            str(out / "notebook.ipynb"),
            "-y",
            json.dumps(parameters),  # JSON is YAML
            "--cwd",
            str(cwd),
            "--kernel",
            "python3",
            "--no-progress-bar",
            "--log-level",
            "WARNING",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [
            str(BIN / "jupyter"),
            "nbconvert",
            "--to",
            "html",
            "--no-input",
            str(out / "notebook.ipynb"),
            "--output-dir",
            str(out),
            "--log-level",
            "WARN",
        ],
        check=True,
        env=env,
        capture_output=True,
    )


def phase_naive(snapshot: Path, outputs: Path, sample: int, **_: Any) -> dict[str, Any]:
    """(a): papermill CLI + nbconvert CLI per target, on a sample spread over the targets."""
    jobs = _jobs(snapshot, outputs)
    step = max(1, len(jobs) // sample)
    chosen = jobs[::step][:sample]
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    times = []
    for job in chosen:
        out = outputs / "naive" / job.target_id
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        naive_pair(job.notebook, job.parameters, job.cwd, out, env)
        times.append(time.perf_counter() - t0)
    per_target = mean(times)
    return {
        "targets": len(jobs),
        "sampled": len(chosen),
        "ok": len(chosen),
        "per_target": per_target,
        "total": per_target * len(jobs),
        "timings": {"first": times[0], "min": min(times), "max": max(times)},
    }


def phase_ours(snapshot: Path, outputs: Path, workers: int, **_: Any) -> dict[str, Any]:
    """(b) and (c): the runner, warm kernels, no delivery."""
    from runner.run import run
    from runner.spec import RunSpec

    marks: dict[str, dict[int, int]] = {}

    def progress(result: Any, done: int, total: int) -> None:
        # Called as each target completes, before the kernels stop at the end of the run.
        if done == min(START_MARK * workers, total):
            marks["start"] = workers_rss()
        if done == total:
            marks["end"] = workers_rss()

    spec = RunSpec(
        report=REPORT, as_of=AS_OF, source=str(snapshot), deliver="none", workers=workers
    )
    t0 = time.perf_counter()
    result = run(spec, _settings(outputs), progress=progress)
    total = time.perf_counter() - t0
    ok = [t for t in result.targets if t.status == "ok"]
    keys = ("execute", "kernel", "render", "write")
    return {
        "targets": len(result.targets),
        "ok": len(ok),
        "failed": [t.error for t in result.targets if t.status != "ok"][:3],
        "per_target": total / len(result.targets),
        "total": total,
        # Medians are warm targets; each worker's first one (the slowest) starts its
        # kernel, imports and loads the snapshot.
        "timings": {k: median(t.timings.get(k, 0.0) for t in ok) for k in keys}
        | {"first": max((t.duration for t in ok), default=0.0)},
        "memory": marks,
    }


def _direct_outputs(p: Mapping[str, Any]) -> list[list[tuple[str, Any]]]:
    """What each code cell of ``notebooks/retailer_weekly.ipynb`` displays, called directly.

    The same calls as the notebook's cells, in order, with the parameters the runner
    injects; ``("result", obj)`` is a cell's last expression, ``("display", bundle)`` a
    raw display. Keep in step with the notebook (the output check below catches drift).
    """
    from lib import blocks, charts, commentary, report
    from lib import figures as published

    snap, day = report.open_snapshot(p["snapshot"], p["as_of"])
    retailer = report.retailer_target(snap, p["target"])
    mine = report.scope(snap, retailer)
    windows = p["windows"]
    fig = report.figures(
        "retailer_weekly",
        mine,
        retailer,
        day,
        windows,
        fiscal_year_start_month=p["fiscal_year_start_month"],
        commission_rates=p["commission_rates"],
    )
    fig["since_last"] = report.since_last(fig, published.load(p.get("previous_figures", "")), mine)
    limits = blocks.thresholds(p["thresholds"])
    m = fig["metrics"]
    sections = [
        commentary.Section(
            "summary",
            "Last week",
            commentary.facts_from_figures(
                m,
                ["submissions", "approval_rate", "paid_value", "signed", "submitted_value"],
                "LW",
                "LW_prev",
                limits,
            ),
        ),
        commentary.Section(
            "pipeline",
            "Pipeline",
            commentary.facts_from_figures(
                m,
                [
                    "pipeline_ans_count",
                    "pipeline_ans_value",
                    "pipeline_snp_count",
                    "pipeline_snp_value",
                ],
                "LW",
                "LW_prev",
                limits,
            ),
            notes=report.pipeline_notes(fig["pipeline"]),
        ),
    ]
    fig["commentary"] = commentary.write(
        sections,
        "retailer",
        subject=retailer.name,
        settings=commentary.Settings.from_env(p["cache_dir"] or None),
    )
    # Outside a kernel publish() prints what it would display; the kernel serialises it.
    with contextlib.redirect_stdout(io.StringIO()):
        fig = published.publish(fig)
    return [
        [],  # parameters
        [],  # imports
        [],  # load, scope, figures
        [("display", {published.FIGURES_MIME: fig, "text/plain": "<figures published>"})],
        [
            (
                "result",
                blocks.kpi_bar(
                    m,
                    [
                        ("submissions", "LW"),
                        ("approval_rate", "LW"),
                        ("paid_value", "LW"),
                        ("pipeline_ans_count", "as_at"),
                        ("pipeline_snp_count", "as_at"),
                    ],
                    limits=limits,
                    as_of=fig["as_of"],
                ),
            )
        ],
        [("result", blocks.commentary(fig["commentary"], "summary"))],
        [("result", blocks.since_last(fig["since_last"], fig["pipeline"], as_of=fig["as_of"]))],
        [
            (
                "result",
                blocks.period_table(
                    m,
                    [
                        "submissions",
                        "submitted_value",
                        "approvals",
                        "approval_rate",
                        "signed",
                        "paid",
                        "paid_value",
                        "avg_loan",
                        "cancelled",
                    ],
                    windows,
                    limits=limits,
                ),
            )
        ],
        [
            (
                "result",
                charts.grouped_bar(
                    "Paid value by period",
                    *report.period_series(m, "paid_value", windows),
                    unit="money",
                ),
            )
        ],
        [
            (
                "result",
                charts.grouped_bar(
                    "Submissions by period",
                    *report.period_series(m, "submissions", windows),
                    unit="count",
                ),
            )
        ],
        [("result", blocks.lender_split(m, "LW", limits=limits))],
        [("result", blocks.lender_split(m, "MTD", limits=limits))],
        [("result", blocks.commentary(fig["commentary"], "pipeline"))],
        [("result", blocks.pipeline_view(fig["pipeline"]))],
    ]


def phase_direct(snapshot: Path, outputs: Path, **_: Any) -> dict[str, Any]:
    """(d): the notebook's lib/ calls and the runner's render, one process, no kernel."""
    import nbformat
    from IPython.core.formatters import DisplayFormatter

    from lib import figures as figures_mod
    from runner.outputs import target_dir, write_json
    from runner.render import formats as render

    t0 = time.perf_counter()
    jobs = _jobs(snapshot, outputs / "direct")
    source = nbformat.read(jobs[0].notebook, as_version=4)
    # Papermill's cell after the parameters cell: it shifts the cell indices that name
    # the email's images, so the direct notebook has it too.
    at = next(i for i, c in enumerate(source.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("# Parameters")
    injected.metadata.tags = ["injected-parameters"]
    source.cells.insert(at + 1, injected)
    formatter = DisplayFormatter()  # what a kernel's displayhook and display() use
    registry = render.formats()
    marks: dict[str, dict[int, int]] = {}
    lib_s, render_s = [], []
    for done, job in enumerate(jobs, 1):
        t1 = time.perf_counter()
        cells = iter(_direct_outputs(job.parameters))
        nb = nbformat.from_dict(source)
        count = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            count += 1
            cell.execution_count = count
            cell.outputs = []
            if "injected-parameters" in cell.metadata.get("tags", []):
                continue
            for kind, obj in next(cells):
                if kind == "display":
                    out = nbformat.v4.new_output("display_data", data=obj, metadata={})
                else:
                    data, meta = formatter.format(obj)
                    out = nbformat.v4.new_output(
                        "execute_result", data=data, metadata=meta, execution_count=count
                    )
                cell.outputs.append(out)
        if next(cells, None) is not None:
            raise SystemExit("notebooks/retailer_weekly.ipynb changed: update _direct_outputs")
        t2 = time.perf_counter()
        # As runner.execution.job.run_target renders an executed notebook.
        out_dir = target_dir(job.outputs, job.report, job.folder or job.as_of, job.target_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        ctx = job.render_context(out_dir)
        for name in job.formats:
            registry.get(name).render(nb, ctx)
        write_json(out_dir / "figures.json", figures_mod.read(nb))
        lib_s.append(t2 - t1)
        render_s.append(time.perf_counter() - t2)
        if done == 1:
            # As a warm kernel does after its first target (runner/engines.py): the limit
            # should not pay for collecting a heap of modules and a cached snapshot.
            gc.collect()
            gc.freeze()
        if done == min(START_MARK, len(jobs)):
            marks["start"] = {os.getpid(): rss(os.getpid())}
    marks["end"] = {os.getpid(): rss(os.getpid())}
    total = time.perf_counter() - t0
    return {
        "targets": len(jobs),
        "ok": len(jobs),
        "per_target": total / len(jobs),
        "total": total,
        "timings": {"lib": median(lib_s), "render": median(render_s)}
        | {"first": lib_s[0] + render_s[0]},
        "memory": marks,
    }


PHASES: dict[str, Callable[..., dict[str, Any]]] = {
    "naive": phase_naive,
    "ours": phase_ours,
    "direct": phase_direct,
}


# ------------------------------------------------------------------------ driver


def run_phase(name: str, args: argparse.Namespace, outputs: Path, **extra: Any) -> dict[str, Any]:
    """One way in a subprocess of its own; its result, wall time and peak tree RSS."""
    result_file = outputs / f"{name}.json"
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--snapshot",
        str(args.snapshot),
        "--outputs",
        str(outputs),
        "--result",
        str(result_file),
        "--sample",
        str(args.sample),
        "--workers",
        str(extra.get("workers", 1)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with PeakSampler(proc.pid) as sampler:
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-4000:])
        raise SystemExit(f"phase {name} failed (exit {proc.returncode})")
    result = json.loads(result_file.read_text())
    return result | {"wall": wall, "peak": sampler.peak}


def _normalised(path: Path) -> bytes:
    # Two runs of one target differ only in the "generated" time and the random id of
    # papermill's injected-parameters cell.
    data = re.sub(rb"\d{1,2} \w{3} \d{4} \d{2}:\d{2}", b"<generated>", path.read_bytes())
    return re.sub(rb'id="cell-id=[0-9a-f-]+"', b'id="cell-id"', data)


def compare(ours: Path, direct: Path, targets: int = 3) -> list[str]:
    """Files of (d) that differ from (b)'s for the first ``targets`` targets."""
    differ = []
    for target in sorted(p.name for p in ours.iterdir() if p.is_dir())[:targets]:
        for file in sorted((ours / target).iterdir()):
            if file.name == "notebook.ipynb":
                continue
            other = direct / target / file.name
            if not other.exists() or _normalised(file) != _normalised(other):
                differ.append(f"{target}/{file.name}")
    return differ


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def _flat(memory: Mapping[str, Mapping[str, int]]) -> tuple[str, float | None]:
    start, end = memory.get("start") or {}, memory.get("end") or {}
    pairs = [(start[w], end[w]) for w in start if w in end and start[w]]
    if not pairs:
        return "–", None
    growth = max(e / s - 1 for s, e in pairs)
    text = ", ".join(f"{_mb(s)}→{_mb(e)}" for s, e in pairs)
    return f"{text} ({growth:+.1%})", growth


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, differ: list[str]) -> int:
    """Print the table and the verdicts; the exit status."""
    a, b, c, d = (results.get(k) for k in "abcd")
    rows = [
        ("a", "naive loop (papermill + nbconvert CLI)", a),
        ("b", "ours, 1 worker (warm kernel)", b),
        ("c", f"ours, {args.workers} workers (warm kernels)", c),
        ("d", "direct-render limit (no notebook)", d),
    ]
    print(
        f"\nretailer_weekly over a demo book of {args.retailers} retailers "
        f"({(b or c or d or a)['targets']} Live retailers = targets), as_of {AS_OF}, "
        f"{os.cpu_count()} cores\n"
    )
    head = (
        f"{'':2}{'way':44}{'s/target':>9}{'total s':>9}{'peak MB':>9}  "
        f"memory per worker MB, after {START_MARK} targets each→end (growth)"
    )
    print(head)
    print("-" * len(head))
    for key, label, r in rows:
        if r is None:
            continue
        mem, _ = _flat(r.get("memory", {}))
        total = f"{r['total']:.1f}" + ("*" if key == "a" else "")
        print(f"{key:2}{label:44}{r['per_target']:>9.3f}{total:>9}{_mb(r['peak']):>9}  {mem}")
    if a:
        print(
            f"\n* (a) timed on {a['sampled']} targets spread over the run (first "
            f"{a['timings']['first']:.1f} s, min {a['timings']['min']:.1f} s, max "
            f"{a['timings']['max']:.1f} s) and extrapolated to {a['targets']}."
        )
    status = 0
    print()
    if a and c:
        ratio = a["per_target"] / c["per_target"]
        print(f"a/c = {ratio:5.1f}   (target >= 10)   {'met' if ratio >= 10 else 'MISSED'}")
    if c and d:
        ratio = c["per_target"] / d["per_target"]
        print(f"c/d = {ratio:5.2f}   (target <= 1.3)  {'met' if ratio <= 1.3 else 'MISSED'}")
    growths = [g for r in (b, c) if r for _, g in [_flat(r.get("memory", {}))] if g is not None]
    if growths:
        worst = max(growths)
        print(
            f"memory growth per worker, worst {worst:+.1%} (target <= +10%)   "
            f"{'met' if worst <= 0.10 else 'MISSED'}"
        )
    print("\nwhere a target's time goes (medians, i.e. warm targets):")
    for key, r in (("b", b), ("c", c)):
        if r:
            t = r["timings"]
            print(
                f"  ({key}) execute {t['execute']:.3f} s (of which outside cells "
                f"{t['kernel']:.3f} s), render {t['render']:.3f} s, write {t['write']:.3f} s; "
                f"slowest target {t['first']:.1f} s (a worker's first: kernel start, imports, "
                "snapshot load)"
            )
    if d:
        t = d["timings"]
        print(
            f"  (d) lib calls and display formatting {t['lib']:.3f} s, render {t['render']:.3f} s;"
            f" first target {t['first']:.1f} s (imports, snapshot load)"
        )
    for key, r in (("b", b), ("c", c)):
        if r and r["ok"] != r["targets"]:
            print(f"\n({key}) {r['targets'] - r['ok']} target(s) failed: {r['failed']}")
            status = 1
    if b and d:
        if differ:
            print(f"\n(d) differs from (b) in: {', '.join(differ)}")
            status = 1
        else:
            print(
                "\n(d) writes the same figures.json, report.html, email.html, email.txt and "
                "images as (b) (checked on 3 targets)."
            )
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retailers", type=int, default=200, help="demo book size (200)")
    parser.add_argument("--sample", type=int, default=10, help="targets timed for (a) (10)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="for (c)")
    parser.add_argument("--ways", default="abcd", help="which ways to run (abcd)")
    parser.add_argument("--keep", type=Path, help="keep snapshot and outputs in this directory")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:  # inside a phase's subprocess
        result = PHASES[args.phase](
            args.snapshot, args.outputs, sample=args.sample, workers=args.workers
        )
        args.result.write_text(json.dumps(result))
        return 0

    from lib import demo, snapshot

    work = args.keep or Path(tempfile.mkdtemp(prefix="broadsheet-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(
            f"extracting a demo snapshot of {args.retailers} retailers to {work}", file=sys.stderr
        )
        args.snapshot = snapshot.write(
            demo.generate(as_of=AS_OF, retailers=args.retailers),
            work / "snapshot" / AS_OF.isoformat(),
            source="demo",
            as_of=AS_OF,
        )
        results: dict[str, dict[str, Any]] = {}
        plan = {
            "a": ("naive", {}),
            "b": ("ours", {"workers": 1}),
            "c": ("ours", {"workers": args.workers}),
            "d": ("direct", {}),
        }
        for key in args.ways:
            name, extra = plan[key]
            outputs = work / f"outputs-{key}"
            outputs.mkdir(exist_ok=True)
            started = datetime.now(UTC).strftime("%H:%M:%S")
            print(f"{started} ({key}) {name} {extra or ''}", file=sys.stderr)
            results[key] = run_phase(name, args, outputs, **extra)
            print(f"    done in {results[key]['wall']:.1f} s", file=sys.stderr)
        differ: list[str] = []
        if "b" in results and "d" in results:
            run_b = work / "outputs-b" / REPORT / AS_OF.isoformat()
            run_d = work / "outputs-d" / "direct" / REPORT / AS_OF.isoformat()
            differ = compare(run_b, run_d)
        return report(results, args, differ)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
