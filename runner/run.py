"""One typed entry point for a run: a frozen :class:`RunSpec` in, a :class:`RunResult` out.

The CLI, cron and the admin dashboard's test send all build a ``RunSpec``, so their
options never drift. A run: resolve ``as_of`` → get the snapshot (one extraction per
source and day, shared by every report) → fan out over the targets → execute and render
each → deliver → write ``run.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock

from lib import periods
from lib import snapshot as snapshot_mod
from lib.errors import ConfigError, InputError, NothingToDo
from lib.settings import Settings
from runner import declarations, record, targets
from runner import outputs as run_outputs
from runner.declarations import Declaration
from runner.delivery import plan as delivery
from runner.execution import execute, fanout
from runner.execution.engines import ENGINE, WARM_ENGINE, WarmEngine
from runner.execution.job import TargetJob, TargetResult
from runner.outputs import run_dir, sweep_temporaries
from runner.render import system as render_system
from runner.spec import RunResult, RunSpec
from runner.state.database import engine_for, upgrade
from runner.state.view import RunnerView, runner_view

log = logging.getLogger(__name__)

INJECTED = ("snapshot", "as_of", "target", "windows", "cache_dir")
# Injected only into notebooks that declare them, so a report that does not compare with
# its last run needs no such parameter.
OPTIONAL_INJECTED = ("previous_figures",)


def injected(declared: Collection[str]) -> tuple[str, ...]:
    """The parameters the runner sets in a notebook that declares ``declared``."""
    return (*INJECTED, *(p for p in OPTIONAL_INJECTED if p in declared))


def resolve_as_of(decl: Declaration, as_of: date | None, *, today: date | None = None) -> date:
    """The run's ``as_of``: yesterday in London, or the last month end for monthly packs."""
    today = today or datetime.now(periods.LONDON).date()
    monthly = "M" in decl.windows
    if as_of is None:
        as_of = periods.board_month_as_of(today) if monthly else periods.default_as_of()
    periods.check_as_of(as_of, today=today)
    if monthly and (as_of + timedelta(days=1)).day != 1:
        raise InputError(
            f"--as-of {as_of}: {decl.name} reports a whole month, so as_of must be a month's "
            f"last day (e.g. {periods.board_month_as_of(as_of.replace(day=1))})"
        )
    return as_of


def period_label(decl: Declaration, as_of: date) -> str:
    """How the period reads in subjects and headers."""
    if "M" in decl.windows:
        return f"{as_of:%B %Y}"
    lw = periods.windows(as_of, ("LW",))["LW"]
    return f"week ending {lw.end.day} {lw.end:%b %Y}"


def snapshot_for(
    source: str, as_of: date, settings: Settings, *, retailers: int | None = None
) -> Path:
    """The snapshot of ``source`` for ``as_of``: reused when already extracted.

    A lock makes the three Monday reports, started close together, share one extraction.
    """
    from runner import extract

    path = Path(source)
    if source not in ("demo", "salesforce"):
        if not (path / "manifest.json").is_file():
            raise InputError(f"--source {source}: not demo, salesforce or a snapshot directory")
        return path
    out = snapshot_mod.default_dir(settings.outputs, source, as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "manifest.json").is_file():
            log.info("reusing snapshot %s", out)
            return out
        kwargs = {"retailers": retailers} if retailers and source == "demo" else {}
        return extract.extract(source, as_of, out, salesforce=settings.salesforce, **kwargs)


def admin_view(settings: Settings) -> RunnerView:
    """The admin dashboard's toggles, recipients and opt-outs, as the runner honours them."""
    return runner_view(upgrade(engine_for(settings.state_url())))


def run_folder(spec: RunSpec, as_of: date) -> str:
    """``<as_of>``, or ``<as_of>-test`` for a test send (``-preview`` for an admin preview),
    so neither ever replaces a real run."""
    if spec.preview:
        return f"{as_of.isoformat()}-preview"
    return f"{as_of.isoformat()}-test" if spec.test_to else as_of.isoformat()


def declaration(spec: RunSpec, settings: Settings, view: RunnerView) -> Declaration:
    """The run's report, unless it is switched off.

    Raises:
        NothingToDo: the report is disabled (in its declaration or in admin) and this is
            neither a test send nor a preview.
    """
    decl = declarations.discover(settings.parameters_dir).get(spec.report)
    trial = spec.test_to or spec.preview
    if not trial and not (decl.enabled and view.report_enabled(decl.name)):
        raise NothingToDo(
            f"{decl.name} is disabled ({'in admin' if decl.enabled else 'enabled: false'}); nothing to do"
        )
    return decl


def prepare(
    spec: RunSpec,
    settings: Settings,
    *,
    now: datetime | None = None,
    view: RunnerView | None = None,
    decl: Declaration | None = None,
    timings: dict[str, float | None] | None = None,
    start_kernel_ahead: bool = False,
) -> tuple[Declaration, date, Path, snapshot_mod.Header, list[targets.Target], list[TargetJob]]:
    """Validate everything a run needs before any kernel starts.

    Args:
        spec: the run.
        settings: the settings tree.
        now: the time the outputs say they were generated (default now).
        view: the admin's choices (default read from the state database).
        decl: the report's declaration, when the caller has already checked it
            (:func:`declaration`).
        timings: receives ``snapshot``: the seconds spent finding and reading it.
        start_kernel_ahead: once the declaration and the notebook's parameters are
            checked, start the warm kernel that will run the targets in this process
            (when they will), so it boots while the snapshot and targets are resolved.

    Raises:
        NothingToDo: the report is disabled (in its declaration or in admin) and this is
            not a test send or a preview.
    """
    view = view or admin_view(settings)
    decl = decl or declaration(spec, settings, view)
    as_of = resolve_as_of(decl, spec.as_of)
    delivery.check_delivery(spec, settings)
    notebook = settings.notebooks_dir / decl.notebook
    declared = execute.notebook_parameters(notebook)
    optional = [p for p in OPTIONAL_INJECTED if p in declared]
    base_parameters = {**decl.parameters, **dict.fromkeys(injected(declared), "")}
    declaration_file = settings.parameters_dir / f"{decl.name}.yaml"
    execute.check_parameters(notebook, base_parameters, declaration=declaration_file)
    try:
        render_system.check(decl.outputs)
    except ConfigError as err:
        raise ConfigError(err.detail, file=declaration_file, field=err.field) from None
    if start_kernel_ahead:
        _start_kernel_ahead(spec, decl, notebook)
    t0 = time.perf_counter()
    snap_dir = snapshot_for(spec.source, as_of, settings, retailers=spec.retailers)
    # The notebooks read the applications in their kernels; planning needs only the rest.
    snap = snapshot_mod.load_header(snap_dir)
    if timings is not None:
        timings["snapshot"] = time.perf_counter() - t0
    # Admin toggles and pending approvals apply to retailer reports only (the SMT dashboard
    # covers the whole book); a test send or a preview may show a retailer not yet approved.
    trial = spec.test_to or spec.preview
    blocked = view.blocked_retailers if decl.fan_out == "retailer" and not trial else ()
    chosen = targets.fan_out(
        decl.fan_out, snap.accounts, snap.users, disabled_retailers=blocked, only=spec.targets
    )
    now = now or datetime.now(UTC)
    generated = now.astimezone(periods.LONDON).strftime("%d %b %Y %H:%M")
    period = period_label(decl, as_of)
    previous = (
        run_outputs.previous_figures(settings.outputs, decl.name, as_of)
        if "previous_figures" in optional
        else {}
    )
    jobs = [
        TargetJob(
            report=decl.name,
            notebook=notebook.resolve(),
            parameters={
                **decl.parameters,
                "snapshot": str(snap_dir.resolve()),
                "as_of": as_of.isoformat(),
                "target": t.id,
                "windows": list(decl.windows),
                "cache_dir": str((settings.outputs / "cache" / "commentary").resolve()),
                **(
                    {"previous_figures": str(previous[t.id].resolve()) if t.id in previous else ""}
                    if "previous_figures" in optional
                    else {}
                ),
            },
            target_id=t.id,
            target_name=t.name,
            target_kind=t.kind,
            as_of=as_of.isoformat(),
            outputs=settings.outputs.resolve(),
            formats=decl.outputs,
            timeout=decl.timeout,
            title=decl.title,
            period=period,
            generated_at=generated,
            company=settings.company,
            cwd=notebook.parent.resolve(),
            engine=ENGINE if spec.isolated else WARM_ENGINE,
            folder=run_folder(spec, as_of),
        )
        for t in chosen
    ]
    return decl, as_of, snap_dir, snap, chosen, jobs


def run(
    spec: RunSpec,
    settings: Settings,
    *,
    progress: Callable[[TargetResult, int, int], None] | None = None,
    process_started: float | None = None,
    keep_kernels: bool = False,
    cluster: fanout.Cluster | None = None,
) -> RunResult:
    """Run one report end to end and merge it into the day's ``run.json`` (``runner.record``).

    Args:
        spec: the run.
        settings: the settings tree.
        progress: called after each target (its result, targets done, total).
        process_started: when the calling process started (seconds since the epoch), for
            ``run.json``'s ``startup``; the CLI passes it.
        keep_kernels: leave this process's warm kernel running after the run (a
            long-lived caller that runs again: the admin's preview worker, the warm runner).
        cluster: a long-lived caller's Dask cluster for a fan-out (see
            :func:`runner.execution.fanout.run_all`).

    Raises:
        BroadsheetError: bad usage, configuration or input (exit 2) — before any kernel.
    """
    began = time.time()
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    timings: dict[str, float | None] = {
        "startup": began - process_started if process_started is not None else None
    }
    view = admin_view(settings)
    decl = declaration(spec, settings, view)
    try:
        decl, as_of, snap_dir, snap, chosen, jobs = prepare(
            spec, settings, view=view, decl=decl, timings=timings, start_kernel_ahead=True
        )
        log.info("%s %s: %d target(s) from %s", decl.name, as_of, len(jobs), snap_dir)
        # What an earlier run of the day killed mid-write (kill -9) left behind goes first.
        sweep_temporaries(
            run_dir(settings.outputs, decl.name, run_folder(spec, as_of)), recursive=True
        )
        timings["targets"] = time.perf_counter() - started - (timings.get("snapshot") or 0.0)
        fanned = time.time()
        results = fanout.run_all(
            jobs,
            workers=spec.workers,
            scheduler=spec.scheduler,
            progress=progress,
            keep_kernels=keep_kernels,
            cluster=cluster,
        )
    finally:
        if not keep_kernels:
            # A kernel started ahead for a run that stopped before its target (bad input).
            WarmEngine.discard()
    first = min((r.started for r in results if r.started is not None), default=None)
    origin = process_started if process_started is not None else began
    timings["before_first_target"] = first - origin if first is not None else None
    timings["fan_out"] = time.time() - (first if first is not None else fanned)
    result = RunResult(
        report=decl.name,
        as_of=as_of.isoformat(),
        source=spec.source,
        snapshot=str(snap_dir),
        started_at=started_at,
        duration=0.0,
        targets=results,
        api=snap.manifest.get("api"),
        commentary=_commentary_usage(results),
        spec={k: (str(v) if isinstance(v, (date, Path)) else v) for k, v in asdict(spec).items()},
        timings=timings,
    )
    delivered = time.perf_counter()
    delivery.deliver_run(
        decl, spec, settings, chosen, result, view, period=period_label(decl, as_of)
    )
    timings["deliver"] = time.perf_counter() - delivered
    result.duration = time.perf_counter() - started
    out = run_dir(settings.outputs, decl.name, run_folder(spec, as_of)) / "run.json"
    record.write(out, result.to_json(), partial=bool(spec.targets))
    return replace(result, path=str(out))


def preview(spec: RunSpec, settings: Settings) -> TargetResult:
    """Render one target of a report into ``<as_of>-preview``: nothing delivered, no
    ``run.json``, the warm kernel kept for the next preview (a long-lived caller: the admin).

    Args:
        spec: the report, its one target (none for a report without fan-out), ``as_of``
            and source; delivery options are ignored.
        settings: the settings tree.

    Raises:
        BroadsheetError: bad usage, configuration or input, as for :func:`run`.
    """
    spec = replace(spec, preview=True, deliver="none", test_to=None, workers=1, scheduler=None)
    view = admin_view(settings)
    decl = declaration(spec, settings, view)
    if decl.fan_out != "none" and len(set(spec.targets)) != 1:
        raise InputError(f"a preview of {decl.name} shows one {decl.fan_out}: give its id")
    jobs = prepare(spec, settings, view=view, decl=decl, start_kernel_ahead=True)[-1]
    (result,) = fanout.run_all(jobs, workers=1, keep_kernels=True)
    return result


def _start_kernel_ahead(spec: RunSpec, decl: Declaration, notebook: Path) -> None:
    """Start the warm kernel while the snapshot and targets are resolved, when the run's
    targets will execute in this process (one target, or one worker)."""
    if spec.isolated:
        return  # a fresh kernel per target, started by the target
    # 0: every target of the fan-out, not known before the snapshot is read.
    expected = 1 if decl.fan_out == "none" else len(set(spec.targets))
    if not fanout.in_process(expected, workers=spec.workers, scheduler=spec.scheduler):
        return
    WarmEngine.prestart(
        execute.KERNEL, notebook.parent.resolve(), preload=execute.notebook_imports(notebook)
    )


def _commentary_usage(results: list[TargetResult]) -> dict[str, Any]:
    total: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "requests": 0, "cache_hits": 0}
    sources: dict[str, int] = {}
    for r in results:
        c = r.commentary or {}
        for key, value in (c.get("usage") or {}).items():
            if isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
        if c.get("source"):
            sources[c["source"]] = sources.get(c["source"], 0) + 1
    total["sources"] = sources
    return total
